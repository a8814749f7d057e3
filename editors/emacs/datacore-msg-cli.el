;;; datacore-msg-cli.el --- How datacore-msg talks to the msg program  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The datacore-messaging authors
;; SPDX-License-Identifier: MIT

;; This file is part of datacore-msg; see datacore-msg.el.

;;; Commentary:

;; Every read and every change goes through the `msg' program with `--json': the package
;; never writes an org file itself, so msg's locks, guards and governor stay the only
;; program that writes them (the person editing in Emacs is the other writer).  This file
;; holds the customization group, the one function that runs msg, and what every view
;; shares: the ID at point, ages, subjects.

;;; Code:

(require 'subr-x)
(require 'seq)

(declare-function org-get-at-bol "org-agenda" (property))
(declare-function org-entry-get "org" (pom property &optional inherit literal-nil))

(defgroup datacore-msg nil
  "Messages and tasks between people and their AI agents, kept in org files."
  :group 'applications
  :prefix "datacore-msg-"
  :link '(url-link "https://github.com/datacore-messaging"))

(defcustom datacore-msg-program "msg"
  "The msg executable: a name on variable `exec-path' or an absolute file name."
  :type 'string)

(defcustom datacore-msg-root nil
  "The Datacore root, given to msg as `--root'.
nil means msg's own default: $DATACORE_ROOT, else ~/Data."
  :type '(choice (const :tag "msg's default" nil) directory))

(defcustom datacore-msg-space nil
  "The space, given to msg as `--space'.
nil means msg's own default: messaging.default_space, else 0-personal."
  :type '(choice (const :tag "msg's default" nil) string))

(defcustom datacore-msg-agent nil
  "Whose tasks the task views and commands work on, given to msg as `--agent'.
nil means your own agent (YOU-claude)."
  :type '(choice (const :tag "Your agent" nil) string))

(define-error 'datacore-msg-error "msg failed")

(defun datacore-msg--global-args ()
  "The options every msg call gets: the root and the space, when customized."
  (append (and datacore-msg-root
               (list "--root" (expand-file-name datacore-msg-root)))
          (and datacore-msg-space (list "--space" datacore-msg-space))))

(defun datacore-msg--error-text (stderr status)
  "The message of a failed msg run: the first line of STDERR, else its exit STATUS."
  (let ((line (seq-find (lambda (l) (not (string-blank-p l)))
                        (split-string stderr "\n"))))
    (if line
        (string-trim (replace-regexp-in-string "\\`\\(msg: \\|error: \\)" "" line))
      (format "msg exited with status %s" status))))

(defun datacore-msg-run (&rest args)
  "Run msg with ARGS (after the root and space options); return its output.
Text from people (message text, reasons) goes after a \"--\" in ARGS, so
that it is never read as an option.  On failure, signal `datacore-msg-error'
with msg's own message (it names the file, the field and the fix)."
  (let ((stderr-file (make-temp-file "datacore-msg-stderr"))
        ;; msg may be started from a buffer whose directory is gone.
        (default-directory (if (file-directory-p default-directory)
                               default-directory
                             temporary-file-directory))
        (coding-system-for-read 'utf-8)
        (coding-system-for-write 'utf-8)
        (process-environment (cons "NO_COLOR=1" process-environment)))
    (unwind-protect
        (with-temp-buffer
          (let ((status
                 (condition-case err
                     (apply #'call-process datacore-msg-program nil
                            (list t stderr-file) nil
                            (append (datacore-msg--global-args) args))
                   (file-missing
                    (signal 'datacore-msg-error
                            (list (format "cannot run %s (%s); set `datacore-msg-program'"
                                          datacore-msg-program
                                          (error-message-string err))))))))
            (unless (eql status 0)
              (signal 'datacore-msg-error
                      (list (datacore-msg--error-text
                             (with-temp-buffer
                               (insert-file-contents stderr-file)
                               (buffer-string))
                             status))))
            (buffer-string)))
      (delete-file stderr-file))))

