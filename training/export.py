"""Export a training run (train.py outputs, or gpu_run.sh's unpacked archive) to assets/default/ in diffusers layout.

    python training/export.py RUN_DIR        # RUN_DIR holds vq/, unet/, clip/ (weights[.fp16].safetensors + config.json)
    python training/export.py --parts OUT    # what gpu_continue.sh left in $OUT (NAME.fp16.partK.safetensors +
                                             # NAME.config.json, NAME = unet / vq) replaces those parts of the model
Weights are stored as fp16 safetensors. The text tower and tokenizer are written by prepare_text_tower.py.
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import COORDINATE_CHANNELS, DEFAULT_MODEL, MAX_TOKENS, SCHEDULER_CONFIG, save_json  # noqa: E402


def shippable(config, where, out):
    """A U-Net with coordinate channels (train.py --coords) stays out of the model Phosphor loads (assets/default)
    until Phosphor feeds them; a copy elsewhere is fine, for evaluate.py (PyTorch) to score."""
    if COORDINATE_CHANNELS in config and os.path.abspath(out) == os.path.abspath(DEFAULT_MODEL):
        raise SystemExit(f"{where}: a U-Net with coordinate channels (train.py --coords), which Phosphor cannot run yet: "
                         f"export into a copy (cp -r {DEFAULT_MODEL} /tmp/m; export.py --parts DIR /tmp/m) and score "
                         "it with evaluate.py score --model /tmp/m")


def weights(folder):
    for name in ("weights.fp16.safetensors", "weights.safetensors"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return {k: v.to(torch.float16).contiguous() for k, v in load_file(path).items()}
    raise SystemExit(f"no weights in {folder}")


def export(run, out=DEFAULT_MODEL):
    parts = {"unet": ("unet", "diffusion_pytorch_model.safetensors"),
             "vq": ("vqvae", "diffusion_pytorch_model.safetensors"),
             "clip": ("image_encoder", "model.safetensors")}
    for src, (dst, filename) in parts.items():
        os.makedirs(os.path.join(out, dst), exist_ok=True)
        save_file(weights(os.path.join(run, src)), os.path.join(out, dst, filename), metadata={"format": "pt"})
        config = json.load(open(os.path.join(run, src, "config.json")))
        if src == "unet":
            shippable(config, os.path.join(run, src), out)
        if src == "clip":
            config = {"architectures": ["CLIPVisionModelWithProjection"], "model_type": "clip_vision_model",
                      **{k: v for k, v in config.items() if not k.startswith("_")}, "torch_dtype": "float16"}
        save_json(config, os.path.join(out, dst, "config.json"))
    proj = load_file(os.path.join(run, "clip", "text_projection.safetensors"))
    save_file({k: v.float().contiguous() for k, v in proj.items()},
              os.path.join(out, "image_encoder", "text_projection.safetensors"), metadata={"format": "pt"})
    os.makedirs(os.path.join(out, "scheduler"), exist_ok=True)
    save_json(SCHEDULER_CONFIG, os.path.join(out, "scheduler", "scheduler_config.json"))
    save_json({
        "_class_name": "PhosphorLatentDiffusionPipeline",
        "text_encoder": ["transformers", "BertModel"],
        "tokenizer": ["transformers", "BertTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vqvae": ["diffusers", "VQModel"],
        "scheduler": ["diffusers", "EulerDiscreteScheduler"],
        "image_encoder": ["transformers", "CLIPVisionModelWithProjection"],
        "phosphor": {"max_tokens": MAX_TOKENS, "width": 128, "height": 128, "guidance_scale": 5.0, "steps": 20,
                     "layout": "auto",  # regional prompting for relation prompts (regions.py)
                     "text_states": "last_hidden_state, padded to max_tokens with [PAD] (attention-masked)",
                     "unet_input": "latents, mask (1 = repaint), masked-image latents; all-ones mask for text-to-image"},
    }, os.path.join(out, "model_index.json"))
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    print(f"exported {run} -> {out}: {total / 1e6:.1f} MB")


def export_parts(folder, out=DEFAULT_MODEL):
    """Merge `train.py --export-fp16` parts into the model's unet/ and vqvae/ (whichever are there)."""
    import glob
    found = False
    for name, dst in (("unet", "unet"), ("vq", "vqvae")):
        parts = sorted(glob.glob(os.path.join(folder, f"{name}.fp16.part*.safetensors")))
        if not parts:
            continue
        found = True
        weights = {}
        for part in parts:
            weights.update({k: v.to(torch.float16).contiguous() for k, v in load_file(part).items()})
        config = json.load(open(os.path.join(folder, f"{name}.config.json")))
        if name == "unet":
            shippable(config, folder, out)
        # A U-Net may change architecture (--unet-config); the VQ must keep the shipped one's tensors.
        if name == "vq" and set(load_file(os.path.join(out, dst, "diffusion_pytorch_model.safetensors"))) != set(weights):
            raise SystemExit(f"{folder}: the VQ's tensors differ from {out}/{dst}'s")
        save_file(weights, os.path.join(out, dst, "diffusion_pytorch_model.safetensors"), metadata={"format": "pt"})
        save_json(config, os.path.join(out, dst, "config.json"))
        print(f"{len(parts)} part(s), {len(weights)} tensors -> {out}/{dst}")
    if not found:
        raise SystemExit(f"no unet.fp16.part*.safetensors or vq.fp16.part*.safetensors in {folder}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--parts"]:
        export_parts(sys.argv[2], *(sys.argv[3:4]))
    else:
        export(sys.argv[1], *(sys.argv[2:3]))
