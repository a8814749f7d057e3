;;; datacore-msg-test.el --- ERT tests of datacore-msg against the real msg  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The datacore-messaging authors
;; SPDX-License-Identifier: MIT

;;; Commentary:

;; Run by crates/msg-hooks/tests/upgrade/emacs_package.rs (part of `cargo test --workspace'):
;;
;;   DATACORE_MSG_PROGRAM=/path/to/msg DATACORE_MSG_FIXTURES=/path/to/fixtures \
;;     emacs -Q --batch -L editors/emacs -l editors/emacs/test/datacore-msg-test.el \
;;     -f ert-run-tests-batch-and-exit
;;
;; Every test works in a fresh Datacore root of its own (alice, her agent alice-claude).
;; A change made through the package is compared with the same change made by the msg
;; command line on a copy of the root: the files must be the same, up to the minute of
;; the timestamps and the random part of new IDs.

;;; Code:

(require 'ert)
(require 'cl-lib)
(require 'datacore-msg)

(defvar dmt-program (or (getenv "DATACORE_MSG_PROGRAM") "msg")
  "The msg binary under test.")

(defvar dmt-fixtures (getenv "DATACORE_MSG_FIXTURES")
  "The repository's fixtures/ directory.")

;;; Roots and the command line

(defun dmt-cli (root &rest args)
  "Run the msg command line on ROOT with ARGS; return its output, failing the test
on a non-zero exit."
  (with-temp-buffer
    (let ((status (apply #'call-process dmt-program nil t nil "--root" root args)))
      (unless (eql status 0)
        (ert-fail (list "msg failed" args status (buffer-string))))
      (buffer-string))))

(defun dmt-cli-json (root &rest args)
  "Run the msg command line on ROOT with ARGS and --json; parse the output."
  (datacore-msg-parse-json (apply #'dmt-cli root (append args '("--json")))))

(defmacro dmt-with-root (spec &rest body)
  "Run BODY with a fresh root bound to (car SPEC) and the package pointed at it.
With :fixture NAME in (cdr SPEC), the root starts as a copy of fixtures/NAME."
  (declare (indent 1))
  (let ((root (car spec))
        (fixture (plist-get (cdr spec) :fixture)))
    `(let* ((,root (file-name-as-directory (make-temp-file "dmt-root" t)))
            (datacore-msg-program dmt-program)
            (datacore-msg-root ,root)
            (datacore-msg-space nil)
            (datacore-msg-agent nil)
            (datacore-msg-mark-read-on-show nil)
            (datacore-msg-notify-with-dbus nil))
       (unwind-protect
           (progn
             (if ,fixture
                 (copy-directory (expand-file-name ,fixture dmt-fixtures) ,root nil t t)
               (dmt-cli ,root "init" "--name" "alice"))
             ,@body)
         (when datacore-msg-watch-mode (datacore-msg-watch-mode -1))
         (dolist (buffer (buffer-list))
           (when (or (string-prefix-p "*datacore-msg" (buffer-name buffer))
                     (string-prefix-p ,root (or (buffer-file-name buffer) "")))
             (with-current-buffer buffer (set-buffer-modified-p nil))
             (kill-buffer buffer)))
         (delete-directory ,root t)))))

(defun dmt-twin (root)
  "A copy of ROOT, to make the same change with the command line."
  (let ((twin (file-name-as-directory (make-temp-file "dmt-twin" t))))
    (copy-directory root twin nil t t)
    twin))

