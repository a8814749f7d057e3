;;; datacore-msg.el --- Messages and tasks with your people and AI agents, in org  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The datacore-messaging authors
;; SPDX-License-Identifier: MIT

;; Author: The datacore-messaging authors
;; Version: 0.3.0
;; Package-Requires: ((emacs "28.1"))
;; Keywords: comm, outlines
;; URL: https://github.com/datacore-messaging

;;; Commentary:

;; The person's front end of datacore-messaging: people and their AI coding agents hand
;; each other messages and tasks through org files under your Datacore root.  This package
;; reads them and changes them only through the `msg' program (`--json' for every read),
;; so msg's locks and its governor stay in charge; you can still open the files and edit
;; them by hand.
;;
;; M-x datacore-msg      the inbox (sender, subject, age, unread, thread)
;; M-x datacore-msg-tasks   your agent's tasks (state, sender, tier, age, cost)
;; M-x datacore-msg-menu    every command, as a transient menu
;;
;; Bind the prefix map to reach the commands from anywhere, and turn on the watch:
;;
;;   (require 'datacore-msg)
;;   (global-set-key (kbd "C-c m") datacore-msg-prefix-map)
;;   (datacore-msg-setup)          ; capture templates and agenda views
;;   (datacore-msg-watch-mode 1)   ; notifications, unread count, fresh buffers
;;
;; See editors/emacs/README.md and the "Emacs" chapter of docs/guide.md.

;;; Code:

(require 'org)
(require 'org-agenda)
(require 'org-capture)
(require 'transient)
(require 'datacore-msg-cli)
(require 'datacore-msg-views)
(require 'datacore-msg-notify)

(defcustom datacore-msg-capture-key "d"
  "The key of the package's group of `org-capture' templates and agenda views."
  :group 'datacore-msg
  :type 'string)

;;; Changes, all through msg

(defun datacore-msg--change (&rest args)
  "Run msg with ARGS and `--json' for a change; refresh what is shown.
Return what msg says it changed (the message or task as it is now), and say it."
  (let ((changed (apply #'datacore-msg-json args)))
    (run-hooks 'datacore-msg-after-change-hook)
    (let ((item (or (datacore-msg-get changed 'task) changed)))
      (when (datacore-msg-get item 'id)
        (message "datacore-msg: %s is %s" (datacore-msg-get item 'id)
                 (datacore-msg-get item 'state))))
    changed))

(defun datacore-msg--agent-at-point ()
  "Return the agent whose task file is at point, else `datacore-msg-agent'.
At point means an org buffer or an agenda line of agents/NAME.org."
  (let* ((buffer (cond ((derived-mode-p 'org-agenda-mode)
                        (let ((marker (org-get-at-bol 'org-marker)))
                          (and marker (marker-buffer marker))))
                       ((derived-mode-p 'org-mode) (current-buffer))))
         (file (and buffer (buffer-file-name buffer))))
    (if (and file (equal (file-name-nondirectory
                          (directory-file-name (file-name-directory file)))
                         "agents"))
        (file-name-base file)
      datacore-msg-agent)))

(defun datacore-msg--task-change (subcommand id &rest options)
  "Run `msg task SUBCOMMAND' with OPTIONS on task ID, for the agent at point."
  (let ((agent (datacore-msg--agent-at-point)))
    (apply #'datacore-msg--change "task"
           (append (and agent (list "--agent" agent))
                   (list subcommand)
                   options
                   (list "--" id)))))

(defun datacore-msg-approve (id)
  "Approve task ID (at point) that waits for you: WAITING → QUEUED."
  (interactive (list (datacore-msg-read-id "Approve task (ID): ")))
  (datacore-msg--task-change "approve" id))

(defun datacore-msg-reject (id reason)
  "Reject task ID (at point) that waits for you, for REASON: WAITING → CANCELLED."
  (interactive (list (datacore-msg-read-id "Reject task (ID): ")
                     (read-string "Reason: ")))
  (apply #'datacore-msg--task-change "reject" id
         (unless (string-blank-p reason) (list "--reason" reason))))

(defun datacore-msg-accept (id)
  "Accept the result of task ID (at point): DONE → ARCHIVED."
  (interactive (list (datacore-msg-read-id "Accept task (ID): ")))
  (datacore-msg--task-change "accept" id))

(defun datacore-msg-revise (id feedback)
  "Ask for a revision of done task ID (at point), with FEEDBACK: DONE → QUEUED."
  (interactive (list (datacore-msg-read-id "Revise task (ID): ")
                     (read-string "What to change: ")))
  (apply #'datacore-msg--task-change "revise" id
         (unless (string-blank-p feedback) (list "--feedback" feedback))))

(defun datacore-msg-cancel (id reason)
  "Cancel queued or working task ID (at point), for REASON."
  (interactive (list (datacore-msg-read-id "Cancel task (ID): ")
                     (read-string "Reason (optional): ")))
  (apply #'datacore-msg--task-change "cancel" id
         (unless (string-blank-p reason) (list "--reason" reason))))

(defun datacore-msg-mark-read (id)
  "Mark message ID (at point) read."
  (interactive (list (datacore-msg-read-id "Mark read (ID): ")))
  (datacore-msg--change "read" "--" id))

(defun datacore-msg-mark-unread (id)
  "Mark message ID (at point) unread again."
  (interactive (list (datacore-msg-read-id "Mark unread (ID): ")))
  (datacore-msg--change "unread" "--" id))

(defun datacore-msg-archive (id)
  "Archive message ID (at point)."
  (interactive (list (datacore-msg-read-id "Archive (ID): ")))
  (datacore-msg--change "archive" "--" id))

(defun datacore-msg-unarchive (id)
  "Take message ID (at point) out of the archive; it is read."
  (interactive (list (datacore-msg-read-id "Unarchive (ID): ")))
  (datacore-msg--change "unarchive" "--" id))

;;; Writing: compose, reply, broadcast, tasks

(defun datacore-msg-recipients ()
  "Return the names to send to, for completion.
Each contact, its @handles and its agent (NAME-claude), and your own agents."
  (let (names)
    (dolist (actor (datacore-msg-json "contacts"))
      (let ((id (datacore-msg-get actor 'id)))
        (push id names)
        (push (concat id "-claude") names)
        (dolist (handle (datacore-msg-get actor 'handles))
          (push handle names))))
    (dolist (agent (datacore-msg-get (datacore-msg-whoami) 'agents))
      (push agent names))
    (seq-uniq (nreverse names))))

(defun datacore-msg-read-recipients (prompt)
  "Read one or more recipients with PROMPT, completing over contacts and agents."
  (let ((names (seq-remove #'string-blank-p
                           (mapcar #'string-trim
                                   (completing-read-multiple
                                    prompt (datacore-msg-recipients))))))
    (or names (user-error "No recipient given"))))

(defvar-local datacore-msg--draft nil
  "What the compose buffer sends.
A plist with :to (a list), :reply-to and :priority, or :task t for a task for
your agent.")

(defvar datacore-msg-compose-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "C-c C-c") #'datacore-msg-compose-send)
    (define-key map (kbd "C-c C-k") #'datacore-msg-compose-cancel)
    map)
  "Keys of the compose buffer.")

(define-derived-mode datacore-msg-compose-mode text-mode "Msg-Compose"
  "Write a message or a task.
\\[datacore-msg-compose-send] sends it, \\[datacore-msg-compose-cancel] throws it away.")

(defun datacore-msg--compose-buffer (draft)
  "Open a compose buffer for DRAFT (see `datacore-msg--draft')."
  (let ((buffer (generate-new-buffer "*datacore-msg compose*")))
    (with-current-buffer buffer
      (datacore-msg-compose-mode)
      (setq datacore-msg--draft draft)
      (setq header-line-format
            (concat (if (plist-get draft :task)
                        "Task for your agent"
                      (concat "To: " (string-join (plist-get draft :to) ", ")))
                    (and (plist-get draft :reply-to)
                         (concat "  (reply to " (plist-get draft :reply-to) ")"))
                    (and (plist-get draft :priority)
                         (concat "  [" (plist-get draft :priority) "]"))
                    "   C-c C-c send, C-c C-k cancel")))
    (pop-to-buffer buffer)
    buffer))

(defun datacore-msg-send (recipients text &optional reply-to priority)
  "Send TEXT to each of RECIPIENTS (a list), in the thread of REPLY-TO if given.
PRIORITY is \"high\", \"normal\" or \"low\".  Return the recipients reached.
Stop at the first failure, saying which recipients already have it."
  (let (sent)
    (dolist (to recipients)
      (condition-case err
          (progn
            (apply #'datacore-msg-json "send"
                   (append (and reply-to (list "--reply-to" reply-to))
                           (and priority (list "--priority" priority))
                           (list "--" to text)))
            (push to sent))
        (datacore-msg-error
         (run-hooks 'datacore-msg-after-change-hook)
         (signal 'datacore-msg-error
                 (list (format "%s: %s%s" to (cadr err)
                               (if sent (format " (already sent to %s)"
                                                (string-join (reverse sent) ", "))
                                 "")))))))
    (run-hooks 'datacore-msg-after-change-hook)
    (reverse sent)))

(defun datacore-msg-submit (text)
  "Submit TEXT as a task for your agent (through its governor)."
  (let ((agent datacore-msg-agent))
    (apply #'datacore-msg--change "task"
           (append (and agent (list "--agent" agent)) (list "submit" "--" text)))))

(defun datacore-msg-compose-send ()
  "Send the compose buffer's text; keep the buffer if msg refuses it."
  (interactive)
  (let ((text (string-trim (buffer-substring-no-properties (point-min) (point-max))))
        (draft datacore-msg--draft))
    (when (string-empty-p text)
      (user-error "Nothing to send"))
    (if (plist-get draft :task)
        (datacore-msg-submit text)
      (let ((sent (condition-case err
                      (datacore-msg-send (plist-get draft :to) text
                                         (plist-get draft :reply-to)
                                         (plist-get draft :priority))
                    (datacore-msg-error
                     ;; Keep the text; address it only to whom it did not reach.
                     (let ((done (and (string-match "already sent to \\(.*\\))\\'" (cadr err))
                                      (split-string (match-string 1 (cadr err)) ", "))))
                       (setq datacore-msg--draft
                             (plist-put draft :to (seq-difference (plist-get draft :to) done))))
                     (signal (car err) (cdr err))))))
        (message "Sent to %s" (string-join sent ", "))))
    (set-buffer-modified-p nil)
    (quit-window t)))

(defun datacore-msg-compose-cancel ()
  "Throw the draft away."
  (interactive)
  (when (or (string-blank-p (buffer-string)) (y-or-n-p "Throw this draft away? "))
    (set-buffer-modified-p nil)
    (quit-window t)))

(defun datacore-msg-compose (recipients &optional priority)
  "Write a message to RECIPIENTS (several: a broadcast, one message each).
With a prefix argument, ask for a PRIORITY too."
  (interactive
   (list (datacore-msg-read-recipients "To (comma between several): ")
         (and current-prefix-arg
              (completing-read "Priority: " '("high" "normal" "low") nil t))))
  (datacore-msg--compose-buffer (list :to recipients :priority priority)))

(defalias 'datacore-msg-broadcast #'datacore-msg-compose
  "Write one message to several people (each gets a message of their own).")

(defun datacore-msg-reply (id)
  "Reply to message ID (at point in a view or an org file), in its thread.
On a task, write to the task's sender (in the thread of the message it came
from, when it came from one)."
  (interactive (list (datacore-msg-read-id "Reply to (ID): ")))
  (let* ((item (apply #'datacore-msg-json "show"
                      (append (datacore-msg--agent-args) (list "--" id))))
         (task (datacore-msg-task-p item))
         (mine (member "sent" (datacore-msg-get item 'tags)))
         (to (if mine (datacore-msg-get item 'to) (datacore-msg-get item 'from)))
         (reply-to (if task
                       (datacore-msg-property item "MESSAGE_ID")
                     (datacore-msg-get item 'id))))
    (unless to (user-error "%s names no one to reply to" id))
    (datacore-msg--compose-buffer (list :to (list to) :reply-to reply-to))))

(defun datacore-msg-submit-task ()
  "Write a task for your agent; sending it submits it through the governor."
  (interactive)
  (datacore-msg--compose-buffer (list :task t)))

;;; Who is online

(defun datacore-msg-presence ()
  "Say which contacts are online on the relay (as the relay client last heard)."
  (interactive)
  (let* ((presence (datacore-msg-json "presence"))
         (online (seq-filter (lambda (p) (datacore-msg-get p 'online))
                             (datacore-msg-get presence 'contacts))))
    (message "%s" (if online
                      (concat "Online: " (mapconcat (lambda (p) (datacore-msg-get p 'name))
                                                    online ", "))
                    "No contact is online"))
    online))

;;; Capture templates

(defun datacore-msg--capture-target ()
  "The target of the package's capture templates: a buffer that is never saved.
The text is sent through msg when the capture is finished."
  (set-buffer (generate-new-buffer "*datacore-msg capture*"))
  (org-mode)
  ;; A bookmark needs a file; this buffer never has one.
  (setq-local org-capture-bookmark nil)
  (when (eq (org-capture-get :datacore-msg) 'message)
    (org-capture-put :datacore-msg-to
                     (datacore-msg-read-recipients "Message to: "))))

(defun datacore-msg--capture-send ()
  "Send the text of a capture of ours (`org-capture-prepare-finalize-hook').
An error leaves the capture open, so nothing is lost."
  (when (and (org-capture-get :datacore-msg) (not org-note-abort))
    (let ((text (string-trim (buffer-substring-no-properties (point-min) (point-max)))))
      (when (string-empty-p text)
        (user-error "Nothing to send (C-c C-k to abort)"))
      (pcase (org-capture-get :datacore-msg)
        ('message (datacore-msg-send (org-capture-get :datacore-msg-to) text))
        ('task (datacore-msg-submit text))))))

(defun datacore-msg--capture-cleanup ()
  "Remove the capture's unsaved target buffer (`org-capture-after-finalize-hook')."
  (when (org-capture-get :datacore-msg)
    (let ((buffer (org-capture-get :buffer)))
      (when (buffer-live-p buffer)
        (with-current-buffer buffer (set-buffer-modified-p nil))
        (kill-buffer buffer)))))

(defun datacore-msg-capture-templates ()
  "The package's `org-capture' templates, under `datacore-msg-capture-key'."
  (let ((key datacore-msg-capture-key))
    `((,key "datacore-msg")
      (,(concat key "m") "Message to …" plain (function datacore-msg--capture-target)
       "%?" :no-save t :datacore-msg message)
      (,(concat key "t") "Task for my agent" plain (function datacore-msg--capture-target)
       "%?" :no-save t :datacore-msg task))))

;;; Agenda views

(defun datacore-msg--agenda-files (predicate)
  "The messaging files msg reports whose name satisfies PREDICATE."
  (seq-filter predicate (datacore-msg-files)))

(defun datacore-msg--inbox-file-p (file)
  "Whether FILE is an inbox."
  (equal (file-name-nondirectory file) "inbox.org"))

(defun datacore-msg--agent-file-p (file)
  "Whether FILE is an agent's task file."
  (equal (file-name-nondirectory (directory-file-name (file-name-directory file)))
         "agents"))

(defun datacore-msg-agenda-sender ()
  "The sender of the entry at point, for agenda prefixes."
  (truncate-string-to-width (or (org-entry-get nil "FROM") "") 20 nil nil "…"))

(defconst datacore-msg--timestamp-only-re
  "\\`\\[[0-9]\\{4\\}-[0-9]\\{2\\}-[0-9]\\{2\\} [^]]*\\]\\'"
  "A heading that is only an Org timestamp: the Python original's messages.")

(defun datacore-msg-agenda-subject ()
  "Return the first line of text of an entry whose heading is only a time.
Such are the Python original's messages and those of earlier versions; for
agenda prefixes.  Other entries return nothing: their heading says it."
  (if (not (string-match-p datacore-msg--timestamp-only-re
                           (org-get-heading t t t t)))
      ""
    (save-excursion
      (org-end-of-meta-data t)
      (let ((end (save-excursion (outline-next-heading) (point)))
            (line nil))
        (while (and (not line) (< (point) end))
          (let ((text (string-trim (buffer-substring-no-properties
                                    (line-beginning-position) (line-end-position)))))
            (unless (or (string-empty-p text) (string-prefix-p ":" text))
              (setq line text)))
          (forward-line 1))
        (if line (concat (truncate-string-to-width line 50 nil nil "…") "  ") "")))))

(defun datacore-msg--agenda-cmp-sender (a b)
  "Order agenda lines A and B by their entry's sender."
  (let ((from (lambda (line)
                (let ((marker (get-text-property 0 'org-marker line)))
                  (or (and marker (org-entry-get marker "FROM")) "")))))
    (let ((x (funcall from a)) (y (funcall from b)))
      (cond ((string< x y) -1) ((string< y x) 1)))))

(defun datacore-msg-agenda-commands ()
  "The package's `org-agenda-custom-commands', under `datacore-msg-capture-key'."
  (let ((key datacore-msg-capture-key)
        (prefix "  %-20(datacore-msg-agenda-sender) %(datacore-msg-agenda-subject)"))
    `((,key . "datacore-msg")
      (,(concat key "u") "Unread messages, by sender" tags-todo "unread"
       ((org-agenda-files (datacore-msg--agenda-files #'datacore-msg--inbox-file-p))
        (org-agenda-prefix-format ,prefix)
        (org-agenda-sorting-strategy '(user-defined-up))
        (org-agenda-cmp-user-defined #'datacore-msg--agenda-cmp-sender)))
      (,(concat key "w") "Tasks waiting for me" todo "WAITING"
       ((org-agenda-files (datacore-msg--agenda-files #'datacore-msg--agent-file-p))
        (org-agenda-prefix-format ,prefix)))
      (,(concat key "d") "Done by my agent, awaiting acceptance" todo "DONE"
       ((org-agenda-files (datacore-msg--agenda-files #'datacore-msg--agent-file-p))
        (org-agenda-prefix-format ,prefix))))))

;;;###autoload
(defun datacore-msg-setup ()
  "Add the package's capture templates and agenda views.
They go under `datacore-msg-capture-key', replacing earlier ones there."
  (interactive)
  (let ((key datacore-msg-capture-key))
    (dolist (variable '(org-capture-templates org-agenda-custom-commands))
      (set variable (seq-remove (lambda (entry) (string-prefix-p key (car entry)))
                                (symbol-value variable))))
    (setq org-capture-templates (append org-capture-templates
                                        (datacore-msg-capture-templates)))
    (setq org-agenda-custom-commands (append org-agenda-custom-commands
                                             (datacore-msg-agenda-commands)))))

(add-hook 'org-capture-prepare-finalize-hook #'datacore-msg--capture-send)
(add-hook 'org-capture-after-finalize-hook #'datacore-msg--capture-cleanup)

;;; Keys and the menu

(transient-define-prefix datacore-msg-menu ()
  "Every datacore-msg command."
  [["Views"
    ("i" "Inbox" datacore-msg-inbox)
    ("t" "Tasks" datacore-msg-tasks)
    ("T" "Thread at point" datacore-msg-thread)
    ("o" "Who is online" datacore-msg-presence)]
   ["Write"
    ("c" "Compose" datacore-msg-compose)
    ("b" "Broadcast" datacore-msg-broadcast)
    ("r" "Reply at point" datacore-msg-reply)
    ("s" "Task for my agent" datacore-msg-submit-task)]
   ["Message at point"
    ("." "Mark read" datacore-msg-mark-read)
    ("u" "Mark unread" datacore-msg-mark-unread)
    ("e" "Archive" datacore-msg-archive)
    ("E" "Unarchive" datacore-msg-unarchive)]
   ["Task at point"
    ("a" "Approve" datacore-msg-approve)
    ("x" "Reject" datacore-msg-reject)
    ("A" "Accept" datacore-msg-accept)
    ("v" "Revise" datacore-msg-revise)
    ("k" "Cancel" datacore-msg-cancel)]
   ["Arrivals"
    ("w" "Watch (notifications)" datacore-msg-watch-mode)]])

(defvar datacore-msg-prefix-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "m") #'datacore-msg)
    (define-key map (kbd "i") #'datacore-msg-inbox)
    (define-key map (kbd "t") #'datacore-msg-tasks)
    (define-key map (kbd "T") #'datacore-msg-thread)
    (define-key map (kbd "o") #'datacore-msg-presence)
    (define-key map (kbd "c") #'datacore-msg-compose)
    (define-key map (kbd "b") #'datacore-msg-broadcast)
    (define-key map (kbd "r") #'datacore-msg-reply)
    (define-key map (kbd "s") #'datacore-msg-submit-task)
    (define-key map (kbd ".") #'datacore-msg-mark-read)
    (define-key map (kbd "u") #'datacore-msg-mark-unread)
    (define-key map (kbd "e") #'datacore-msg-archive)
    (define-key map (kbd "E") #'datacore-msg-unarchive)
    (define-key map (kbd "a") #'datacore-msg-approve)
    (define-key map (kbd "x") #'datacore-msg-reject)
    (define-key map (kbd "A") #'datacore-msg-accept)
    (define-key map (kbd "v") #'datacore-msg-revise)
    (define-key map (kbd "k") #'datacore-msg-cancel)
    (define-key map (kbd "w") #'datacore-msg-watch-mode)
    (define-key map (kbd "?") #'datacore-msg-menu)
    map)
  "The package's commands under one prefix, to bind to a key of your choice.
At point means the entry under the cursor in the package's views, in an agenda,
or in any org file.")

(fset 'datacore-msg-prefix-map datacore-msg-prefix-map)

(dolist (map (list datacore-msg-inbox-mode-map datacore-msg-message-mode-map))
  (define-key map (kbd "r") #'datacore-msg-reply)
  (define-key map (kbd "c") #'datacore-msg-compose)
  (define-key map (kbd "s") #'datacore-msg-submit-task)
  (define-key map (kbd ".") #'datacore-msg-mark-read)
  (define-key map (kbd "u") #'datacore-msg-mark-unread)
  (define-key map (kbd "e") #'datacore-msg-archive)
  (define-key map (kbd "E") #'datacore-msg-unarchive)
  (define-key map (kbd "t") #'datacore-msg-thread)
  (define-key map (kbd "T") #'datacore-msg-tasks)
  (define-key map (kbd "?") #'datacore-msg-menu))
(dolist (map (list datacore-msg-tasks-mode-map datacore-msg-message-mode-map))
  (define-key map (kbd "a") #'datacore-msg-approve)
  (define-key map (kbd "x") #'datacore-msg-reject)
  (define-key map (kbd "A") #'datacore-msg-accept)
  (define-key map (kbd "v") #'datacore-msg-revise)
  (define-key map (kbd "k") #'datacore-msg-cancel))
(define-key datacore-msg-tasks-mode-map (kbd "r") #'datacore-msg-reply)
(define-key datacore-msg-tasks-mode-map (kbd "s") #'datacore-msg-submit-task)
(define-key datacore-msg-tasks-mode-map (kbd "I") #'datacore-msg-inbox)
(define-key datacore-msg-tasks-mode-map (kbd "?") #'datacore-msg-menu)

;;;###autoload
(defun datacore-msg ()
  "Open the inbox.
There, \\<datacore-msg-inbox-mode-map>\\[datacore-msg-menu] lists every command."
  (interactive)
  (datacore-msg-inbox))

(provide 'datacore-msg)

;;; datacore-msg.el ends here
