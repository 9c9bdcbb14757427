"""Train the default model's parts on the scene world: `vq`, `unet`, `clip`.

Each stage runs for --steps or --seconds (whichever ends first), saves a resumable checkpoint
(`state.pt`, with the data sampler's state) and the exportable weights (`weights.safetensors`,
`config.json`) into --out. Deterministic for a given seed and step count; CPU always works,
`--device cuda` uses a GPU (bf16 autocast).

    python training/train.py vq   --out runs/vq   --seconds 5400
    python training/train.py unet --out runs/unet --vq runs/vq --seconds 5400
    python training/train.py clip --out runs/clip --seconds 5400
"""
import argparse
import math
import os
import queue
import random
import re
import sys
import threading
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (CLIP_VISION_CONFIG, COORDINATE_CHANNELS, DEFAULT_MODEL, SCHEDULER_CONFIG, UNET_CONFIGS,  # noqa: E402
                    VQ_CONFIG, TextTower, autocast, coordinate_ramps,
                    pick_device, save_json)
from scenes import (BACKGROUND_PHRASES, COLOUR_NAMES, NUMBERS, PREFIXES, SHAPES, SceneSampler, noun_phrase,  # noqa: E402
                    pixel_centres, plural, render)


class Stage:
    profile = None
    prefetched = None
    resume_data = None

    def __init__(self, args):
        self.args = args
        self.device = pick_device(args.device)
        torch.manual_seed(args.seed)
        self.sampler = SceneSampler(args.seed)
        self.jitter = random.Random(args.seed + 1)
        self.step = 0
        os.makedirs(args.out, exist_ok=True)
        # Emoji scenes (emoji_scenes.py) replace a share of every batch when --emoji > 0.
        self.emoji = None
        if args.emoji > 0:
            from emoji_scenes import EmojiIndex, EmojiSampler
            self.emoji = EmojiSampler(EmojiIndex(cache=os.path.join(args.out, "emoji_tiles.npz")), args.seed + 2)

    def batch(self, n):
        """n scene descriptions and their images; with --emoji, each is an emoji scene ("kind": "emoji") with that
        probability, placed after the shape scenes."""
        k = sum(self.emoji.rng.random() < self.args.emoji for _ in range(n)) if self.emoji else 0
        scenes = [self.sampler.sample() for _ in range(n - k)]
        images = [render(scenes, self.device, jitter_seed=self.jitter.randrange(2**31))] if scenes else []
        if k:
            from emoji_scenes import render_emoji
            extra = [dict(self.emoji.sample(), kind="emoji") for _ in range(k)]
            images.append(render_emoji(extra, self.emoji.index, self.device))
            scenes += extra
        return scenes, torch.cat(images)

    def data_state(self):
        state = {"sampler": self.sampler.rng.getstate(), "jitter": self.jitter.getstate()}
        if self.emoji:
            state["emoji"] = self.emoji.rng.getstate()
        return state

    def next_batch(self, n):
        """The next training batch. With --prefetch a thread makes the following two while the device trains (on a
        GPU, making the data had been a quarter of each step); the batches are the same either way, and
        `resume_data` (the data generators' state after the batch handed out) is what a checkpoint stores."""
        if not self.args.prefetch:
            batch = self.batch(n)
            self.resume_data = self.data_state()
            return batch
        if self.prefetched is None:
            self.prefetched = queue.Queue(maxsize=2)

            def work():
                try:
                    while True:
                        batch = self.batch(n)
                        self.prefetched.put((batch, self.data_state()))
                except BaseException as error:           # handed to the training thread, which re-raises it
                    self.prefetched.put((error, None))
            threading.Thread(target=work, daemon=True).start()
        batch, state = self.prefetched.get()
        if state is None:
            raise RuntimeError("making training data failed") from batch
        self.resume_data = state
        return batch

    def lr(self, base, warmup=200):
        """Linear warm-up; with --cosine, then a half cosine down to a tenth by the end of the run (--steps, or
        --seconds by the clock: a run bounded by time is then not bit-reproducible)."""
        scale = min(1.0, (self.step + 1) / warmup)
        if self.args.cosine:
            progress = min(1.0, max(self.step / self.args.steps, (time.time() - self.started) / self.args.seconds))
            scale *= 0.1 + 0.45 * (1 + math.cos(math.pi * progress))
        return base * scale

    def tick(self, name):
        """Phase timing of a few steps (--profile-steps): synchronises the device, so only on those steps."""
        if self.profile is None:
            return
        if self.device == "cuda":
            torch.cuda.synchronize()
        now = time.perf_counter()
        if name != "start":
            self.profile[name] = self.profile.get(name, 0.0) + now - self.last_tick
        self.last_tick = now

    def save_state(self, extra):
        state = {"step": self.step, **(self.resume_data or self.data_state()), "torch_rng": torch.get_rng_state(), **extra}
        tmp = os.path.join(self.args.out, "state.pt.tmp")
        torch.save(state, tmp)
        os.replace(tmp, os.path.join(self.args.out, "state.pt"))

    def load_state(self):
        path = os.path.join(self.args.out, "state.pt")
        if not (self.args.resume and os.path.exists(path)):
            return None
        state = torch.load(path, map_location=self.device, weights_only=False)
        self.step = state["step"]
        self.sampler.rng.setstate(state["sampler"])
        self.jitter.setstate(state["jitter"])
        torch.set_rng_state(state["torch_rng"])
        if self.emoji and "emoji" in state:
            self.emoji.rng.setstate(state["emoji"])
        return state

    def run(self):
        start = self.started = time.time()
        last_log = last_save = start
        first = self.step
        while self.step < self.args.steps and time.time() - start < self.args.seconds:
            timed = first + 20 <= self.step < first + 20 + self.args.profile_steps
            self.profile = (self.profile or {}) if timed else None
            self.tick("start")
            logs = self.train_step()
            self.tick("rest")
            if self.step == first + 19 + self.args.profile_steps and self.args.profile_steps:
                total = sum(self.profile.values())
                print(f"[{self.name}] {total / self.args.profile_steps * 1000:.0f} ms a step: " + ", ".join(
                    f"{k} {v / total:.0%}" for k, v in self.profile.items()), flush=True)
            self.step += 1
            now = time.time()
            if now - last_log > self.args.log_every or self.step == first + 1:
                # Values stay on the device between logs (no synchronisation every step).
                print(f"[{self.name}] step {self.step} {now - start:.0f}s lr {self.lr(self.args.lr):.2e} " +
                      " ".join(f"{k} {float(v):.4f}" for k, v in logs.items()), flush=True)
                last_log = now
            if now - last_save > self.args.save_every:
                self.save()
                last_save = now
        self.save()
        print(f"[{self.name}] done: {self.step} steps in {time.time() - start:.0f}s", flush=True)


