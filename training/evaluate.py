"""Scene analyzer and evaluation of the default model on the scene world.

The analyzer is deterministic: every pixel takes the nearest canonical colour; the background is the commonest
colour on the border; each other colour's mask is opened (drops anti-aliasing fringes) and split into connected
components; a component is a ring if it has a hole, else classified by its radial signature r(θ) around the
centroid (flatness → circle; the dominant 3/4/5-fold harmonic → triangle / square-or-cross / star; the depth
of the 4-fold dip separates square from cross).

    python training/evaluate.py calibrate            # analyzer accuracy on ground-truth renders (target ≥ 98%)
    python training/evaluate.py score [--model assets/default] [--phosphor .build/release/phosphor] [--n 2]
"""
import argparse
import itertools
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile

import numpy as np
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEFAULT_MODEL, recommended_layout  # noqa: E402
from scenes import COLOURS, HELD_OUT, SHAPES, SceneSampler, noun_phrase, plural, render, to_uint8  # noqa: E402

NAMES = list(COLOURS)
PALETTE = np.array([COLOURS[c] for c in NAMES], dtype=np.float32)
MIN_AREA = 40


def analyze(img):
    """img: HxWx3 uint8 → {"background": name, "objects": [{colour, shape, x, y, area}]} (x, y in [-1, 1], y down)."""
    h, w, _ = img.shape
    d = ((img[:, :, None, :].astype(np.float32) - PALETTE[None, None]) ** 2).sum(-1)
    labels = d.argmin(-1)
    border = np.concatenate([labels[:3].ravel(), labels[-3:].ravel(), labels[:, :3].ravel(), labels[:, -3:].ravel()])
    bg = np.bincount(border, minlength=len(NAMES)).argmax()
    objects = []
    for ci in range(len(NAMES)):
        if ci == bg:
            continue
        mask = ndimage.binary_opening(labels == ci, structure=np.ones((3, 3)))
        if mask.sum() < MIN_AREA:
            continue
        comp, n = ndimage.label(mask, structure=np.ones((3, 3)))
        for k in range(1, n + 1):
            m = comp == k
            area = int(m.sum())
            if area < MIN_AREA:
                continue
            ys, xs = np.nonzero(m)
            cy, cx = ys.mean(), xs.mean()
            hole = ndimage.binary_fill_holes(m) & ~m
            # A ring's hole shows the background (a shaded disc's differently coloured centre is no hole).
            hole_bg = hole.sum() > 0.04 * area and (labels[hole] == bg).mean() > 0.3
            objects.append({"colour": NAMES[ci], "shape": classify(m, cx, cy, hole_bg), "area": area,
                            "x": (cx + 0.5) / w * 2 - 1, "y": (cy + 0.5) / h * 2 - 1})
    objects.sort(key=lambda o: -o["area"])
    return {"background": NAMES[bg], "objects": objects}


def classify(m, cx, cy, hole_bg):
    filled = ndimage.binary_fill_holes(m)
    if hole_bg and not m[int(round(cy)), int(round(cx))]:
        return "ring"
    edge = filled & ~ndimage.binary_erosion(filled)
    ys, xs = np.nonzero(edge)
    ang = np.arctan2(ys - cy, xs - cx)
    dist = np.hypot(ys - cy, xs - cx)
    bins = 72
    idx = ((ang + np.pi) / (2 * np.pi) * bins).astype(int) % bins
    r = np.zeros(bins)
    np.maximum.at(r, idx, dist)
    # Fill empty bins (small shapes) from their neighbours.
    empty = r == 0
    if empty.all():
        return "circle"
    if empty.any():
        good = np.nonzero(~empty)[0]
        r[empty] = np.interp(np.nonzero(empty)[0], good, r[good], period=bins)
    r = r / r.mean()
    cv = r.std()
    spectrum = np.abs(np.fft.rfft(r))[:8] / bins
    if cv < 0.05:
        return "circle"
    k = 3 + int(np.argmax(spectrum[3:6]))
    if k == 3:
        return "triangle"
    if k == 5:
        return "star"
    return "square" if r.min() > 0.76 else "cross"


# ------------------------------------------------------------------------------------ prompt suites

def relation_holds(a, b, relation):
    dx, dy = b["x"] - a["x"], b["y"] - a["y"]
    return {"left": dx > 0.15, "right": dx < -0.15, "above": dy > 0.15, "below": dy < -0.15}[relation]


def colours_in_relation(analysis, c1, c2, relation):
    """The relaxed pair check: the largest object of each colour (any shape) exists and they stand in the relation."""
    a = [o for o in analysis["objects"] if o["colour"] == c1]
    b = [o for o in analysis["objects"] if o["colour"] == c2]
    return bool(a and b) and relation_holds(a[0], b[0], relation)


