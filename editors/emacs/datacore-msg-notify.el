;;; datacore-msg-notify.el --- Arrivals: notifications, mode line, auto-revert  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The datacore-messaging authors
;; SPDX-License-Identifier: MIT

;; This file is part of datacore-msg; see datacore-msg.el.

;;; Commentary:

;; `datacore-msg-watch-mode' watches the messaging directory and its agents/ directory
;; with `file-notify' (inotify on Linux, kqueue, w32notify; no polling).  When an org file
;; there changes (msg, the relay client, an agent's hook or another Emacs wrote it), it asks
;; msg what is unread and what waits for you, calls `datacore-msg-notify-function' for
;; each message or task that was not there before, updates the unread count in the mode
;; line, refreshes the views, and reverts the buffers visiting those files (unless you
;; have unsaved changes in them).

;;; Code:

(require 'filenotify)
(require 'notifications)
(require 'datacore-msg-cli)
(require 'datacore-msg-views)

(defcustom datacore-msg-notify-function #'datacore-msg-notify
  "Called with one ITEM (an alist) for each message or task that arrives.
ITEM has `kind' (`message', `file-delivery', `task-waiting' or `task-done'),
`id', `from' and `subject'."
  :group 'datacore-msg
  :type 'function)

(defcustom datacore-msg-notify-with-dbus t
  "Whether `datacore-msg-notify' uses desktop notifications where D-Bus has them.
Otherwise, and where there is no D-Bus session, it uses the echo area."
  :group 'datacore-msg
  :type 'boolean)

(defcustom datacore-msg-watch-delay 0.02
  "Seconds to wait after a file event before asking msg.
The events of one write (a rename, then a change of attributes) so lead to one
look."
  :group 'datacore-msg
  :type 'number)

(defcustom datacore-msg-mode-line-format " ✉%d"
  "How the mode line shows the number of unread messages (nothing when 0)."
  :group 'datacore-msg
  :type 'string)

(defvar datacore-msg-watch-mode)  ; defined below, read before

(defvar datacore-msg--watches nil
  "The `file-notify' descriptors of the watched directories.")

(defvar datacore-msg--watched-files nil
  "The org files msg reported for this root and space.")

(defvar datacore-msg--known nil
  "Hash table of the IDs already seen (unread messages, waiting and done tasks).")

(defvar datacore-msg--unread-count 0
  "Unread messages, as last counted.")

(defvar datacore-msg--pending-timer nil
  "The timer of the look scheduled after a file event.")

(defvar datacore-msg-arrival-hook nil
  "Run with one ITEM for each arrival, after `datacore-msg-notify-function'.")

;;; Arrivals

(defun datacore-msg--arrivals-now ()
  "What counts as an arrival, as msg lists it now: (KIND ID FROM SUBJECT) lists."
  (let ((items nil))
    (dolist (m (datacore-msg-json "inbox" "--unread"))
      (push (list (if (equal (datacore-msg-get m 'kind) "file_delivery")
                      'file-delivery 'message)
                  (datacore-msg-get m 'id) (datacore-msg-get m 'from)
                  (datacore-msg-subject m))
            items))
    (dolist (task (apply #'datacore-msg-json "tasks" "--state" "WAITING,DONE"
                         (datacore-msg--agent-args)))
      (push (list (if (equal (datacore-msg-get task 'state) "WAITING")
                      'task-waiting 'task-done)
                  (datacore-msg-get task 'id) (datacore-msg-get task 'from)
                  (datacore-msg-get task 'title))
            items))
    (nreverse items)))

(defun datacore-msg--look ()
  "Ask msg what is there now and announce what is new.
Then refresh the mode line, the views and the buffers visiting the files."
  (setq datacore-msg--pending-timer nil)
  (condition-case err
      (let* ((items (datacore-msg--arrivals-now))
             (first-look (null datacore-msg--known))
             (known (or datacore-msg--known (make-hash-table :test #'equal))))
        (setq datacore-msg--known known)
        (setq datacore-msg--unread-count
              (seq-count (lambda (i) (memq (car i) '(message file-delivery))) items))
        (dolist (item items)
          ;; A task is announced again when it moves from waiting to done.
          (let ((key (format "%s %s" (car item) (nth 1 item))))
            (unless (gethash key known)
              (puthash key t known)
              (unless first-look
                (let ((arrival `((kind . ,(car item)) (id . ,(nth 1 item))
                                 (from . ,(nth 2 item)) (subject . ,(nth 3 item)))))
                  (funcall datacore-msg-notify-function arrival)
                  (run-hook-with-args 'datacore-msg-arrival-hook arrival))))))
        (force-mode-line-update t)
        (datacore-msg--revert-visiting)
        (datacore-msg-refresh-views))
    (datacore-msg-error (message "datacore-msg: %s" (cadr err)))))

(defun datacore-msg--revert-visiting ()
  "Revert the unmodified buffers that visit a watched file that changed on disk."
  (dolist (buffer (buffer-list))
    (let ((file (buffer-file-name buffer)))
      (when (and file (member (expand-file-name file) datacore-msg--watched-files))
        (with-current-buffer buffer
          (unless (or (buffer-modified-p) (verify-visited-file-modtime buffer))
            (revert-buffer t t t)))))))

(defun datacore-msg--event (event)
  "Handle file-notify EVENT: schedule a look when an org file changed."
  (let ((files (delq nil (list (nth 2 event) (nth 3 event)))))
    (when (seq-some (lambda (f) (and (stringp f)
                                     (string-suffix-p ".org" f)
                                     (not (string-prefix-p "." (file-name-nondirectory f)))))
                    files)
      (unless datacore-msg--pending-timer
        (setq datacore-msg--pending-timer
              (run-at-time datacore-msg-watch-delay nil #'datacore-msg--look))))))

;;; Notifications

(defun datacore-msg--describe (item)
  "A one-line description of arrival ITEM."
  (let ((from (or (alist-get 'from item) "?"))
        (subject (or (alist-get 'subject item) "")))
    (pcase (alist-get 'kind item)
      ('task-waiting (format "Task from %s waits for your approval: %s" from subject))
      ('task-done (format "Task done, to review: %s" subject))
      ('file-delivery (format "File from %s: %s" from subject))
      (_ (format "Message from %s: %s" from subject)))))

(defun datacore-msg-notify (item)
  "Tell the person about arrival ITEM.
Use a desktop notification where D-Bus has one, else the echo area."
  (let ((text (datacore-msg--describe item)))
    (if (and datacore-msg-notify-with-dbus
             (featurep 'dbusbind)
             (ignore-errors (dbus-ping :session "org.freedesktop.Notifications" 200)))
        (notifications-notify :title "datacore-msg" :body text
                              :app-name "datacore-msg")
      (message "datacore-msg: %s" text))))

(defun datacore-msg--mode-line-string ()
  "The mode line's unread count, or nothing."
  (if (and datacore-msg-watch-mode (> datacore-msg--unread-count 0))
      (format datacore-msg-mode-line-format datacore-msg--unread-count)
    ""))

(defconst datacore-msg--mode-line-entry '(:eval (datacore-msg--mode-line-string))
  "What `datacore-msg-watch-mode' adds to `global-mode-string'.")

;;;###autoload
(define-minor-mode datacore-msg-watch-mode
  "Notice arrivals of messages and tasks.
Show notifications, the unread count in the mode line, and keep the views and
the buffers visiting the messaging files fresh.  Driven by file notifications on
the messaging directory, not by polling."
  :global t
  :group 'datacore-msg
  (datacore-msg--unwatch)
  (if (not datacore-msg-watch-mode)
      (setq global-mode-string (delete datacore-msg--mode-line-entry global-mode-string))
    (condition-case err
        (progn
          (setq datacore-msg--watched-files
                (mapcar #'expand-file-name (datacore-msg-files)))
          (unless datacore-msg--watched-files
            (user-error "No messaging files: msg reported none (run `msg init')"))
          (dolist (dir (seq-uniq (mapcar #'file-name-directory datacore-msg--watched-files)))
            (push (file-notify-add-watch dir '(change) #'datacore-msg--event)
                  datacore-msg--watches))
          (setq datacore-msg--known nil)
          (datacore-msg--look)
          (unless (member datacore-msg--mode-line-entry global-mode-string)
            (setq global-mode-string
                  (append (or global-mode-string '("")) (list datacore-msg--mode-line-entry)))))
      (error
       (datacore-msg--unwatch)
       (setq datacore-msg-watch-mode nil)
       (signal (car err) (cdr err))))))

(defun datacore-msg--unwatch ()
  "Remove every watch."
  (mapc #'file-notify-rm-watch datacore-msg--watches)
  (setq datacore-msg--watches nil)
  (when datacore-msg--pending-timer
    (cancel-timer datacore-msg--pending-timer)
    (setq datacore-msg--pending-timer nil)))

(provide 'datacore-msg-notify)

;;; datacore-msg-notify.el ends here