def save_weights(module, path, config, out, fp16_dir=None, name=None):
    """fp32 weights and config.json into `out`; with fp16_dir (--export-fp16) also an fp16 copy there, split into
    files of at most 15 MiB (`NAME.fp16.partK.safetensors`, the device tool's size limit) beside NAME.config.json."""
    weights = {k: v.detach().float().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(weights, os.path.join(out, path), metadata={"format": "pt"})
    save_json(config, os.path.join(out, "config.json"))
    if fp16_dir:
        os.makedirs(fp16_dir, exist_ok=True)
        parts, size = [{}], 0
        for k, v in weights.items():
            if size + 2 * v.numel() > 15 * 2**20 and parts[-1]:
                parts.append({})
                size = 0
            parts[-1][k] = v.half()
            size += 2 * v.numel()
        for i, part in enumerate(parts):
            tmp = os.path.join(fp16_dir, f"{name}.fp16.part{i}.safetensors.tmp")
            save_file(part, tmp, metadata={"format": "pt"})
            os.replace(tmp, tmp[:-4])
        save_json(config, os.path.join(fp16_dir, f"{name}.config.json"))


def load_part(folder):
    """(state dict in fp32, config) of a stage's output folder (weights.safetensors) or of an exported model part
    (diffusers layout: diffusion_pytorch_model.safetensors / model.safetensors)."""
    for name in ("weights.safetensors", "diffusion_pytorch_model.safetensors", "model.safetensors"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return {k: v.float() for k, v in load_file(path).items()}, load_config(os.path.join(folder, "config.json"))
    raise SystemExit(f"no weights in {folder}")


# ------------------------------------------------------------------ VQ autoencoder

class VQStage(Stage):
    name = "vq"

    def __init__(self, args):
        super().__init__(args)
        from diffusers import VQModel
        self.model = VQModel(**VQ_CONFIG).to(self.device)
        self.fixed_scaling = None
        if args.init:
            # Fine-tune an exported VQ (assets/default/vqvae).
            weights, config = load_part(args.init)
            self.model.load_state_dict(weights)
            self.fixed_scaling = config["scaling_factor"] if args.decoder_only else None
        trained = self.model.parameters()
        if args.decoder_only:
            # Only post_quant_conv and the decoder learn: the encoder, quant_conv and codebook — the latent space a
            # trained U-Net draws in — stay exactly as they are (e.g. to decode emoji better, which milestone 2's VQ,
            # trained on shapes alone, reconstructs at 23.6 dB).
            if not args.init:
                raise SystemExit("--decoder-only needs --init (the VQ whose latent space is kept)")
            for part in (self.model.encoder, self.model.quant_conv, self.model.quantize):
                part.requires_grad_(False)
            trained = list(self.model.post_quant_conv.parameters()) + list(self.model.decoder.parameters())
            args.warmup = -1                    # quantised from the first step, no codebook initialisation
        self.opt = torch.optim.AdamW(trained, lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
        self.usage = torch.zeros(VQ_CONFIG["num_vq_embeddings"], device=self.device)
        state = self.load_state()
        if state:
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["opt"])
        self.scaling = 1.0

    def train_step(self):
        for g in self.opt.param_groups:
            g["lr"] = self.lr(self.args.lr)
        _, x = self.next_batch(self.args.batch)
        warm = self.step < self.args.warmup
        with autocast(self.device):
            h = self.model.encode(x).latents
        h = h.float()
        if self.step == self.args.warmup:
            self.init_codebook(h)
        if warm:
            z, qloss = h, torch.zeros((), device=self.device)
        else:
            z, qloss, (_, _, idx) = self.model.quantize(h)
            self.usage.index_add_(0, idx.flatten(), torch.ones_like(idx.flatten(), dtype=torch.float32))
        with autocast(self.device):
            y = self.model.decode(z, force_not_quantize=True).sample.float()
        rec = (y - x).abs().mean() + F.mse_loss(y, x)
        grad = ((y.diff(dim=-1) - x.diff(dim=-1)).abs().mean() + (y.diff(dim=-2) - x.diff(dim=-2)).abs().mean())
        loss = rec + 0.5 * grad + qloss
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        if not warm and self.step % 200 == 199 and not self.args.decoder_only:
            self.restart_dead_codes(h)
        psnr = -10 * torch.log10(F.mse_loss(y.detach().clamp(-1, 1), x) / 4 + 1e-12)
        return {"loss": loss.detach(), "qloss": qloss.detach(), "psnr": psnr}

    @torch.no_grad()
    def init_codebook(self, h):
        flat = h.permute(0, 2, 3, 1).reshape(-1, h.shape[1])
        pick = torch.randint(0, flat.shape[0], (self.usage.numel(),), device=self.device)
        self.model.quantize.embedding.weight.data.copy_(flat[pick])

    @torch.no_grad()
    def restart_dead_codes(self, h):
        dead = (self.usage == 0).nonzero().flatten()
        if dead.numel():
            flat = h.permute(0, 2, 3, 1).reshape(-1, h.shape[1])
            pick = torch.randint(0, flat.shape[0], (dead.numel(),), device=self.device)
            self.model.quantize.embedding.weight.data[dead] = flat[pick] + 0.01 * torch.randn_like(flat[pick])
        print(f"[vq] codes used {int((self.usage > 0).sum())}/{self.usage.numel()}, restarted {dead.numel()}", flush=True)
        self.usage.zero_()

    @torch.no_grad()
    def save(self):
        self.model.eval()
        # Fresh scenes of their own (the training generators may be in a prefetching thread's hands).
        x = render([SceneSampler(self.args.seed + 99).sample() for _ in range(min(64, 4 * self.args.batch))], self.device)
        std = self.model.encode(x).latents.float().std().item()
        self.model.train()
        scaling = self.fixed_scaling or round(1.0 / std, 5)
        config = dict(VQ_CONFIG, _class_name="VQModel", scaling_factor=scaling)
        save_weights(self.model, "weights.safetensors", config, self.args.out, self.args.export_fp16, "vq")
        self.save_state({"model": self.model.state_dict(), "opt": self.opt.state_dict()})


# ------------------------------------------------------------------ U-Net (7-channel: latents, mask, masked latents)

def random_masks(n, size, device, gen):
    """Half the batch all-ones (plain text-to-image), the rest one to three rectangles or ellipses (1 = repaint).
    Exactly half, so the partly masked rows the VQ encodes are a batch of constant size (cuDNN's tuned algorithms)."""
    full = torch.zeros(n, dtype=torch.bool)
    full[torch.randperm(n, generator=gen)[:n // 2]] = True
    count = torch.randint(1, 4, (n,), generator=gen)
    centre = torch.rand(n, 3, 2, generator=gen) * 1.6 - 0.8
    radius = torch.rand(n, 3, 2, generator=gen) * 0.5 + 0.15
    rect = torch.rand(n, 3, generator=gen) < 0.5
    active = torch.arange(3)[None] < count[:, None]
    centre, radius, rect, active, full = (t.to(device) for t in (centre, radius, rect, active, full))
    gx, gy = pixel_centres(size, device)
    dx = (gx - centre[..., 0, None, None]) / radius[..., 0, None, None]
    dy = (gy - centre[..., 1, None, None]) / radius[..., 1, None, None]
    inside = torch.where(rect[..., None, None], (dx.abs() < 1) & (dy.abs() < 1), dx * dx + dy * dy < 1)
    masks = (inside & active[..., None, None]).any(1) | full[:, None, None]
    return masks.float()[:, None]


class UNetStage(Stage):
    name = "unet"

    def __init__(self, args):
        super().__init__(args)
        from diffusers import UNet2DConditionModel, VQModel
        vq_weights, vq_config = load_part(args.vq)
        self.scaling = vq_config["scaling_factor"]
        self.vq = VQModel(**{k: v for k, v in vq_config.items() if not k.startswith("_")}).to(self.device).eval()
        self.vq.load_state_dict(vq_weights)
        self.vq.requires_grad_(False)
        self.text = TextTower(self.device, args.model)
        self.config = dict(UNET_CONFIGS[args.unet_config])
        if args.coords:
            self.config["in_channels"] += 2
        self.model = UNet2DConditionModel(**self.config).to(self.device)
        if args.init:
            # Continue from an exported U-Net (assets/default/unet: fp16 EMA weights; fresh optimizer).
            weights, config = load_part(args.init)
            widen = args.coords and config.get("in_channels") == self.config["in_channels"] - 2
            if any(config.get(k) != v for k, v in self.config.items() if not (widen and k == "in_channels")):
                raise SystemExit(f"--init {args.init}: its configuration differs from --unet-config {args.unet_config}")
            if widen:
                # Coordinate channels added to a U-Net trained without them: zero weights, so it starts as it was.
                w = weights["conv_in.weight"]
                weights["conv_in.weight"] = torch.cat([w, torch.zeros_like(w[:, :2])], 1)
            self.model.load_state_dict(weights)
        self.zero_latents = None
        self.ema = UNet2DConditionModel(**self.config).to(self.device).eval()
        self.ema.load_state_dict(self.model.state_dict())
        self.ema.requires_grad_(False)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=args.lr, weight_decay=0.01)
        self.gen = torch.Generator().manual_seed(args.seed + 2)
        betas = torch.linspace(SCHEDULER_CONFIG["beta_start"] ** 0.5, SCHEDULER_CONFIG["beta_end"] ** 0.5, 1000,
                               dtype=torch.float64) ** 2
        self.alphas_cumprod = torch.cumprod(1 - betas, 0).float().to(self.device)
        state = self.load_state()
        if state:
            self.model.load_state_dict(state["model"])
            self.ema.load_state_dict(state["ema"])
            self.opt.load_state_dict(state["opt"])
            self.gen.set_state(state["gen"])

    def train_step(self):
        for g in self.opt.param_groups:
            g["lr"] = self.lr(self.args.lr)
        scenes, x = self.next_batch(self.args.batch)
        n = x.shape[0]
        captions = [s["caption"] if torch.rand((), generator=self.gen) >= 0.1 else "" for s in scenes]
        masks = random_masks(n, x.shape[-1], self.device, self.gen)
        self.tick("data")
        with torch.no_grad(), autocast(self.device):
            states, _ = self.text(captions)
            self.tick("text")
            lat = self.vq.encode(x).latents.float() * self.scaling
            # An all-ones mask (text-to-image, half the batch) masks the whole image: its masked-image latents are
            # those of an all-zero image, encoded once; only the partly masked rows go through the encoder.
            if self.zero_latents is None:
                self.zero_latents = self.vq.encode(torch.zeros_like(x[:1])).latents.float() * self.scaling
            partial = (masks.amin(dim=(1, 2, 3)) < 0.5).nonzero().flatten()
            masked = self.zero_latents.expand_as(lat).clone()
            if partial.numel():
                masked[partial] = self.vq.encode(x[partial] * (masks[partial] < 0.5)).latents.float() * self.scaling
            self.tick("vq encode")
        mask_lat = F.interpolate(masks, size=lat.shape[-2:])
        t = torch.randint(0, 1000, (n,), generator=self.gen).to(self.device)
        noise = torch.randn(lat.shape, generator=self.gen).to(self.device)
        a = self.alphas_cumprod[t][:, None, None, None]
        noisy = a.sqrt() * lat + (1 - a).sqrt() * noise
        with autocast(self.device):
            inputs = [noisy, mask_lat, masked] + ([coordinate_ramps(n, lat.shape[-1], self.device)] if self.args.coords else [])
            pred = self.model(torch.cat(inputs, 1), t, encoder_hidden_states=states.float()).sample
        snr = (a / (1 - a)).flatten()
        weight = snr.clamp(max=5.0) / snr                       # min-SNR-5 weighting for epsilon targets
        loss = (weight * ((pred.float() - noise) ** 2).mean(dim=(1, 2, 3))).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.tick("unet")
        decay = min(self.args.ema, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            torch._foreach_lerp_(list(self.ema.parameters()), list(self.model.parameters()), 1 - decay)
        return {"loss": loss.detach()}

    def save(self):
        config = dict(self.config, _class_name="UNet2DConditionModel", **({COORDINATE_CHANNELS: 2} if self.args.coords else {}))
        save_weights(self.ema, "weights.safetensors", config, self.args.out, self.args.export_fp16, "unet")
        self.save_state({"model": self.model.state_dict(), "ema": self.ema.state_dict(),
                         "opt": self.opt.state_dict(), "gen": self.gen.get_state()})


# ------------------------------------------------------------------ CLIP image tower (locked text tower, LiT)

KIND_PHRASE = re.compile(r"\b(" + "|".join(COLOUR_NAMES) + r") (" + "|".join(SHAPES) + r")")


def fix_articles(text):
    text = re.sub(r"\ba (?=[aeiou])", "an ", text)
    return re.sub(r"\ban (?=[^aeiou])", "a ", text)


def hard_negative(scene, caption, rng):
    """The caption with two objects' colours swapped (when it names two colours) or one object's colour or shape
    changed to one the scene does not have: a near-miss text the image must rank below its own caption."""
    found = list(KIND_PHRASE.finditer(caption))
    if not found:                              # no object named: change the background colour word instead
        other = rng.choice([c for c in COLOUR_NAMES if c != scene["background"]])
        return caption.replace(scene["background"], other) if scene["background"] in caption else "a " + other + " background"
    present = {(o["colour"], o["shape"]) for o in scene["objects"]}
    colours = [m.group(1) for m in found]
    if len(set(colours)) >= 2 and rng.random() < 0.5:
        a, b = rng.sample(sorted(set(colours)), 2)
        return fix_articles(KIND_PHRASE.sub(lambda m: {a: b, b: a}.get(m.group(1), m.group(1)) + " " + m.group(2), caption))
    m = rng.choice(found)
    colour, shape = m.group(1), m.group(2)
    while True:
        if rng.random() < 0.5:
            colour2, shape2 = rng.choice(COLOUR_NAMES), shape
        else:
            colour2, shape2 = colour, rng.choice(SHAPES)
        if (colour2, shape2) != (colour, shape) and (colour2, shape2) not in present:
            break
    return fix_articles(caption[:m.start()] + f"{colour2} {shape2}" + caption[m.end():])


REGION_SIDES = (0.5, 0.625)


def crop_caption(objects, background, rng):
    """A caption naming the given objects (counts for repeated kinds), as the scene world's templates would."""
    kinds = {}
    for o in objects:
        kinds[(o["colour"], o["shape"])] = kinds.get((o["colour"], o["shape"]), 0) + 1
    phrases = [noun_phrase(*k) if n == 1 else f"{NUMBERS[n]} {k[0]} {plural(k[1])}" for k, n in kinds.items()]
    text = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    if rng.random() < 0.5:
        text += rng.choice(BACKGROUND_PHRASES).format(background)
    return rng.choice(PREFIXES) + text


def region_crops(scenes, x, captions, share, rng):
    """Replaces a share of the batch by crops as gallery search embeds them (squares of ½ or ⅝ side, or halves;
    nearest-neighbour upscaled to the tower's input exactly as CLIPScorer.pixels does), placed around a random object
    and captioned with the objects that lie at least 60% inside."""
    size = x.shape[-1]
    x = x.clone()
    captions = list(captions)
    for i, scene in enumerate(scenes):
        if scene.get("kind") == "emoji" or rng.random() >= share:
            continue
        o = rng.choice(scene["objects"])
        if rng.random() < 0.2:                 # a half: left/right or top/bottom
            vertical = rng.random() < 0.5
            w, h = (1.0, 0.5) if vertical else (0.5, 1.0)
            fx = 0.0 if vertical else (0.0 if o["cx"] < 0 else 0.5)
            fy = (0.0 if o["cy"] < 0 else 0.5) if vertical else 0.0
        else:
            w = h = rng.choice(REGION_SIDES)
            # Fractions of the image; the object's box [c - r, c + r] (in [-1, 1]) inside [f, f + side].
            lo_x, hi_x = max(0.0, (o["cx"] + o["r"] + 1) / 2 - w), min(1 - w, (o["cx"] - o["r"] + 1) / 2)
            lo_y, hi_y = max(0.0, (o["cy"] + o["r"] + 1) / 2 - h), min(1 - h, (o["cy"] - o["r"] + 1) / 2)
            if lo_x > hi_x or lo_y > hi_y:
                continue                       # the object does not fit: keep the whole scene
            fx, fy = rng.uniform(lo_x, hi_x), rng.uniform(lo_y, hi_y)
        inside = []
        for obj in scene["objects"]:
            bx0, bx1 = (obj["cx"] - obj["r"] + 1) / 2, (obj["cx"] + obj["r"] + 1) / 2
            by0, by1 = (obj["cy"] - obj["r"] + 1) / 2, (obj["cy"] + obj["r"] + 1) / 2
            ox = max(0.0, min(bx1, fx + w) - max(bx0, fx))
            oy = max(0.0, min(by1, fy + h) - max(by0, fy))
            if ox * oy >= 0.6 * (bx1 - bx0) * (by1 - by0):
                inside.append(obj)
        if not inside:
            continue
        x0, y0 = round(fx * size), round(fy * size)
        cw, ch = max(1, min(size - x0, round(w * size))), max(1, min(size - y0, round(h * size)))
        cols = x0 + torch.arange(size, device=x.device) * cw // size
        rows = y0 + torch.arange(size, device=x.device) * ch // size
        x[i] = x[i][:, rows][:, :, cols]
        captions[i] = crop_caption(inside, scene["background"], rng)
    return x, captions


class CLIPStage(Stage):
    name = "clip"

    def __init__(self, args):
        super().__init__(args)
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
        self.text = TextTower(self.device, self.args.model)
        self.model = CLIPVisionModelWithProjection(CLIPVisionConfig(**CLIP_VISION_CONFIG)).to(self.device)
        self.text_projection = torch.nn.Linear(384, 384, bias=False).to(self.device)
        torch.nn.init.eye_(self.text_projection.weight)
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07), device=self.device))
        params = list(self.model.parameters()) + list(self.text_projection.parameters()) + [self.logit_scale]
        self.opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.05)
        if args.init:
            # Fine-tune from an exported image tower (assets/default/image_encoder: fp16 weights, text projection).
            weights = load_file(os.path.join(args.init, "model.safetensors"))
            self.model.load_state_dict({k: v.float() for k, v in weights.items()})
            proj = load_file(os.path.join(args.init, "text_projection.safetensors"))
            self.text_projection.weight.data.copy_(proj["text_projection.weight"].float())
            self.logit_scale.data.copy_(proj["logit_scale"].float().reshape(()))
        self.crops = random.Random(args.seed + 2)
        state = self.load_state()
        if state:
            self.crops.setstate(state["crops"])
            self.model.load_state_dict(state["model"])
            self.text_projection.load_state_dict(state["text_projection"])
            self.logit_scale.data.copy_(state["logit_scale"])
            self.opt.load_state_dict(state["opt"])

    def train_step(self):
        for g in self.opt.param_groups:
            g["lr"] = self.lr(self.args.lr)
        scenes, x = self.next_batch(self.args.batch)
        captions = [s["caption"] for s in scenes]
        if self.args.region_crops > 0:
            x, captions = region_crops(scenes, x, captions, self.args.region_crops, self.crops)
        texts = list(captions)
        if self.args.hard_negatives:
            # One caption per image with an attribute changed or two objects' colours swapped: columns the image
            # must score below its own caption (image→text side only).
            # Emoji scenes: the caption of another emoji.
            texts += [self.emoji.phrase(self.crops.choice(self.emoji.usable), self.crops) if s.get("kind") == "emoji"
                      else hard_negative(s, c, self.crops) for s, c in zip(scenes, captions)]
        _, pooled = self.text(texts)
        with autocast(self.device):
            img = self.model(pixel_values=x).image_embeds.float()
        img = F.normalize(img, dim=-1)
        txt = F.normalize(self.text_projection(pooled), dim=-1)
        logits = self.logit_scale.clamp(max=math.log(100)).exp() * img @ txt.T
        # Identical captions in a batch are positives too (soft targets over equal texts).
        n = len(captions)
        same = torch.tensor([[a == b for b in texts] for a in captions], device=self.device, dtype=torch.float32)
        targets = same / same.sum(1, keepdim=True)
        pos = same[:, :n]                      # symmetric: equal captions
        loss = (torch.sum(-targets * F.log_softmax(logits, 1), 1).mean() +
                torch.sum(-(pos / pos.sum(1, keepdim=True)) * F.log_softmax(logits[:, :n].T, 1), 1).mean()) / 2
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        acc = (logits.argmax(1) == torch.arange(len(captions), device=self.device)).float().mean().item()
        return {"loss": loss.item(), "acc": acc, "scale": self.logit_scale.exp().item()}

    def save(self):
        config = dict(CLIP_VISION_CONFIG, _class_name="CLIPVisionModelWithProjection")
        save_weights(self.model, "weights.safetensors", config, self.args.out, self.args.export_fp16, "clip")
        save_file({"text_projection.weight": self.text_projection.weight.detach().cpu().contiguous(),
                   "logit_scale": self.logit_scale.detach().cpu().reshape(1)},
                  os.path.join(self.args.out, "text_projection.safetensors"), metadata={"format": "pt"})
        self.save_state({"model": self.model.state_dict(), "text_projection": self.text_projection.state_dict(),
                         "logit_scale": self.logit_scale.detach(), "opt": self.opt.state_dict(),
                         "crops": self.crops.getstate()})