def find(objects, colour, shape):
    return [o for o in objects if o["colour"] == colour and o["shape"] == shape]


def pair_breakdown(analysis, c1, s1, c2, s2):
    """What of a two-object prompt came out, part by part (rows of the score table, pair suite): the two colours and
    the two shapes anywhere, both objects with their own colour and shape (any place), and both with the colours
    exchanged between the shapes (the binding swapped)."""
    objects = analysis["objects"]
    colours, shapes = {o["colour"] for o in objects}, {o["shape"] for o in objects}
    return {
        "pair: exactly two objects": len(objects) == 2,
        "pair: both colours": c1 in colours and c2 in colours,
        "pair: both shapes": s1 in shapes and s2 in shapes,
        "pair: both objects (any place)": bool(find(objects, c1, s1) and find(objects, c2, s2)),
        "pair: colours swapped": bool(find(objects, c1, s2) and find(objects, c2, s1)),
    }


def suites(seed=0):
    """Prompt suites: (name, prompt, check(analysis) -> bool, held_out)."""
    rng = random.Random(seed)
    kinds = [(c, s) for c in NAMES for s in SHAPES]
    seen = [k for k in kinds if k not in HELD_OUT]
    out = []
    for c, s in rng.sample(seen, 24) + sorted(HELD_OUT):
        out.append(("single", noun_phrase(c, s), lambda a, c=c, s=s: bool(a["objects"]) and
                    (a["objects"][0]["colour"], a["objects"][0]["shape"]) == (c, s), (c, s) in HELD_OUT))
    relations = {"left": "to the left of", "right": "to the right of", "above": "above", "below": "below"}
    for i in range(16):
        (c1, s1), (c2, s2) = rng.sample(seen, 2)
        while c1 == c2:
            (c1, s1), (c2, s2) = rng.sample(seen, 2)
        rel = rng.choice(list(relations))

        def check(a, c1=c1, s1=s1, c2=c2, s2=s2, rel=rel):
            x, y = find(a["objects"], c1, s1), find(a["objects"], c2, s2)
            return bool(x and y) and relation_holds(x[0], y[0], rel)

        check.relaxed = lambda a, c1=c1, c2=c2, rel=rel: colours_in_relation(a, c1, c2, rel)
        check.breakdown = lambda a, c1=c1, s1=s1, c2=c2, s2=s2: pair_breakdown(a, c1, s1, c2, s2)
        out.append(("pair", f"{noun_phrase(c1, s1)} {relations[rel]} {noun_phrase(c2, s2)}", check, False))
        # The swapped pair: the same shapes with their colours exchanged.
        if (c2, s1) not in HELD_OUT and (c1, s2) not in HELD_OUT:
            def check_swapped(a, c1=c1, s1=s1, c2=c2, s2=s2, rel=rel):
                x, y = find(a["objects"], c2, s1), find(a["objects"], c1, s2)
                return bool(x and y) and relation_holds(x[0], y[0], rel)
            check_swapped.relaxed = lambda a, c1=c1, c2=c2, rel=rel: colours_in_relation(a, c2, c1, rel)
            check_swapped.breakdown = lambda a, c1=c1, s1=s1, c2=c2, s2=s2: pair_breakdown(a, c2, s1, c1, s2)
            out.append((f"swap{i}", f"{noun_phrase(c2, s1)} {relations[rel]} {noun_phrase(c1, s2)}", check_swapped, False))
            out[-2] = (f"swap{i}",) + out[-2][1:]
    for c, s in rng.sample(seen, 8):
        n = rng.choice([2, 3])
        out.append(("count", f"{['', '', 'two', 'three'][n]} {c} {plural(s)}",
                    lambda a, c=c, s=s, n=n: len(find(a["objects"], c, s)) == n, False))
    for c, s in rng.sample(seen, 8):
        bg = rng.choice([x for x in NAMES if x != c])
        out.append(("background", f"{noun_phrase(c, s)} on a {bg} background",
                    lambda a, bg=bg: a["background"] == bg, False))
    return out


def summarize(results):
    table = {}
    pairs = {}
    for name, prompt, ok, held in results:
        if name.startswith("swap"):
            pairs.setdefault(name, []).append(ok)
            key = "pair"
        else:
            key = name + (" (held out)" if held else "")
        table.setdefault(key, []).append(ok)
    if pairs:
        table["swapped pairs both right"] = [all(v) for v in pairs.values() if len(v) == 2]
    return {k: (sum(v) / len(v), len(v)) for k, v in table.items()}


# ------------------------------------------------------------------------------------ commands