(defun dmt-org-files (root)
  "Every org file under ROOT, relative name to normalized content."
  (mapcar (lambda (file)
            (cons (file-relative-name file root)
                  (dmt-normalize (with-temp-buffer
                                   (insert-file-contents-literally file)
                                   (buffer-string)))))
          (sort (directory-files-recursively root "\\.org\\'") #'string<)))

(defun dmt-normalize (text)
  "TEXT with what two runs cannot share replaced: minutes of timestamps, the
random part of new IDs, admission numbers."
  (thread-last text
    (replace-regexp-in-string "[[<][0-9]\\{4\\}-[0-9]\\{2\\}-[0-9]\\{2\\} [A-Za-z]\\{3\\}\\( [0-9:]+\\)?[]>]" "[TS]")
    (replace-regexp-in-string "\\(msg\\|task\\)-[0-9]\\{8\\}-[0-9]\\{6\\}-[0-9a-f]+" "\\1-ID")
    (replace-regexp-in-string "adm-[0-9]\\{8\\}-[0-9]\\{6\\}-[0-9]+" "adm-ID")))

(defmacro dmt-same-as-cli (root cli-args &rest package-body)
  "Run PACKAGE-BODY on ROOT and the command line CLI-ARGS on a copy of it; the org
files must end up the same."
  (declare (indent 2))
  `(let ((twin (dmt-twin ,root)))
     (unwind-protect
         (progn
           ,@package-body
           (apply #'dmt-cli twin ,cli-args)
           (should (equal (dmt-org-files ,root) (dmt-org-files twin))))
       (delete-directory twin t))))

(defun dmt-ids (items)
  "The IDs of ITEMS (msg JSON)."
  (mapcar (lambda (i) (datacore-msg-get i 'id)) items))

(defun dmt-show (root id)
  "`msg show ID --json' on ROOT."
  (dmt-cli-json root "show" id))

(defun dmt-send (root to text &rest options)
  "Send TEXT to TO on ROOT with the command line; return the new message's ID."
  (let ((out (apply #'dmt-cli root "send" (append options (list "--" to text)))))
    (string-match "\\(msg-[0-9-]+[0-9a-f]+\\)" out)
    (match-string 1 out)))

(defun dmt-submit (root text &rest options)
  "Submit task TEXT on ROOT with the command line; return its ID."
  (let ((out (apply #'dmt-cli root "task" "submit" (append options (list "--" text)))))
    (string-match "\\(task-[0-9-]+[0-9a-f]+\\)" out)
    (match-string 1 out)))

(defun dmt-view-ids ()
  "The IDs listed in the current tabulated-list view, top to bottom."
  (mapcar #'car tabulated-list-entries))

(defun dmt-row (id)
  "The columns of ID's row in the current view."
  (append (cadr (assoc id tabulated-list-entries)) nil))

;;; The views list what msg lists

(ert-deftest dmt-inbox-view-lists-what-msg-lists ()
  (dmt-with-root (root)
    (let* ((first (dmt-send root "alice" "Lunch at 12?\nOr 1?"))
           (_reply (dmt-send root "alice" "12 is fine" "--reply-to" first))
           (_third (dmt-send root "alice" "[#A] Fix :urgent:")))
      (with-current-buffer (datacore-msg-inbox)
        (let ((listed (dmt-cli-json root "inbox")))
          (should (equal (dmt-view-ids) (reverse (dmt-ids listed))))
          (let ((row (dmt-row first)))
            (should (equal (nth 0 row) "●"))
            (should (equal (substring-no-properties (nth 2 row)) "alice"))
            (should (equal (substring-no-properties (nth 3 row)) "Lunch at 12?"))
            (should (equal (nth 4 row) "2")))
          (should (equal (substring-no-properties (nth 3 (dmt-row (car (dmt-view-ids)))))
                         "[#A] Fix :urgent:")))
        ;; Archived messages appear with A.
        (dmt-cli root "archive" first)
        (revert-buffer)
        (should-not (member first (dmt-view-ids)))
        (datacore-msg-inbox-toggle-all)
        (should (member first (dmt-view-ids)))
        (should (equal (dmt-view-ids)
                       (reverse (dmt-ids (dmt-cli-json root "inbox" "--all")))))))))

(ert-deftest dmt-old-timestamp-only-entries-show-sender-and-subject ()
  (dmt-with-root (root :fixture "python-v0.2.0/root")
    (with-current-buffer (datacore-msg-inbox)
      (let ((row (dmt-row "msg-20261124-070853-f0089658")))
        (should (equal (substring-no-properties (nth 2 row)) "tex@team.example.com"))
        (should (equal (substring-no-properties (nth 3 row)) "Can you review PR #24?")))
      (let ((file (dmt-row "file-20261124-070853-68f03cf7")))
        (should (string-match-p "File delivery via Fairdrop" (nth 3 file)))))
    (with-current-buffer (datacore-msg-tasks)
      (should (equal (dmt-view-ids) (dmt-ids (dmt-cli-json root "tasks"))))
      (let ((row (dmt-row "org-20261124-070853-ef173c07")))
        (should (equal (substring-no-properties (nth 0 row)) "WAITING"))
        (should (equal (nth 1 row) "partner@external.com"))
        (should (equal (nth 2 row) "trusted"))
        (should (equal (nth 4 row) "$0.38"))
        (should (equal (nth 5 row) "Draft blog post about data tokenization"))))))

(ert-deftest dmt-tasks-view-lists-what-msg-lists ()
  (dmt-with-root (root)
    (let ((mine (dmt-submit root "Summarise the notes\nthree bullets" "--tokens" "5000"))
          (theirs (dmt-submit root "Translate the README" "--from" "stranger@x.org")))
      (with-current-buffer (datacore-msg-tasks)
        (should (equal (dmt-view-ids) (dmt-ids (dmt-cli-json root "tasks"))))
        (should (equal (mapcar #'substring-no-properties (dmt-row mine))
                       '("QUEUED" "alice" "owner" "now" "$0.07" "Summarise the notes")))
        (should (equal (substring-no-properties (car (dmt-row theirs))) "WAITING"))))))

(ert-deftest dmt-show-and-thread ()
  (dmt-with-root (root)
    (let* ((first (dmt-send root "alice" "Lunch at 12?"))
           (reply (dmt-send root "alice" "12 is fine" "--reply-to" first)))
      (with-current-buffer (datacore-msg-show reply)
        (should (string-match-p "^From: alice$" (buffer-string)))
        (should (string-match-p "^12 is fine$" (buffer-string)))
        (should (equal (get-text-property (point-min) 'datacore-msg-id) reply)))
      (with-current-buffer (datacore-msg-thread reply)
        (should (string-match-p "Lunch at 12\\?\\(.\\|\n\\)*12 is fine" (buffer-string))))
      ;; Showing an unread message marks it read, when asked to.
      (let ((datacore-msg-mark-read-on-show t))
        (datacore-msg-show first))
      (should (equal (datacore-msg-get (dmt-show root first) 'state) "read")))))

;;; Every change is the command line's

(ert-deftest dmt-message-commands-change-files-as-the-cli-does ()
  (dmt-with-root (root)
    (let ((id (dmt-send root "alice" "Lunch at 12?")))
      (dmt-same-as-cli root (list "read" id)
        (datacore-msg-mark-read id))
      (should (equal (datacore-msg-get (dmt-show root id) 'state) "read"))
      (dmt-same-as-cli root (list "unread" id)
        (datacore-msg-mark-unread id))
      (dmt-same-as-cli root (list "archive" id)
        (datacore-msg-archive id))
      (should (equal (datacore-msg-get (dmt-show root id) 'state) "archived"))
      (dmt-same-as-cli root (list "unarchive" id)
        (datacore-msg-unarchive id))
      (should (equal (datacore-msg-get (dmt-show root id) 'state) "read")))))

(ert-deftest dmt-task-commands-change-files-as-the-cli-does ()
  (dmt-with-root (root)
    (let ((waiting (dmt-submit root "Translate the README" "--from" "stranger@x.org"))
          (other (dmt-submit root "Write the notes" "--from" "stranger@x.org"))
          (queued (dmt-submit root "Tidy the wiki")))
      (dmt-same-as-cli root (list "task" "approve" waiting)
        (datacore-msg-approve waiting))
      (dmt-same-as-cli root (list "task" "reject" "--reason" "not now" other)
        (datacore-msg-reject other "not now"))
      (dmt-same-as-cli root (list "task" "cancel" "--reason" "done by hand" queued)
        (datacore-msg-cancel queued "done by hand"))
      ;; The agent does the work; the person reviews it.
      (dmt-cli root "task" "claim" waiting)
      (dmt-cli root "task" "complete" "--tokens" "10" waiting)
      (dmt-same-as-cli root (list "task" "revise" "--feedback" "shorter please" waiting)
        (datacore-msg-revise waiting "shorter please"))
      (dmt-cli root "task" "claim" waiting)
      (dmt-cli root "task" "complete" "--tokens" "10" waiting)
      (dmt-same-as-cli root (list "task" "accept" waiting)
        (datacore-msg-accept waiting))
      (should (equal (datacore-msg-get (dmt-show root waiting) 'state) "ARCHIVED")))))

(ert-deftest dmt-compose-reply-broadcast-and-submit-send-what-the-cli-sends ()
  (dmt-with-root (root)
    (let ((first (dmt-send root "alice" "Lunch at 12?")))
      ;; A reply at point, in the inbox view, keeps the thread.
      (dmt-same-as-cli root (list "send" "--reply-to" first "--" "alice" "12 is fine")
        (with-current-buffer (datacore-msg-inbox)
          (goto-char (point-min))
          (while (not (equal (tabulated-list-get-id) first)) (forward-line 1))
          (call-interactively #'datacore-msg-reply)
          (insert "12 is fine\n")
          (datacore-msg-compose-send)))
      ;; A broadcast: one message each, in the outbox.
      (let ((twin (dmt-twin root)))
        (with-current-buffer (datacore-msg--compose-buffer '(:to ("bob" "carol")))
          (insert "Standup moved to 10:00")
          (datacore-msg-compose-send))
        (dmt-cli twin "send" "--" "bob" "Standup moved to 10:00")
        (dmt-cli twin "send" "--" "carol" "Standup moved to 10:00")
        (should (equal (dmt-org-files root) (dmt-org-files twin)))
        (delete-directory twin t))
      ;; Text that looks like an option is text.
      (dmt-same-as-cli root (list "send" "--priority" "high" "--" "bob" "-1 to that")
        (datacore-msg-send '("bob") "-1 to that" nil "high"))
      (dmt-same-as-cli root (list "task" "submit" "--" "Summarise the thread")
        (with-current-buffer (datacore-msg-submit-task)
          (insert "Summarise the thread")
          (datacore-msg-compose-send))))))

(ert-deftest dmt-a-refusal-keeps-the-draft-and-says-why ()
  (dmt-with-root (root)
    (let ((buffer (datacore-msg--compose-buffer '(:to ("bob") :reply-to "msg-nowhere"))))
      (with-current-buffer buffer
        (insert "hello")
        (let ((err (should-error (datacore-msg-compose-send) :type 'datacore-msg-error)))
          (should (string-match-p "msg-nowhere" (cadr err)))))
      (should (buffer-live-p buffer))
      (should (equal (with-current-buffer buffer (buffer-string)) "hello")))
    (let ((err (should-error (datacore-msg-approve "task-nope") :type 'datacore-msg-error)))
      (should (string-match-p "task-nope" (cadr err))))))

(ert-deftest dmt-commands-work-at-point-in-org-files-and-the-agenda ()
  (dmt-with-root (root)
    (let* ((id (dmt-send root "alice" "Lunch at 12?"))
           (task (dmt-submit root "Translate the README" "--from" "stranger@x.org"))
           (inbox (car (seq-filter (lambda (f) (string-suffix-p "/inbox.org" f))
                                   (datacore-msg-files))))
           (agent-file (car (seq-filter #'datacore-msg--agent-file-p (datacore-msg-files)))))
      (with-current-buffer (find-file-noselect inbox)
        (goto-char (point-max))
        (org-back-to-heading)
        (should (equal (datacore-msg-id-at-point) id))
        (datacore-msg-mark-read (datacore-msg-id-at-point))
        (kill-buffer))
      (should (equal (datacore-msg-get (dmt-show root id) 'state) "read"))
      (datacore-msg-setup)
      (org-agenda nil (concat datacore-msg-capture-key "w"))
      (with-current-buffer org-agenda-buffer-name
        (goto-char (point-min))
        (should (search-forward "Translate the README" nil t))
        (should (string-match-p "stranger@x.org" (buffer-substring (line-beginning-position) (line-end-position))))
        (should (equal (datacore-msg-id-at-point) task))
        (should (equal (datacore-msg--agent-at-point) (file-name-base agent-file)))
        (call-interactively #'datacore-msg-approve)
        (kill-buffer))
      (should (equal (datacore-msg-get (dmt-show root task) 'state) "QUEUED"))
      (dolist (buffer (buffer-list))
        (when (buffer-file-name buffer) (kill-buffer buffer))))))

;;; Capture and agenda

(ert-deftest dmt-capture-templates-send-through-msg ()
  (dmt-with-root (root)
    (let ((org-capture-templates nil)
          (twin (dmt-twin root)))
      (datacore-msg-setup)
      (cl-letf (((symbol-function 'completing-read-multiple)
                 (lambda (&rest _) '("bob"))))
        (org-capture nil (concat datacore-msg-capture-key "m"))
        (insert "Notes from the call\nsecond line")
        (org-capture-finalize)
        (org-capture nil (concat datacore-msg-capture-key "t"))
        (insert "Summarise the call")
        (org-capture-finalize))
      (dmt-cli twin "send" "--" "bob" "Notes from the call\nsecond line")
      (dmt-cli twin "task" "submit" "--" "Summarise the call")
      (should (equal (dmt-org-files root) (dmt-org-files twin)))
      (should-not (seq-find (lambda (b) (string-match-p "capture" (buffer-name b)))
                            (buffer-list)))
      ;; An aborted capture sends nothing.
      (cl-letf (((symbol-function 'completing-read-multiple)
                 (lambda (&rest _) '("bob"))))
        (org-capture nil (concat datacore-msg-capture-key "m"))
        (insert "never mind")
        (org-capture-kill))
      (should (equal (dmt-org-files root) (dmt-org-files twin)))
      (delete-directory twin t))))

(ert-deftest dmt-agenda-views-list-unread-waiting-and-done ()
  (dmt-with-root (root :fixture "python-v0.2.0/root")
    (let ((org-agenda-custom-commands nil)
          (new (dmt-send root "gregor" "Lunch at 12?")))
      (datacore-msg-setup)
      (cl-flet ((agenda (key)
                  (org-agenda nil (concat datacore-msg-capture-key key))
                  (prog1 (with-current-buffer org-agenda-buffer-name
                           (buffer-substring-no-properties (point-min) (point-max)))
                    (kill-buffer org-agenda-buffer-name))))
        (let ((unread (agenda "u")))
          ;; A new heading says who and what; an old one gets its subject in the prefix.
          (should (string-match-p "gregor +TODO \\[[^]]+\\] gregor: Lunch at 12\\?" unread))
          (should (string-match-p "stranger@other.org +Héllo" unread))
          (should (string-match-p "tex@team.example.com +Thanks! Ping me when done" unread))
          ;; By sender: gregor, then stranger@…, then tex@….
          (should (< (string-match "gregor " unread) (string-match "stranger@" unread)
                     (string-match "tex@team" unread)))
          (should (equal (datacore-msg-get (dmt-show root new) 'state) "unread")))
        (should (string-match-p "partner@external.com +WAITING Draft blog post" (agenda "w")))
        (should (string-match-p "DONE Research competitor pricing" (agenda "d")))
        (dolist (buffer (buffer-list))
          (when (buffer-file-name buffer) (kill-buffer buffer)))))))

;;; Arrivals

(defun dmt-wait-for (predicate seconds)
  "Wait until PREDICATE holds, at most SECONDS, letting file events and timers run."
  (let ((deadline (+ (float-time) seconds)))
    (while (and (not (funcall predicate)) (< (float-time) deadline))
      (read-event nil nil 0.01))
    (funcall predicate)))

(ert-deftest dmt-a-file-written-by-another-process-triggers-the-notification ()
  (dmt-with-root (root)
    (let* ((seen nil)
           (datacore-msg-notify-function (lambda (item) (push item seen)))
           (inbox (car (seq-filter (lambda (f) (string-suffix-p "/inbox.org" f))
                                   (datacore-msg-files))))
           (visiting (find-file-noselect inbox)))
      (dmt-send root "alice" "Already here")
      (datacore-msg-watch-mode 1)
      (should (equal (datacore-msg--mode-line-string) " ✉1"))
      ;; Another process (the command line) writes a message and a task.
      (dmt-send root "alice" "Lunch at 12?\nOr 1?")
      (dmt-submit root "Translate the README" "--from" "stranger@x.org")
      (should (dmt-wait-for (lambda () (= (length seen) 2)) 10))
      (let ((message (seq-find (lambda (i) (eq (alist-get 'kind i) 'message)) seen))
            (task (seq-find (lambda (i) (eq (alist-get 'kind i) 'task-waiting)) seen)))
        (should (equal (alist-get 'from message) "alice"))
        (should (equal (alist-get 'subject message) "Lunch at 12?"))
        (should (equal (alist-get 'from task) "stranger@x.org"))
        (should (equal (alist-get 'subject task) "Translate the README")))
      (should (equal (datacore-msg--mode-line-string) " ✉2"))
      ;; The buffer visiting the inbox shows the new message.
      (should (dmt-wait-for (lambda () (with-current-buffer visiting
                                         (save-excursion
                                           (goto-char (point-min))
                                           (search-forward "Lunch at 12?" nil t))))
                            5))
      ;; Nothing already seen is announced again.
      (setq seen nil)
      (dmt-cli root "read" (datacore-msg-get (car (dmt-cli-json root "inbox" "--unread")) 'id))
      (dmt-wait-for (lambda () (equal (datacore-msg--mode-line-string) " ✉1")) 5)
      (should (equal (datacore-msg--mode-line-string) " ✉1"))
      (should-not seen)
      (datacore-msg-watch-mode -1)
      (should (equal (datacore-msg--mode-line-string) ""))
      (kill-buffer visiting))))

(ert-deftest dmt-notifications-fall-back-to-the-echo-area ()
  (let ((datacore-msg-notify-with-dbus nil)
        (shown nil))
    (cl-letf (((symbol-function 'message)
               (lambda (format &rest args) (setq shown (apply #'format format args)))))
      (datacore-msg-notify '((kind . message) (id . "msg-1") (from . "bob")
                             (subject . "Lunch?"))))
    (should (equal shown "datacore-msg: Message from bob: Lunch?"))))

(ert-deftest dmt-ages-and-subjects ()
  (let ((now (encode-time (list 0 48 10 7 12 2026 nil -1 nil))))
    (should (equal (datacore-msg-age "[2026-12-07 Mon 10:48]" now) "now"))
    (should (equal (datacore-msg-age "[2026-12-07 Mon 10:03]" now) "45m"))
    (should (equal (datacore-msg-age "[2026-12-06 Sun 08:48]" now) "1d"))
    (should (equal (datacore-msg-age "[2026-10-01 Thu 10:48]" now) "9w"))
    (should (equal (datacore-msg-age nil now) "")))
  (should (equal (datacore-msg-subject '((subject . "Hi") (title . "[2026-11-24 Tue 07:08]")))
                 "Hi"))
  (should (equal (datacore-msg-subject '((kind . "task") (title . "Research pricing")))
                 "Research pricing"))
  (should (datacore-msg-task-p '((kind . "task"))))
  (should-not (datacore-msg-task-p '((kind . "message")))))

(ert-deftest dmt-presence-says-who-is-online ()
  (dmt-with-root (root)
    (with-temp-file (expand-file-name "0-personal/contacts.yaml" root)
      (insert "actors:\n  - {id: bob}\n"))
    ;; No relay client runs for this root: nobody is known to be online.
    (let ((shown nil))
      (cl-letf (((symbol-function 'message)
                 (lambda (format &rest args) (setq shown (apply #'format format args)))))
        (should-not (datacore-msg-presence)))
      (should (equal shown "No contact is online")))
    ;; Completion offers contacts, their agents and your own agents.
    (should (equal (seq-take (datacore-msg-recipients) 3)
                   '("bob" "bob-claude" "alice")))
    (should (member "alice-claude" (datacore-msg-recipients)))))

(provide 'datacore-msg-test)

;;; datacore-msg-test.el ends here