def load_config(path):
    import json
    with open(path) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["vq", "unet", "clip"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--vq", help="the vq stage's output folder (unet stage)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=10**9)
    ap.add_argument("--seconds", type=float, default=5400)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--warmup", type=int, default=300, help="vq: steps before quantization starts")
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--log-every", type=float, default=20)
    ap.add_argument("--save-every", type=float, default=600)
    ap.add_argument("--init", help="clip: fine-tune from an exported image_encoder folder (e.g. assets/default/image_encoder);"
                                   " unet / vq: continue from an exported unet / vqvae folder (assets/default/unet)")
    ap.add_argument("--model", default=None, help="model folder whose text_encoder/ and tokenizer/ are the text tower"
                                                  " (default assets/default; gpu_pack.py unpack makes one)")
    ap.add_argument("--unet-config", default="m1", choices=sorted(UNET_CONFIGS),
                    help="unet: the architecture (common.py's UNET_CONFIGS; m1 is the shipped one)")
    ap.add_argument("--decoder-only", action="store_true",
                    help="vq: with --init, train only post_quant_conv and the decoder (the latent space stays)")
    ap.add_argument("--coords", action="store_true",
                    help="unet: two coordinate channels (x, y ramps) after the 7 inputs; with --init from a U-Net without "
                         "them their weights start at zero (common.py COORDINATE_CHANNELS; Phosphor cannot run it yet)")
    ap.add_argument("--cosine", action="store_true", help="cosine learning-rate decay to a tenth over the run")
    ap.add_argument("--prefetch", action=argparse.BooleanOptionalAction, default=None,
                    help="make batches in a thread while the device trains (default: on with --device cuda)")
    ap.add_argument("--profile-steps", type=int, default=0, help="time the phases of this many steps (from step 20)")
    ap.add_argument("--export-fp16", help="also write fp16 weights, in parts of at most 15 MiB, here at every save")
    ap.add_argument("--region-crops", type=float, default=0.0,
                    help="clip: share of the batch replaced by crops around objects, captioned with what they hold")
    ap.add_argument("--hard-negatives", action="store_true",
                    help="clip: one caption per image with an attribute changed or colours swapped, as extra negatives")
    ap.add_argument("--emoji", type=float, default=0.0,
                    help="share of each batch drawn from emoji scenes (emoji_scenes.py; needs fonts-noto-color-emoji)")
    args = ap.parse_args()
    defaults = {"vq": (32, 4e-4), "unet": (64, 3e-4), "clip": (128, 5e-4)}[args.stage]
    args.batch = args.batch or defaults[0]
    args.lr = args.lr or defaults[1]
    args.model = args.model or DEFAULT_MODEL
    if args.prefetch is None:
        args.prefetch = pick_device(args.device) == "cuda"
    if pick_device(args.device) == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True      # every step has the same shapes
    {"vq": VQStage, "unet": UNetStage, "clip": CLIPStage}[args.stage](args).run()


if __name__ == "__main__":
    main()