def calibrate(n, blur=0.0):
    sampler = SceneSampler(123, holdout=False)
    total = correct_shape = correct_colour = 0
    confusion = {}
    for start in range(0, n, 64):
        scenes = [sampler.sample() for _ in range(min(64, n - start))]
        imgs = to_uint8(render(scenes, jitter_seed=start))
        if blur:
            imgs = [ndimage.gaussian_filter(im.astype(np.float32), (blur, blur, 0)).round().astype(np.uint8) for im in imgs]
        for scene, img in zip(scenes, imgs):
            found = analyze(img)["objects"]
            for o in scene["objects"]:
                total += 1
                near = min(found, key=lambda f: (f["x"] - o["cx"]) ** 2 + (f["y"] - o["cy"]) ** 2, default=None)
                if near and (near["x"] - o["cx"]) ** 2 + (near["y"] - o["cy"]) ** 2 < 0.1 ** 2:
                    correct_colour += near["colour"] == o["colour"]
                    correct_shape += near["shape"] == o["shape"]
                    if near["shape"] != o["shape"]:
                        confusion[(o["shape"], near["shape"])] = confusion.get((o["shape"], near["shape"]), 0) + 1
                else:
                    confusion[(o["shape"], "missed")] = confusion.get((o["shape"], "missed"), 0) + 1
    print(f"objects {total}: colour {correct_colour / total:.3f}, shape {correct_shape / total:.3f}")
    print("confusions:", sorted(confusion.items(), key=lambda kv: -kv[1])[:10])


def score(args):
    if args.layout is None and not args.phosphor:
        args.layout = recommended_layout(args.model or DEFAULT_MODEL)
        print(f"layout {args.layout} (the model's own setting; --layout to choose)")
    tests = suites(args.seed)
    if args.only:
        tests = [t for t in tests if t[0].startswith(args.only) or (args.only == "pair" and t[0].startswith("swap"))]
    prompts = [p for _, p, _, _ in tests]
    images = []
    if args.phosphor:
        with tempfile.TemporaryDirectory() as tmp:
            from PIL import Image
            for i, p in enumerate(prompts):
                for s in range(args.n):
                    path = os.path.join(tmp, f"{i}_{s}.png")
                    cmd = [args.phosphor, "generate", p, "--seed", str(1000 + s), "-o", path, "--quiet",
                           "--steps", str(args.steps), "--cfg-scale", str(args.cfg)]
                    if args.model:
                        cmd += ["--model", args.model]
                    if args.best_of > 1:
                        cmd += ["--best-of", str(args.best_of)]
                    if args.layout:
                        cmd += ["--layout", args.layout]
                    cmd += shlex.split(args.phosphor_args or "")
                    subprocess.run(cmd, check=True)
                    images.append(np.array(Image.open(path).convert("RGB")))
                    if args.save:
                        os.makedirs(args.save, exist_ok=True)
                        Image.open(path).save(os.path.join(args.save, f"{i:03d}_{s}.png"))
    else:
        from sample import DefaultModel
        import torch
        model = DefaultModel(args.device, args.model) if args.model else DefaultModel(args.device)
        for s in range(args.n):
            for start in range(0, len(prompts), 32):
                batch = prompts[start:start + 32]
                imgs = model.generate(batch, [1000 + s] * len(batch), steps=args.steps, cfg=args.cfg,
                                      layout="auto" if args.layout == "auto" else None)
                images.extend(to_uint8(imgs))
        # reorder: images are grouped by seed; make them prompt-major like the phosphor path
        images = [images[s * len(prompts) + i] for i in range(len(prompts)) for s in range(args.n)]
    results = []
    for i, (name, prompt, check, held) in enumerate(tests):
        for s in range(args.n):
            analysis = analyze(images[i * args.n + s])
            results.append((name if not name.startswith("swap") else f"{name}_{s}", prompt, check(analysis), held))
            if hasattr(check, "relaxed"):
                results.append(("pair colours + relation (any shape)", prompt, check.relaxed(analysis), held))
            for row, ok in getattr(check, "breakdown", lambda _: {})(analysis).items():
                results.append((row, prompt, ok, held))
    summary = summarize(results)
    for k, (acc, n) in summary.items():
        print(f"{k:28s} {acc * 100:5.1f}%  ({n})")
    clip = clip_scores(images, [p for p in prompts for _ in range(args.n)], args.model or DEFAULT_MODEL)
    print(f"{'mean CLIP score':28s} {clip.mean():5.2f}   ({len(clip)} images; 100 · cosine, the model's own CLIP)")
    if args.json:
        out = {k: {"accuracy": a, "count": n} for k, (a, n) in summary.items()}
        out["mean CLIP score"] = float(clip.mean())
        json.dump(out, open(args.json, "w"), indent=1)


