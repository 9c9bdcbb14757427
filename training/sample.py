"""Reference sampler for the default model (PyTorch + diffusers components), and a labelled grid.

The same function produces the evaluation samples and the Swift pipeline's fixture, so what the
Swift code is compared with is exactly what was evaluated.

    python training/sample.py --model assets/default --out grid.png "a red circle" "a blue star left of a green square"
    python training/sample.py --runs runs/ --out grid.png          # straight from training outputs
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (COORDINATE_CHANNELS, DEFAULT_MODEL, SCHEDULER_CONFIG, TextTower, coordinate_ramps,  # noqa: E402
                    recommended_layout)


class DefaultModel:
    def __init__(self, device="cpu", model=DEFAULT_MODEL, runs=None):
        from diffusers import UNet2DConditionModel, VQModel
        from safetensors.torch import load_file
        self.device = device
        if runs:
            def load(cls, name):
                cfg = json.load(open(os.path.join(runs, name, "config.json")))
                m = cls(**{k: v for k, v in cfg.items() if not k.startswith("_") and k != COORDINATE_CHANNELS})
                m.load_state_dict(load_file(os.path.join(runs, name, "weights.safetensors")))
                return m, cfg
            self.unet, unet_cfg = load(UNet2DConditionModel, "unet")
            self.vq, vq_cfg = load(VQModel, "vq")
            self.scheduler_config = SCHEDULER_CONFIG
        else:
            self.unet = UNet2DConditionModel.from_pretrained(os.path.join(model, "unet"), dtype=torch.float32)
            unet_cfg = json.load(open(os.path.join(model, "unet", "config.json")))
            self.vq = VQModel.from_pretrained(os.path.join(model, "vqvae"), dtype=torch.float32)
            vq_cfg = dict(self.vq.config)
            self.scheduler_config = json.load(open(os.path.join(model, "scheduler", "scheduler_config.json")))
        self.scaling = vq_cfg["scaling_factor"]
        self.coords = unet_cfg.get(COORDINATE_CHANNELS, 0) == 2
        self.unet = self.unet.float().to(device).eval()
        self.vq = self.vq.float().to(device).eval()
        self.text = TextTower(device, model if not runs else DEFAULT_MODEL)

    @torch.no_grad()
    def generate(self, prompts, seeds, steps=20, cfg=5.0, negative="", image=None, mask=None, trace=None, layout=None):
        """Euler (EulerDiscreteScheduler) with classifier-free guidance; initial noise per seed from
        torch.Generator('cpu').manual_seed(seed), shape (1, 3, 32, 32). For inpainting pass image (B,3,128,128)
        in [-1, 1] and mask (B,1,128,128), 1 = repaint; otherwise the mask is all ones (text-to-image).
        layout: "auto" (regions from each prompt's relation phrase, regions.auto_layout) or a list of regions
        (x, y, w, h, prompt, strength) in pixels for every prompt: regional prompting (regions.py)."""
        if layout is not None:
            return torch.cat([self.generate_regional(p, s, steps, cfg, negative, layout, trace)
                              for p, s in zip(prompts, seeds)])
        from diffusers import EulerDiscreteScheduler
        sched = EulerDiscreteScheduler.from_config(self.scheduler_config)
        sched.set_timesteps(steps)
        n = len(prompts)
        lat = torch.cat([torch.randn(1, 3, 32, 32, generator=torch.Generator("cpu").manual_seed(s)) for s in seeds])
        lat = (lat * sched.init_noise_sigma).to(self.device)
        cond, _ = self.text(prompts)
        uncond, _ = self.text([negative] * n)
        context = torch.cat([uncond, cond])
        if mask is None:
            mask = torch.ones(n, 1, 128, 128)
            image = torch.zeros(n, 3, 128, 128)
        mask, image = mask.to(self.device), image.to(self.device)
        masked = self.vq.encode(image * (mask < 0.5)).latents * self.scaling
        mask_lat = torch.nn.functional.interpolate(mask, size=(32, 32))
        extra = [mask_lat, masked] + ([coordinate_ramps(n, 32, self.device)] if self.coords else [])
        extra = torch.cat([torch.cat(extra, 1)] * 2)
        for t in sched.timesteps:
            inp = sched.scale_model_input(torch.cat([lat, lat]), t)
            eps = self.unet(torch.cat([inp, extra], 1), t, encoder_hidden_states=context).sample
            eps_u, eps_c = eps.chunk(2)
            lat = sched.step(eps_u + cfg * (eps_c - eps_u), t, lat).prev_sample
            if trace is not None:
                trace.append(lat.cpu().clone())
        return self.vq.decode(lat / self.scaling).sample.clamp(-1, 1).cpu()


    @torch.no_grad()
    def generate_regional(self, prompt, seed, steps, cfg, negative, layout, trace=None):
        """One text-to-image generation with regions (regions.py): at every step the whole latent's guided
        prediction, plus each region's on its crop (its own prompt, the same negative, the same CFG) weighted by
        regions.region_weights, divided by the sum of the weights (1 for the whole image)."""
        from diffusers import EulerDiscreteScheduler
        from regions import auto_layout, region_weights
        regions = auto_layout(prompt, 128, 128) if layout == "auto" else layout
        sched = EulerDiscreteScheduler.from_config(self.scheduler_config)
        sched.set_timesteps(steps)
        lat = torch.randn(1, 3, 32, 32, generator=torch.Generator("cpu").manual_seed(seed))
        lat = (lat * sched.init_noise_sigma).to(self.device)
        states, _ = self.text([negative, prompt] + [r[4] for r in regions])
        masked = self.vq.encode(torch.zeros(1, 3, 128, 128, device=self.device)).latents * self.scaling
        extra = [torch.ones(1, 1, 32, 32, device=self.device), masked] + ([coordinate_ramps(1, 32, self.device)] if self.coords else [])
        extra = torch.cat(extra, 1)
        f = 4  # pixels per latent pixel
        boxes = [(x // f, y // f, w // f, h // f) for x, y, w, h, _, _ in regions]
        weights = [torch.tensor(region_weights(x0, y0, w, h, 32, 32, r[5]), dtype=torch.float32, device=self.device)
                   for (x0, y0, w, h), r in zip(boxes, regions)]

        def guided(x, context):
            eps_u, eps_c = self.unet(torch.cat([x, x]), t, encoder_hidden_states=context).sample.chunk(2)
            return eps_u + cfg * (eps_c - eps_u)

        for t in sched.timesteps:
            full = torch.cat([sched.scale_model_input(lat, t), extra], 1)
            acc = guided(full, states[:2])
            total = torch.ones(32, 32, device=self.device)
            for i, ((x0, y0, w, h), wt) in enumerate(zip(boxes, weights)):
                g = guided(full[:, :, y0:y0 + h, x0:x0 + w], torch.stack([states[0], states[2 + i]]))
                acc[:, :, y0:y0 + h, x0:x0 + w] += wt * g
                total[y0:y0 + h, x0:x0 + w] += wt
            lat = sched.step(acc / total, t, lat).prev_sample
            if trace is not None:
                trace.append(lat.cpu().clone())
        return self.vq.decode(lat / self.scaling).sample.clamp(-1, 1).cpu()


def phosphor_images(binary, prompts, seeds, steps, cfg, model, layout="off"):
    import subprocess
    import tempfile
    from PIL import Image
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (prompt, seed) in enumerate(zip(prompts, seeds)):
            path = os.path.join(tmp, f"{i}.png")
            subprocess.run([binary, "generate", prompt, "--seed", str(seed), "--steps", str(steps), "--cfg-scale", str(cfg),
                            "--model", model, "-o", path, "--quiet", "--layout", layout], check=True)
            out.append(torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float() / 127.5 - 1)
    return torch.stack(out)


def labelled_grid(images, labels, cols=4, size=128):
    from PIL import Image, ImageDraw
    rows = (len(images) + cols - 1) // cols
    cell_h = size + 24
    grid = Image.new("RGB", (cols * size, rows * cell_h), "white")
    draw = ImageDraw.Draw(grid)
    arr = ((images.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
    for i, (im, label) in enumerate(zip(arr, labels)):
        x, y = (i % cols) * size, (i // cols) * cell_h
        grid.paste(Image.fromarray(im), (x, y))
        words, lines = label.split(), [""]
        for w in words:
            if len(lines[-1]) + len(w) + 1 > 21:
                lines.append("")
            lines[-1] = (lines[-1] + " " + w).strip()
        draw.text((x + 2, y + size + 1), "\n".join(lines[:2]), fill="black", spacing=0)
    return grid


DEMO_PROMPTS = [
    "a red circle", "a blue square", "a green triangle", "a yellow star",
    "an orange ring", "a purple cross", "a big pink circle", "a small cyan square",
    "a red circle left of a blue square", "a blue circle left of a red square",
    "a yellow star above a green ring", "a white cross below a black triangle",
    "two red circles", "three blue stars", "a purple star", "a red circle on a yellow background",
]

# Issue 10's labelled emoji grid: names as emoji_scenes.py captions them; the last five are held out of training.
EMOJI_PROMPTS = [
    "a hedgehog", "a grinning face", "a red heart", "a dog face", "an umbrella", "a hamburger", "a bicycle",
    "a snowman", "a dog face left of a hamburger", "a red heart above an umbrella on a blue background",
    "a cat face", "a pizza", "a rocket", "a sunflower", "a ghost",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prompts", nargs="*")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--runs")
    ap.add_argument("--out", default="grid.png")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cfg", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--phosphor", help="make the images with this phosphor binary (seed + i for prompt i)")
    ap.add_argument("--emoji", action="store_true", help="the emoji suite instead of the demo prompts: seen emoji, "
                    "pairs with relations, and the five held out of training (last row)")
    ap.add_argument("--layout", choices=["auto", "off"],
                    help="regional prompting for relation prompts (regions.py; default: the model's own setting, as phosphor)")
    args = ap.parse_args()
    args.layout = args.layout or recommended_layout(args.model)
    prompts = args.prompts or (EMOJI_PROMPTS if args.emoji else DEMO_PROMPTS)
    seeds = [args.seed + i for i in range(len(prompts))]
    if args.phosphor:
        images = phosphor_images(args.phosphor, prompts, seeds, args.steps, args.cfg, args.model, args.layout)
    else:
        model = DefaultModel(args.device, args.model, args.runs)
        images = model.generate(prompts, seeds, args.steps, args.cfg, layout="auto" if args.layout == "auto" else None)
    labelled_grid(images, prompts).save(args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
