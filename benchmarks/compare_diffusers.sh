#!/bin/sh
# Phosphor against diffusers on this machine, in one command, same threads and sizes: runs `phosphor bench sd --json`
# and benchmarks/diffusers_cpu.py --json one after the other and prints each stage's seconds and the ratio
# (diffusers ÷ phosphor: above 1 = Phosphor faster), the FLOPs each counted (they must agree: the same network),
# and peak RSS. Absolute seconds drift on a shared machine; the ratios from one run are what to compare.
# Usage: benchmarks/compare_diffusers.sh [SIZES=256,512] [THREADS=2] [E2E_STEPS=0]   (PYTHON=/path/to/venv/bin/python)
# E2E_STEPS > 0 also times a whole txt2img (text encoder, that many Euler steps with CFG, decode) at the first size.
# PHOSPHOR_PRECISION=bf16 runs phosphor with --bf16 (AMX); DIFFUSERS_PRECISION=bf16 runs diffusers in torch.bfloat16.
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
OURS=$(mktemp); THEIRS=$(mktemp)
trap 'rm -f "$OURS" "$THEIRS"' EXIT
"$BIN" bench sd --sizes "$SIZES" --threads "$THREADS" --e2e-steps "$E2E" $FLAGS --json > "$OURS"
"$PYTHON" "$HERE/diffusers_cpu.py" --sizes "$SIZES" --threads "$THREADS" --e2e-steps "$E2E" --dtype "$THEIRS_PRECISION" --json > "$THEIRS"
"$PYTHON" - "$OURS" "$THEIRS" <<'PY'
import json, sys
ours, theirs = (json.load(open(p)) for p in sys.argv[1:3])
print(f"phosphor {ours.get('compute', 'fp32')} against diffusers {theirs.get('dtype', 'fp32')}")
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