def clip_scores(images, prompts, root):
    """CLIP score of each image (H×W×3 uint8) against its prompt with the model's image tower and text projection:
    100 · cosine of the unit embeddings, pixels in [-1, 1] — the same quantity as `phosphor score`."""
    import torch
    from safetensors.torch import load_file
    from transformers import CLIPVisionModelWithProjection
    from common import TextTower
    tower = CLIPVisionModelWithProjection.from_pretrained(os.path.join(root, "image_encoder"), dtype=torch.float32).eval()
    proj = load_file(os.path.join(root, "image_encoder", "text_projection.safetensors"))["text_projection.weight"].float()
    text = TextTower("cpu", root)
    scores = []
    with torch.no_grad():
        for start in range(0, len(images), 64):
            x = torch.from_numpy(np.stack(images[start:start + 64])).permute(0, 3, 1, 2).float() / 127.5 - 1
            img = torch.nn.functional.normalize(tower(pixel_values=x).image_embeds, dim=-1)
            _, pooled = text(prompts[start:start + 64])
            txt = torch.nn.functional.normalize(pooled @ proj.T, dim=-1)
            scores.append(100 * (img * txt).sum(-1))
    return torch.cat(scores).numpy()


def parts(args):
    """VQ reconstruction PSNR (with quantisation) and CLIP caption retrieval on fresh scenes (seen and held-out)."""
    import torch
    from diffusers import VQModel
    from safetensors.torch import load_file
    from transformers import CLIPVisionModelWithProjection
    from common import DEFAULT_MODEL, TextTower
    root = args.model or DEFAULT_MODEL
    vq = VQModel.from_pretrained(os.path.join(root, "vqvae"), dtype=torch.float32).eval()
    fresh = SceneSampler(999, holdout=False)
    scenes = [fresh.sample() for _ in range(256)]
    x = render(scenes, jitter_seed=999)
    with torch.no_grad():
        y = torch.cat([vq.decode(vq.encode(x[i:i + 32]).latents).sample for i in range(0, 256, 32)]).clamp(-1, 1)
    mse = ((y - x) ** 2).mean(dim=(1, 2, 3)) / 4
    print(f"VQ reconstruction PSNR over 256 scenes: mean {(-10 * torch.log10(mse)).mean():.2f} dB")
    clip = CLIPVisionModelWithProjection.from_pretrained(os.path.join(root, "image_encoder"), dtype=torch.float32).eval()
    proj = load_file(os.path.join(root, "image_encoder", "text_projection.safetensors"))["text_projection.weight"]
    text = TextTower("cpu", root)
    with torch.no_grad():
        img = torch.nn.functional.normalize(clip(pixel_values=x).image_embeds, dim=-1)
        _, pooled = text([s["caption"] for s in scenes])
        txt = torch.nn.functional.normalize(pooled @ proj.T, dim=-1)
    sim = img @ txt.T
    top1 = (sim.argmax(1) == torch.arange(256)).float().mean().item()
    top5 = (sim.topk(5, dim=1).indices == torch.arange(256)[:, None]).any(1).float().mean().item()
    print(f"CLIP image→caption retrieval among 256 fresh scenes (held-out kinds included): top-1 {top1:.3f}, top-5 {top5:.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["calibrate", "score", "parts"])
    ap.add_argument("--n", type=int, default=2, help="seeds per prompt (score) / scenes (calibrate: ×256)")
    ap.add_argument("--model")
    ap.add_argument("--phosphor", help="score images made by this phosphor binary instead of PyTorch")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cfg", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    ap.add_argument("--only", help="score one suite: single, pair (with swaps), count, background")
    ap.add_argument("--best-of", type=int, default=1, help="with --phosphor: keep the best CLIP score of N seeds per image")
    ap.add_argument("--save", help="with --phosphor: keep the images in this folder (NNN_SEED.png, prompt order)")
    ap.add_argument("--layout", choices=["auto", "off"], default=None,
                    help="regional prompting (regions.py): auto = each relation prompt's two parts in their own halves; "
                         "off = none (with --phosphor passed on as --layout; default: the model's own setting)")
    ap.add_argument("--phosphor-args", help="with --phosphor: more flags for `phosphor generate`, e.g. '--clip-guidance-scale 100'")
    args = ap.parse_args()
    if args.command == "parts":
        parts(args)
    elif args.command == "calibrate":
        calibrate(256 * args.n)
        calibrate(256 * args.n, blur=1.5)
    else:
        score(args)


if __name__ == "__main__":
    main()
