#!/usr/bin/env bash
# Records the terminal session shown in docs/guide.md ("Emacs"): `msg demo` makes two
# people's roots (alice and bob) with real messages and a task between them; Emacs (-nw, in
# tmux) opens bob's inbox, a message, his agent's tasks and the unread agenda view; each
# screen is captured with `tmux capture-pane`.
#
#   editors/emacs/test/terminal-session.sh [path/to/msg]   # prints the screens
#
# Needs tmux and emacs; msg defaults to target/debug/msg (cargo build -p msg-hooks).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
msg="$(realpath "${1:-$here/../../target/debug/msg}")"
work="$(mktemp -d)"
session="datacore-msg-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT

"$msg" demo --root "$work/demo" >/dev/null
bob="$work/demo/bob"
# A little more life in bob's inbox: a note to himself and a task waiting for approval.
"$msg" --root "$bob" send bob "Buy milk on the way home" >/dev/null
"$msg" --root "$bob" task submit --from tex@team.example.com \
  "Translate the README into German
The French one is a good start." >/dev/null

cat >"$work/init.el" <<EOF
(setq inhibit-startup-screen t)
(add-to-list 'load-path "$here")
(require 'datacore-msg)
(setq datacore-msg-program "$msg"
      datacore-msg-root "$bob"
      datacore-msg-notify-with-dbus nil)
(global-set-key (kbd "C-c m") 'datacore-msg-prefix-map)
(global-set-key (kbd "C-c a") 'org-agenda)
(datacore-msg-setup)
(datacore-msg-watch-mode 1)
(datacore-msg)
EOF

screen() { # title, then keys to send before capturing
  local title="$1"; shift
  for key in "$@"; do tmux send-keys -t "$session" "$key"; sleep 0.5; done
  sleep 1.5
  printf -- '--- %s\n' "$title"
  tmux capture-pane -p -t "$session" | sed -e 's/[[:space:]]*$//'
}

tmux new-session -d -s "$session" -x 100 -y 22 \
  "HOME=$work TERM=xterm-256color emacs -nw -Q -l $work/init.el"
sleep 2
screen "M-x datacore-msg: bob's inbox"
screen "RET on alice's unread message (it becomes read)" Down Enter
screen "T in the inbox: bob's agent's tasks" C-x 1 C-x b '*datacore-msg inbox*' Enter T
screen "C-c a d u: unread messages by sender" C-c a d u
