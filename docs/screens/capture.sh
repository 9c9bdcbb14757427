#!/bin/sh
# Text screenshots of the studio (tmux capture-pane -e: characters with their colours), one file per screen:
# main.ansi (after a generation), gallery.ansi, painter.ansi, help.ansi. `cat FILE` in a 24-bit colour terminal
# shows them. Usage: docs/screens/capture.sh [PHOSPHOR_BINARY]
set -eu
BIN=${1:-.build/release/phosphor}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
OUT=$(cd "$(dirname "$0")" && pwd)
DIR=$(mktemp -d)
SOCK=phosphor-screens-$$
trap 'tmux -L $SOCK kill-server 2>/dev/null || true; rm -rf "$DIR"' EXIT
t() { tmux -L $SOCK "$@"; }
waitfor() { until t capture-pane -t s -p | grep -q -- "$1"; do sleep 0.1; done; sleep 0.3; }
t new-session -d -s s -x 110 -y 34 "cd $DIR && TERM=xterm-256color COLORTERM=truecolor PHOSPHOR_HISTORY=$DIR/h '$BIN' -o $DIR/out --graphics truecolor; sleep 60"
waitfor "enter generate"
t send-keys -t s -l "a red circle left of a blue square on a yellow background"
t send-keys -t s Enter
waitfor "Done in"
t capture-pane -t s -p -e > "$OUT/main.ansi"
t send-keys -t s -l " "; t send-keys -t s BSpace Enter
waitfor "00001-"
t send-keys -t s F2
waitfor "Gallery: 2 images"
t capture-pane -t s -p -e > "$OUT/gallery.ansi"
t send-keys -t s m
waitfor "pen up"
t send-keys -t s Space Right Right Down Down
t capture-pane -t s -p -e > "$OUT/painter.ansi"
t send-keys -t s Escape Escape F1
waitfor "Keys (assets/keymap"
t capture-pane -t s -p -e > "$OUT/help.ansi"
ls -la "$OUT"/*.ansi
