;;; datacore-msg-views.el --- Inbox, tasks, message and thread views  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The datacore-messaging authors
;; SPDX-License-Identifier: MIT

;; This file is part of datacore-msg; see datacore-msg.el.

;;; Commentary:

;; Four buffers, each filled from msg's JSON and refreshed after every change:
;; - the inbox (`msg inbox --json'): unread, age, sender, subject, thread size;
;; - the tasks (`msg tasks --json'): state, sender, tier, age, cost, title;
;; - one message or task (`msg show ID --json');
;; - a thread (`msg thread ID --json'), received and sent, in order.
;; The keys that act on an entry are bound in `datacore-msg.el'.

;;; Code:

(require 'tabulated-list)
(require 'datacore-msg-cli)

(defcustom datacore-msg-inbox-newest-first t
  "Whether the inbox lists the newest message first."
  :group 'datacore-msg
  :type 'boolean)

(defcustom datacore-msg-mark-read-on-show t
  "Whether showing an unread message marks it read (as mail readers do)."
  :group 'datacore-msg
  :type 'boolean)

(defface datacore-msg-unread '((t :inherit bold))
  "Face of unread messages in the inbox."
  :group 'datacore-msg)

(defface datacore-msg-header '((t :inherit font-lock-keyword-face))
  "Face of header names (From:, To:) in the message and thread views."
  :group 'datacore-msg)

(defvar-local datacore-msg-inbox-show-all nil
  "Whether the inbox lists archived messages too (`msg inbox --all').")

(defvar datacore-msg-after-change-hook nil
  "Run after the package changed something through msg (views refresh on it).")

;;; The inbox

(defun datacore-msg--inbox-entries (messages)
  "Tabulated-list entries for MESSAGES, msg's inbox JSON."
  (let ((threads (make-hash-table :test #'equal)))
    (dolist (m messages)
      (let ((root (or (datacore-msg-get m 'thread) (datacore-msg-get m 'id))))
        (puthash root (1+ (gethash root threads 0)) threads)))
    (let ((entries
           (mapcar
            (lambda (m)
              (let* ((unread (datacore-msg-get m 'unread))
                     (face (if unread 'datacore-msg-unread 'default))
                     (root (or (datacore-msg-get m 'thread) (datacore-msg-get m 'id)))
                     (size (gethash root threads 0))
                     (subject (datacore-msg-subject m))
                     (kind (datacore-msg-get m 'kind)))
                (list (datacore-msg-get m 'id)
                      (vector (if unread "●" " ")
                              (datacore-msg-age (datacore-msg-get m 'created))
                              (propertize (or (datacore-msg-get m 'from) "") 'face face)
                              (propertize (if (equal kind "file_delivery")
                                              (concat "📎 " subject)
                                            subject)
                                          'face face)
                              (if (> size 1) (number-to-string size) "")))))
            messages)))
      (if datacore-msg-inbox-newest-first (nreverse entries) entries))))

(defun datacore-msg-inbox--refresh ()
  "Fill the inbox from `msg inbox --json'."
  (setq tabulated-list-entries
        (datacore-msg--inbox-entries
         (apply #'datacore-msg-json "inbox"
                (and datacore-msg-inbox-show-all '("--all"))))))

(defvar datacore-msg-inbox-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "RET") #'datacore-msg-show)
    (define-key map (kbd "A") #'datacore-msg-inbox-toggle-all)
    map)
  "Keys of the inbox (the actions are added by datacore-msg.el).")

(define-derived-mode datacore-msg-inbox-mode tabulated-list-mode "Msg-Inbox"
  "The messages in your inbox, from `msg inbox --json'.
\\{datacore-msg-inbox-mode-map}"
  (setq tabulated-list-format [("" 1 t)
                               ("Age" 5 nil :right-align t)
                               ("From" 22 t)
                               ("Subject" 60 t)
                               ("Thread" 6 nil :right-align t)])
  (setq tabulated-list-padding 1)
  (add-hook 'tabulated-list-revert-hook #'datacore-msg-inbox--refresh nil t)
  (tabulated-list-init-header))

(defun datacore-msg--list (name mode)
  "Show the list buffer NAME in MODE, filled afresh from msg; return it."
  (let ((buffer (get-buffer-create name)))
    (with-current-buffer buffer
      (unless (derived-mode-p mode)
        (funcall mode))
      (revert-buffer))
    (pop-to-buffer-same-window buffer)
    buffer))

(defun datacore-msg-inbox ()
  "List your inbox: unread, age, sender, subject and the size of each thread."
  (interactive)
  (datacore-msg--list "*datacore-msg inbox*" #'datacore-msg-inbox-mode))

(defun datacore-msg-inbox-toggle-all ()
  "List archived messages too, or not."
  (interactive)
  (setq datacore-msg-inbox-show-all (not datacore-msg-inbox-show-all))
  (revert-buffer)
  (message (if datacore-msg-inbox-show-all "Listing archived messages too"
             "Listing messages not archived")))

;;; The tasks

(defun datacore-msg--task-entries (tasks)
  "Tabulated-list entries for TASKS, msg's tasks JSON."
  (mapcar
   (lambda (task)
     (let ((cost (or (datacore-msg-property task "COST")
                     (datacore-msg-property task "ESTIMATED_COST"))))
       (list (datacore-msg-get task 'id)
             (vector (propertize (or (datacore-msg-get task 'state) "")
                                 'face (datacore-msg--state-face
                                        (datacore-msg-get task 'state)))
                     (or (datacore-msg-get task 'from) "")
                     (or (datacore-msg-get task 'trust_tier) "")
                     (datacore-msg-age (datacore-msg-property task "SUBMITTED"))
                     (or cost "")
                     (or (datacore-msg-get task 'title) "")))))
   tasks))

(defun datacore-msg--state-face (state)
  "The face a task STATE is shown in."
  (pcase state
    ("WAITING" 'warning)
    ((or "QUEUED" "WORKING") 'font-lock-keyword-face)
    ("DONE" 'success)
    (_ 'shadow)))

(defun datacore-msg-tasks--refresh ()
  "Fill the task list from `msg tasks --json'."
  (setq tabulated-list-entries
        (datacore-msg--task-entries
         (apply #'datacore-msg-json "tasks" (datacore-msg--agent-args)))))

(defvar datacore-msg-tasks-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "RET") #'datacore-msg-show)
    map)
  "Keys of the task list (the actions are added by datacore-msg.el).")

(define-derived-mode datacore-msg-tasks-mode tabulated-list-mode "Msg-Tasks"
  "Your agent's tasks, from `msg tasks --json'.
\\{datacore-msg-tasks-mode-map}"
  (setq tabulated-list-format [("State" 9 t)
                               ("From" 22 t)
                               ("Tier" 8 t)
                               ("Age" 5 nil :right-align t)
                               ("Cost" 7 nil :right-align t)
                               ("Task" 60 t)])
  (setq tabulated-list-padding 1)
  (add-hook 'tabulated-list-revert-hook #'datacore-msg-tasks--refresh nil t)
  (tabulated-list-init-header))

(defun datacore-msg-tasks ()
  "List your agent's tasks: state, sender, tier, age, cost and title."
  (interactive)
  (datacore-msg--list "*datacore-msg tasks*" #'datacore-msg-tasks-mode))

;;; One message or task, and a thread

(defvar datacore-msg-message-mode-map
  (let ((map (make-sparse-keymap)))
    (set-keymap-parent map special-mode-map)
    map)
  "Keys of the message, task and thread views (actions added by datacore-msg.el).")

(defvar-local datacore-msg--shown nil
  "The (COMMAND . ID) this buffer shows, to show it again after a change.")

(define-derived-mode datacore-msg-message-mode special-mode "Msg"
  "One message, one task, or a thread, from msg's JSON.
\\{datacore-msg-message-mode-map}"
  (setq-local revert-buffer-function #'datacore-msg--reshow))

(defun datacore-msg--reshow (&rest _)
  "Show this buffer's message, task or thread again, fresh from msg."
  (let ((shown datacore-msg--shown)
        (datacore-msg-mark-read-on-show nil))
    (when shown
      (condition-case nil
          (save-window-excursion
            (if (eq (car shown) 'thread)
                (datacore-msg-thread (cdr shown))
              (datacore-msg-show (cdr shown))))
        ;; The entry may be gone (archived into another file, or deleted by hand).
        (datacore-msg-error nil)))))

(defun datacore-msg--insert-header (name value)
  "Insert header NAME with VALUE, when VALUE is not empty."
  (when (and value (not (equal value "")))
    (insert (propertize (concat name ":") 'face 'datacore-msg-header) " " value "\n")))

(defun datacore-msg--insert-message (m)
  "Insert message M (JSON), its lines carrying its ID."
  (let ((start (point)))
    (datacore-msg--insert-header "From" (datacore-msg-get m 'from))
    (datacore-msg--insert-header "To" (datacore-msg-get m 'to))
    (datacore-msg--insert-header "Date" (datacore-msg-get m 'created))
    (datacore-msg--insert-header "State" (datacore-msg-get m 'state))
    (datacore-msg--insert-header "Priority"
                                 (let ((p (datacore-msg-get m 'priority)))
                                   (unless (equal p "normal") p)))
    (datacore-msg--insert-header "ID" (datacore-msg-get m 'id))
    (insert "\n" (or (datacore-msg-get m 'body) "") "\n")
    (put-text-property start (point) 'datacore-msg-id (datacore-msg-get m 'id))))

(defun datacore-msg--insert-task (task)
  "Insert TASK (JSON), its lines carrying its ID."
  (let ((start (point)))
    (insert (propertize (or (datacore-msg-get task 'title) "") 'face 'bold) "\n\n")
    (datacore-msg--insert-header "State" (datacore-msg-get task 'state))
    (datacore-msg--insert-header "From" (datacore-msg-get task 'from))
    (datacore-msg--insert-header "Tier" (datacore-msg-get task 'trust_tier))
    (datacore-msg--insert-header "Agent" (datacore-msg-get task 'agent))
    (datacore-msg--insert-header "ID" (datacore-msg-get task 'id))
    (dolist (property (datacore-msg-get task 'properties))
      (unless (memq (car property) '(ID FROM TRUST_TIER))
        (datacore-msg--insert-header (symbol-name (car property)) (cdr property))))
    (let ((body (datacore-msg-get task 'body)))
      (unless (string-empty-p (or body ""))
        (insert "\n" body "\n")))
    (put-text-property start (point) 'datacore-msg-id (datacore-msg-get task 'id))))

(defun datacore-msg-show (id)
  "Show the message or task ID (at point by default) in full.
Showing an unread message marks it read when `datacore-msg-mark-read-on-show'."
  (interactive (list (datacore-msg-read-id "Show message or task (ID): ")))
  (let* ((item (apply #'datacore-msg-json "show"
                      (append (datacore-msg--agent-args) (list "--" id))))
         (buffer (get-buffer-create (format "*datacore-msg %s*" (datacore-msg-get item 'id)))))
    (when (and datacore-msg-mark-read-on-show
               (not (datacore-msg-task-p item))
               (datacore-msg-get item 'unread))
      (setq item (datacore-msg-json "read" "--" (datacore-msg-get item 'id)))
      (run-hooks 'datacore-msg-after-change-hook))
    (with-current-buffer buffer
      (datacore-msg-message-mode)
      (let ((inhibit-read-only t))
        (erase-buffer)
        (if (datacore-msg-task-p item)
            (datacore-msg--insert-task item)
          (datacore-msg--insert-message item))
        (set-buffer-modified-p nil)
        (goto-char (point-min)))
      (setq datacore-msg--shown (cons 'show (datacore-msg-get item 'id))))
    (pop-to-buffer buffer)
    buffer))

(defun datacore-msg-thread (id)
  "Show the conversation that message ID (at point by default) belongs to."
  (interactive (list (datacore-msg-read-id "Thread of message (ID): ")))
  (let* ((thread (datacore-msg-json "thread" "--" id))
         (root (datacore-msg-get thread 'root))
         (buffer (get-buffer-create (format "*datacore-msg thread %s*" root))))
    (with-current-buffer buffer
      (datacore-msg-message-mode)
      (let ((inhibit-read-only t))
        (erase-buffer)
        (dolist (m (datacore-msg-get thread 'messages))
          (datacore-msg--insert-message m)
          (insert "\n"))
        (set-buffer-modified-p nil)
        (goto-char (point-min)))
      (setq datacore-msg--shown (cons 'thread root)))
    (pop-to-buffer buffer)
    buffer))

;;; Refreshing after a change

(defun datacore-msg-refresh-views ()
  "Refresh every live view of the package from msg."
  (dolist (buffer (buffer-list))
    (with-current-buffer buffer
      (cond
       ((derived-mode-p 'datacore-msg-inbox-mode 'datacore-msg-tasks-mode)
        (condition-case err
            (progn (revert-buffer) nil)
          (datacore-msg-error (message "datacore-msg: %s" (cadr err)))))
       ((derived-mode-p 'datacore-msg-message-mode)
        (datacore-msg--reshow))))))

(add-hook 'datacore-msg-after-change-hook #'datacore-msg-refresh-views)

(provide 'datacore-msg-views)

;;; datacore-msg-views.el ends here
