#!/bin/sh
# Key echo latency of the studio while a generation runs: the real binary in tmux (120×40), a long generation
# started with Enter, then N keys typed into the negative prompt one at a time; for each, the time from send-keys
# until capture-pane shows it. Prints every sample and the median and maximum in ms. The figure includes tmux's own
# round trip (one send-keys and a capture-pane per poll, ~2–5 ms each), so it is an upper bound.
# Usage: benchmarks/studio_key_latency.sh [PHOSPHOR_BINARY] [N]
set -eu
BIN=${1:-.build/release/phosphor}
N=${2:-20}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
DIR=$(mktemp -d)
SOCK=phosphor-latency-$$
trap 'tmux -L $SOCK kill-server 2>/dev/null || true; rm -rf "$DIR"' EXIT
tmux -L $SOCK new-session -d -s t -x 120 -y 40 "cd $DIR && TERM=xterm-256color PHOSPHOR_HISTORY=$DIR/h '$BIN' -o $DIR/out; sleep 60"
until tmux -L $SOCK capture-pane -t t -p | grep -q "enter generate"; do sleep 0.1; done
# Many steps so that the whole measurement runs during generation.
tmux -L $SOCK send-keys -t t -l "a red circle left of a blue square"
tmux -L $SOCK send-keys -t t Tab Tab          # focus: parameters (Steps is the first)
i=0; while [ $i -lt 40 ]; do tmux -L $SOCK send-keys -t t Right; i=$((i + 1)); done
tmux -L $SOCK send-keys -t t Tab              # back to the prompt
tmux -L $SOCK send-keys -t t Enter
until tmux -L $SOCK capture-pane -t t -p | grep -q "it/s"; do sleep 0.05; done
tmux -L $SOCK send-keys -t t Tab              # the negative prompt
samples=""
text=""
i=0
while [ $i -lt "$N" ]; do
    ch=$(printf "%s" qwxzjkvbpyfgmhuntoeilsracd | cut -c $((i % 26 + 1)))
    text="$text$ch"
    start=$(date +%s%N)
    tmux -L $SOCK send-keys -t t -l "$ch"
    until tmux -L $SOCK capture-pane -t t -p | grep -q -- "$text"; do :; done
    end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 ))
    samples="$samples $ms"
    running=$(tmux -L $SOCK capture-pane -t t -p | grep -c "it/s" || true)
    echo "key $((i + 1)): ${ms} ms (generating: $([ "$running" -gt 0 ] && echo yes || echo no))"
    i=$((i + 1))
    sleep 0.2
done
echo "$samples" | tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {printf "median %d ms, max %d ms over %d keys\n", a[int((NR+1)/2)], a[NR], NR}'
