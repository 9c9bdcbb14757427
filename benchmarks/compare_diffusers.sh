#!/bin/sh
# Phosphor against diffusers on this machine, in one command, same threads and sizes: runs `phosphor bench sd --json`
# and benchmarks/diffusers_cpu.py --json one after the other and prints each stage's seconds and the ratio
# (diffusers ÷ phosphor: above 1 = Phosphor faster), the FLOPs each counted (they must agree: the same network),
# and peak RSS. Absolute seconds drift on a shared machine; the ratios from one run are what to compare.
# Usage: benchmarks/compare_diffusers.sh [SIZES=256,512] [THREADS=2] [E2E_STEPS=0]   (PYTHON=/path/to/venv/bin/python)
# E2E_STEPS > 0 also times a whole txt2img (text encoder, that many Euler steps with CFG, decode) at the first size.
# PHOSPHOR_PRECISION=bf16 runs phosphor with --bf16 (AMX); DIFFUSERS_PRECISION=bf16 runs diffusers in torch.bfloat16.
# ROUNDS=N (default 1) alternates the two N times (ours, theirs, ours, …) and keeps each stage's best time: on a shared
# machine whose speed swings by a third within minutes, one slow spell then cannot land on one side only.
set -eu
SIZES=${1:-256,512}
THREADS=${2:-2}
E2E=${3:-0}
PYTHON=${PYTHON:-python3}
BIN=${PHOSPHOR:-.build/release/phosphor}
OURS_PRECISION=${PHOSPHOR_PRECISION:-fp32}
THEIRS_PRECISION=${DIFFUSERS_PRECISION:-fp32}
case "$OURS_PRECISION" in fp32) FLAGS="";; bf16) FLAGS="--bf16";; *) echo "PHOSPHOR_PRECISION must be fp32 or bf16" >&2; exit 2;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-1}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
round=1
while [ "$round" -le "$ROUNDS" ]; do
    "$BIN" bench sd --sizes "$SIZES" --threads "$THREADS" --e2e-steps "$E2E" $FLAGS --json > "$DIR/ours.$round"
    "$PYTHON" "$HERE/diffusers_cpu.py" --sizes "$SIZES" --threads "$THREADS" --e2e-steps "$E2E" --dtype "$THEIRS_PRECISION" --json > "$DIR/theirs.$round"
    round=$((round + 1))
done
"$PYTHON" - "$DIR" "$ROUNDS" <<'PY'
import json, sys
def best(runs):
    """Each stage's fastest time (and highest sgemm rate, largest peak RSS) over the rounds."""
    out = runs[0]
    for run in runs[1:]:
        out["sgemm_gflops"] = max(out["sgemm_gflops"], run["sgemm_gflops"])
        out["text_encoder_seconds"] = min(out["text_encoder_seconds"], run["text_encoder_seconds"])
        out["peak_rss_bytes"] = max(out["peak_rss_bytes"], run["peak_rss_bytes"])
        for key in ("unet_step", "vae_decode"):
            for a, b in zip(out[key], run[key]):
                a["seconds"] = min(a["seconds"], b["seconds"])
        if "txt2img" in out:
            out["txt2img"]["seconds"] = min(out["txt2img"]["seconds"], run["txt2img"]["seconds"])
    return out
rounds = int(sys.argv[2])
ours = best([json.load(open(f"{sys.argv[1]}/ours.{r}")) for r in range(1, rounds + 1)])
theirs = best([json.load(open(f"{sys.argv[1]}/theirs.{r}")) for r in range(1, rounds + 1)])
print(f"phosphor {ours.get('compute', 'fp32')} against diffusers {theirs.get('dtype', 'fp32')}"
      + (f", best of {rounds} alternated rounds" if rounds > 1 else ""))
print(f"{'stage':26s} {'phosphor s':>11s} {'diffusers s':>12s} {'speed-up':>9s}   GFLOP (ours / torch)")
print(f"{'sgemm GFLOP/s':26s} {ours['sgemm_gflops']:11.1f} {theirs['sgemm_gflops']:12.1f}")
print(f"{'text encoder':26s} {ours['text_encoder_seconds']:11.3f} {theirs['text_encoder_seconds']:12.3f} {theirs['text_encoder_seconds'] / ours['text_encoder_seconds']:8.2f}x")
for key, name in (("unet_step", "U-Net step (batch 2)"), ("vae_decode", "VAE decode")):
    for a, b in zip(ours[key], theirs[key]):
        print(f"{name + ' ' + str(a['size']) + ' px':26s} {a['seconds']:11.3f} {b['seconds']:12.3f} {b['seconds'] / a['seconds']:8.2f}x   {a['gflop']:.1f} / {b['gflop']:.1f}")
if "txt2img" in ours and "txt2img" in theirs:
    a, b = ours["txt2img"], theirs["txt2img"]
    print(f"{'txt2img ' + str(a['size']) + ' px, ' + str(a['steps']) + ' steps':26s} {a['seconds']:11.2f} {b['seconds']:12.2f} {b['seconds'] / a['seconds']:8.2f}x")
print(f"{'peak RSS GiB':26s} {ours['peak_rss_bytes'] / 2**30:11.2f} {theirs['peak_rss_bytes'] / 2**30:12.2f} {theirs['peak_rss_bytes'] / ours['peak_rss_bytes']:8.2f}x")
PY
