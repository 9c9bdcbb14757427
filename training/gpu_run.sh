#!/bin/bash
# One GPU session of default-model training (about 8 minutes on one H100/H200): VQ then U-Net,
# the CLIP image tower alongside; a sample grid; fp16 weights + logs packed into $OUT in ≤ 15 MB parts.
# Usage (device machine, repository root): OUT=/some/dir bash training/gpu_run.sh [vq_s unet_s clip_s]
# EMOJI=0.3 mixes that share of emoji scenes into every stage: render them here first
# (python training/emoji_scenes.py --cache training/cache/emoji_tiles.npz; git-ignored) and carry training/cache.
set -u
VQ_S=${1:-100}; UNET_S=${2:-330}; CLIP_S=${3:-430}
RUN=/tmp/run; mkdir -p $RUN/vq $RUN/unet $RUN/clip
EMOJI=${EMOJI:-0}
if [ -f training/cache/emoji_tiles.npz ]; then for s in vq unet clip; do cp training/cache/emoji_tiles.npz $RUN/$s/; done; fi
export PYTHONUNBUFFERED=1; DEVICE=${DEVICE:-cuda}; PY=${PY:-python3}
nvidia-smi 2>/dev/null --query-gpu=name,memory.total --format=csv,noheader
$PY -c "import torch, transformers, diffusers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'diffusers', diffusers.__version__)"
timeout $((CLIP_S + 60)) $PY training/train.py clip --device $DEVICE --out $RUN/clip --emoji $EMOJI --seconds $CLIP_S --batch ${CLIP_B:-512} --log-every 30 > $RUN/clip.log 2>&1 &
timeout $((VQ_S + 60)) $PY training/train.py vq --device $DEVICE --out $RUN/vq --emoji $EMOJI --seconds $VQ_S --batch ${VQ_B:-64} --log-every 15 2>&1 | grep -v -i "unexpected\|load report\|^$" | tee $RUN/vq.log
timeout $((UNET_S + 60)) $PY training/train.py unet --device $DEVICE --vq $RUN/vq --out $RUN/unet --emoji $EMOJI --seconds $UNET_S --batch ${UNET_B:-256} --log-every 30 2>&1 | grep -v -i "unexpected\|load report\|^$" | tee $RUN/unet.log
wait
tail -5 $RUN/clip.log
timeout 60 $PY training/sample.py --runs $RUN --device $DEVICE --out $RUN/samples.png 2>&1 | tail -2
$PY - <<'PY'
import glob, torch
from safetensors.torch import load_file, save_file
for p in glob.glob("/tmp/run/*/weights.safetensors"):
    save_file({k: v.half() for k, v in load_file(p).items()}, p.replace("weights.", "weights.fp16."))
PY
cd $RUN && tar czf /tmp/run.tgz */config.json */weights.fp16.safetensors clip/text_projection.safetensors *.log samples.png 2>/dev/null
ls -la /tmp/run.tgz; cd /tmp && split -b 15M run.tgz "$OUT/run.tgz." && ls -la $OUT
