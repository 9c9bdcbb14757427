#!/bin/bash
# One GPU session that continues the shipped U-Net (assets/default/unet) on scenes + emoji: milestone 2 of issue 10.
# The device tool sends at most 64 MiB, and the repository (assets, fixtures) is over twice that, so the session
# runs from a packed folder and a trimmed working tree:
#   here:  python training/gpu_pack.py pack gpu             # text tower trimmed to the captions' tokens, U-Net, VQ, emoji
#          python3 -m pip download --no-deps --only-binary=:all: -d .whl diffusers==0.42.1 importlib_metadata
#          (gpu/ and .whl/ in .git/info/exclude; assets/ and Tests/Fixtures/ untracked for the call: git rm -r --cached,
#           excluded, and `git reset` afterwards)
#   there: OUT=... bash training/gpu_continue.sh [unet_seconds]     with gpu and .whl carried
# fp16 weights land in $OUT at every save (parts ≤ 15 MiB), so a run cut short still returns its last snapshot.
# From scratch instead (e.g. the attn32 variant, attention at 32² too): INIT=none UNET_CONFIG=attn32 bash ... 600
# COORDS=1: two coordinate channels added to the U-Net input (train.py --coords; zero-initialised from INIT), for the
# pair prompts (issue 10); its parts must be exported into a copy of the model (export.py refuses assets/default).
# VQ_S=300 also fine-tunes the VQ's decoder alone alongside (emoji half its data; the latent space stays): $OUT/vq.*
# Back here: python training/export.py --parts FILES_AT   (merges the parts into assets/default/unet and vqvae)
set -u
UNET_S=${1:-400}; EMOJI=${EMOJI:-0.25}; BATCH=${BATCH:-256}; DEVICE=${DEVICE:-cuda}; PY=${PY:-python3}
INIT=${INIT:-/tmp/model/unet}; UNET_CONFIG=${UNET_CONFIG:-m1}
if [ "$INIT" = none ]; then INIT_ARGS=""; else INIT_ARGS="--init $INIT"; fi
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
$PY -c "import torch, transformers, diffusers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'diffusers', diffusers.__version__)" || exit 1
$PY training/gpu_pack.py unpack gpu /tmp/model || exit 1
mkdir -p /tmp/run/unet && cp gpu/emoji_tiles.npz /tmp/run/unet/
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader -l 30 > $OUT/smi.log 2>&1 &
SMI=$!
VQ_PID=""
if [ "${VQ_S:-0}" -gt 0 ]; then
    mkdir -p /tmp/run/vq && cp gpu/emoji_tiles.npz /tmp/run/vq/
    timeout $((VQ_S + 60)) $PY training/train.py vq --device $DEVICE --init /tmp/model/vqvae --decoder-only --out /tmp/run/vq \
        --emoji ${VQ_EMOJI:-0.5} --seconds $VQ_S --batch ${VQ_B:-64} --lr 1e-4 --cosine --save-every 90 --export-fp16 $OUT \
        --log-every 30 > $OUT/vq.log 2>&1 &
    VQ_PID=$!
fi
set -o pipefail
timeout $((UNET_S + 90)) $PY training/train.py unet --device $DEVICE --model /tmp/model $INIT_ARGS --unet-config $UNET_CONFIG ${COORDS:+--coords} \
    --vq /tmp/model/vqvae --out /tmp/run/unet --emoji $EMOJI --seconds $UNET_S --batch $BATCH --lr ${LR:-3e-4} --cosine \
    --profile-steps 10 --save-every 90 --export-fp16 $OUT --log-every 20 2>&1 \
    | grep --line-buffered -v -i "unexpected\|load report\|^$\|Loading weights\|Key  \|^---\|Notes:\|pooler\|can be ignored" \
    | tee $OUT/unet.log
echo "exit $?"; [ -n "$VQ_PID" ] && wait $VQ_PID; tail -3 $OUT/vq.log 2>/dev/null; kill $SMI 2>/dev/null; ls -la $OUT