(defun datacore-msg--with-json (args)
  "ARGS with \"--json\" added before any \"--\"."
  (let ((split (seq-position args "--")))
    (if split
        (append (seq-take args split) '("--json") (seq-drop args split))
      (append args '("--json")))))

(defun datacore-msg-parse-json (text)
  "Parse TEXT, msg's JSON, into Lisp.
Objects become alists with symbol keys, arrays lists, null and false nil."
  (json-parse-string text :object-type 'alist :array-type 'list
                     :null-object nil :false-object nil))

(defun datacore-msg-json (&rest args)
  "Run msg with ARGS and `--json'; return the parsed output."
  (datacore-msg-parse-json (apply #'datacore-msg-run (datacore-msg--with-json args))))

(defun datacore-msg--agent-args ()
  "`--agent' when `datacore-msg-agent' is set."
  (and datacore-msg-agent (list "--agent" datacore-msg-agent)))

;;; What the views share

(defun datacore-msg-get (item &rest keys)
  "The value at KEYS (symbols) in ITEM, an alist from msg's JSON."
  (let ((value item))
    (dolist (key keys value)
      (setq value (cdr (assq key value))))))

(defun datacore-msg-property (item key)
  "Property KEY (a string such as \"FROM\") of ITEM, from its `properties'."
  (datacore-msg-get item 'properties (intern key)))

(defun datacore-msg-subject (item)
  "What ITEM (a message or a task, msg's JSON) is about: its first line of text.
msg gives a message's `subject' (from its body, which holds the whole text, so
older messages whose heading is only the time have one too); a task's first
line is its `title'."
  (or (datacore-msg-get item 'subject) (datacore-msg-get item 'title) ""))

(defun datacore-msg-task-p (item)
  "Whether ITEM (msg's JSON) is a task rather than a message."
  (equal (datacore-msg-get item 'kind) "task"))

(defun datacore-msg-whoami ()
  "Who you are and where your files are: `msg whoami --json'."
  (datacore-msg-json "whoami"))

(defun datacore-msg-files ()
  "Return the messaging org files of this root and space, as msg names them.
They are the inbox, the outbox and each local agent's task file."
  (let ((me (datacore-msg-whoami)))
    (append (list (datacore-msg-get me 'inbox) (datacore-msg-get me 'outbox))
            (mapcar (lambda (a) (datacore-msg-get a 'file))
                    (datacore-msg-get me 'agent_files)))))

(defun datacore-msg-parse-time (timestamp)
  "TIMESTAMP, an Org timestamp such as \"[2026-12-07 Mon 10:48]\", as a Lisp time."
  (when (and timestamp
             (string-match
              "\\([0-9]\\{4\\}\\)-\\([0-9]\\{2\\}\\)-\\([0-9]\\{2\\}\\)[^]>0-9]*\\(?:\\([0-9]\\{1,2\\}\\):\\([0-9]\\{2\\}\\)\\)?"
              timestamp))
    (let ((n (lambda (i) (if (match-string i timestamp)
                             (string-to-number (match-string i timestamp))
                           0))))
      (encode-time (list 0 (funcall n 5) (funcall n 4)
                         (funcall n 3) (funcall n 2) (funcall n 1)
                         nil -1 nil)))))

(defun datacore-msg-age (timestamp &optional now)
  "How long ago TIMESTAMP (an Org timestamp) was, shortly: now, 5m, 3h, 2d, 6w.
NOW defaults to the current time."
  (let ((time (datacore-msg-parse-time timestamp)))
    (if (not time)
        ""
      (let ((minutes (max 0 (floor (float-time (time-subtract (or now (current-time)) time))
                                   60))))
        (cond ((< minutes 1) "now")
              ((< minutes 60) (format "%dm" minutes))
              ((< minutes (* 24 60)) (format "%dh" (/ minutes 60)))
              ((< minutes (* 14 24 60)) (format "%dd" (/ minutes (* 24 60))))
              (t (format "%dw" (/ minutes (* 7 24 60)))))))))

(defun datacore-msg-id-at-point ()
  "The ID of the message or task at point, or nil.
Works in the package's views, in an org agenda, and in any org buffer (the
entry's ID property)."
  (or (get-text-property (point) 'datacore-msg-id)
      (and (derived-mode-p 'tabulated-list-mode) (tabulated-list-get-id))
      (and (derived-mode-p 'org-agenda-mode)
           (fboundp 'org-get-at-bol)
           (let ((marker (org-get-at-bol 'org-marker)))
             (and marker (marker-buffer marker)
                  (with-current-buffer (marker-buffer marker)
                    (save-excursion
                      (goto-char marker)
                      (org-entry-get nil "ID"))))))
      (and (derived-mode-p 'org-mode) (org-entry-get nil "ID"))))

(defun datacore-msg-read-id (prompt)
  "The ID at point, else one read with PROMPT."
  (or (datacore-msg-id-at-point)
      (let ((id (string-trim (read-string prompt))))
        (if (string-empty-p id) (user-error "No ID given") id))))


(provide 'datacore-msg-cli)

;;; datacore-msg-cli.el ends here
