"""The scene world: procedural 128x128 images of coloured shapes with captions.

Scenes are sampled on the CPU (plain Python, seeded `random.Random`) and rendered
on any torch device from signed distance functions, anti-aliased by coverage.
Everything the analyzer needs to score a generation (colours, shapes, positions)
is in the scene description, so the same module serves training and evaluation.

Held-out combinations (never drawn in training, used to measure generalisation):
every object that is a purple star, an orange triangle or a cyan ring.
"""
import math
import random

import torch

SIZE = 128
COLOURS = {
    "red": (220, 30, 30), "green": (30, 160, 50), "blue": (30, 60, 220),
    "yellow": (245, 215, 30), "orange": (245, 130, 20), "purple": (130, 40, 170),
    "pink": (245, 130, 190), "cyan": (40, 200, 220), "white": (250, 250, 250),
    "black": (20, 20, 20), "gray": (128, 128, 128), "brown": (120, 70, 30),
}
COLOUR_NAMES = list(COLOURS)
SHAPES = ["circle", "square", "triangle", "star", "ring", "cross"]
HELD_OUT = {("purple", "star"), ("orange", "triangle"), ("cyan", "ring")}
RELATIONS = {
    "left": ["left of", "to the left of", "on the left of"],
    "right": ["right of", "to the right of", "on the right of"],
    "above": ["above", "over", "on top of"],
    "below": ["below", "under", "beneath"],
}
NUMBERS = {2: "two", 3: "three"}
PREFIXES = ["", "", "", "a picture of ", "an image of ", "a drawing of "]
BACKGROUND_PHRASES = [" on a {} background", " with a {} background", " on {}"]


def article(word):
    return "an" if word[0] in "aeiou" else "a"


def plural(shape):
    return shape + "es" if shape.endswith("s") else shape + "s"


def noun_phrase(colour, shape, size=None):
    words = ([size] if size else []) + [colour, shape]
    return f"{article(words[0])} {' '.join(words)}"


class SceneSampler:
    """Draws scene descriptions: dicts with `caption`, `background` and `objects`
    (each: colour, shape, cx, cy, r, angle; coordinates in [-1, 1], y down)."""

    def __init__(self, seed, holdout=True):
        self.rng = random.Random(seed)
        self.holdout = holdout

    def object_kind(self, exclude=()):
        while True:
            colour = self.rng.choice(COLOUR_NAMES)
            shape = self.rng.choice(SHAPES)
            if self.holdout and (colour, shape) in HELD_OUT:
                continue
            if (colour, shape) in exclude:
                continue
            return colour, shape

    def background(self, object_colours, caption):
        choices = [c for c in COLOUR_NAMES if c not in object_colours]
        bg = self.rng.choice(choices)
        if self.rng.random() < 0.5:
            caption += self.rng.choice(BACKGROUND_PHRASES).format(bg)
        return bg, caption

    def obj(self, colour, shape, cx, cy, r):
        return {"colour": colour, "shape": shape, "cx": cx, "cy": cy, "r": r,
                "angle": self.rng.uniform(-0.25, 0.25)}

    def single(self):
        colour, shape = self.object_kind()
        size = self.rng.choice([None, None, "small", "big"])
        r = {None: (0.26, 0.34), "small": (0.14, 0.18), "big": (0.42, 0.50)}[size]
        r = self.rng.uniform(*r)
        room = 0.92 - r
        o = self.obj(colour, shape, self.rng.uniform(-room, room) * 0.6, self.rng.uniform(-room, room) * 0.6, r)
        caption = self.rng.choice(PREFIXES) + noun_phrase(colour, shape, size)
        return [o], caption

    def pair(self):
        a = self.object_kind()
        b = self.object_kind(exclude=[a])
        relation = self.rng.choice(list(RELATIONS))
        ra, rb = self.rng.uniform(0.2, 0.28), self.rng.uniform(0.2, 0.28)
        main = [self.rng.uniform(-0.62, -0.36), self.rng.uniform(0.36, 0.62)]
        cross = [self.rng.uniform(-0.2, 0.2), self.rng.uniform(-0.2, 0.2)]
        if relation in ("right", "below"):
            main.reverse()
        if relation in ("left", "right"):
            pa, pb = (main[0], cross[0]), (main[1], cross[1])
        else:
            pa, pb = (cross[0], main[0]), (cross[1], main[1])
        objects = [self.obj(*a, *pa, ra), self.obj(*b, *pb, rb)]
        if self.rng.random() < 0.1:
            caption = f"{noun_phrase(*a)} and {noun_phrase(*b)}"
        else:
            caption = f"{noun_phrase(*a)} {self.rng.choice(RELATIONS[relation])} {noun_phrase(*b)}"
        return objects, self.rng.choice(PREFIXES) + caption

    def scatter(self, kinds, r_range):
        objects = []
        while len(objects) < len(kinds):
            objects = []
            for kind in kinds:
                r = self.rng.uniform(*r_range)
                for _ in range(50):
                    cx, cy = self.rng.uniform(-0.9 + r, 0.9 - r), self.rng.uniform(-0.9 + r, 0.9 - r)
                    if all(math.hypot(cx - o["cx"], cy - o["cy"]) > r + o["r"] + 0.06 for o in objects):
                        objects.append(self.obj(*kind, cx, cy, r))
                        break
        return objects

    def count(self):
        colour, shape = self.object_kind()
        n = self.rng.choice([2, 3])
        objects = self.scatter([(colour, shape)] * n, (0.16, 0.24))
        return objects, self.rng.choice(PREFIXES) + f"{NUMBERS[n]} {colour} {plural(shape)}"

    def triple(self):
        kinds = [self.object_kind()]
        while len(kinds) < 3:
            kinds.append(self.object_kind(exclude=kinds))
        objects = self.scatter(kinds, (0.16, 0.22))
        caption = f"{noun_phrase(*kinds[0])}, {noun_phrase(*kinds[1])} and {noun_phrase(*kinds[2])}"
        return objects, self.rng.choice(PREFIXES) + caption

    def sample(self):
        u = self.rng.random()
        if u < 0.35:
            objects, caption = self.single()
        elif u < 0.75:
            objects, caption = self.pair()
        elif u < 0.9:
            objects, caption = self.count()
        else:
            objects, caption = self.triple()
        bg, caption = self.background({o["colour"] for o in objects}, caption)
        return {"caption": caption, "background": bg, "objects": objects}


# ---------------------------------------------------------------- rendering

def _box(px, py, bx, by):
    qx, qy = px.abs() - bx, py.abs() - by
    outside = torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2)
    return outside + torch.maximum(qx, qy).clamp(max=0)


def _triangle(px, py, r=0.9):
    # Equilateral triangle, apex up (y up here), circumradius 2r/sqrt(3).
    k = math.sqrt(3.0)
    px = px.abs() - r
    py = py + r / k
    fold = (px + k * py) > 0
    nx, ny = (px - k * py) / 2, (-k * px - py) / 2
    px, py = torch.where(fold, nx, px), torch.where(fold, ny, py)
    px = px - px.clamp(-2 * r, 0)
    return -torch.sqrt(px * px + py * py) * torch.sign(py)


def _star(px, py, r=1.08, inner=0.42):
    # Five-pointed star, one point up: fold into one wedge, distance to the edge segment.
    k1x, k1y = 0.809016994375, -0.587785252292
    px = px.abs()
    d = (k1x * px + k1y * py).clamp(min=0)
    px, py = px - 2 * d * k1x, py - 2 * d * k1y
    d = (-k1x * px + k1y * py).clamp(min=0)
    px, py = px + 2 * d * k1x, py - 2 * d * k1y
    px = px.abs()
    py = py - r
    bax, bay = inner * -k1y, inner * k1x - 1
    h = ((px * bax + py * bay) / (bax * bax + bay * bay)).clamp(0, r)
    dx, dy = px - bax * h, py - bay * h
    return torch.sqrt(dx * dx + dy * dy) * torch.sign(py * bax - px * bay)


def shape_sdf(shape_ids, px, py):
    """Signed distance in units of the object radius for each shape id; px, py in object frame (y up)."""
    radius = torch.sqrt(px * px + py * py)
    sdfs = torch.stack([
        radius - 1.0,                                        # circle
        _box(px, py, 0.82, 0.82),                            # square
        _triangle(px, py),                                   # triangle
        _star(px, py),                                       # star
        (radius - 0.68).abs() - 0.3,                         # ring
        torch.minimum(_box(px, py, 1.0, 0.32), _box(px, py, 0.32, 1.0)),  # cross
    ])
    return torch.gather(sdfs, 0, shape_ids.expand(1, *px.shape)).squeeze(0)


def pixel_centres(size, device):
    """x (left −1 → right 1) and y (top −1 → bottom 1) of each pixel's centre on a size × size grid, two [size, size]
    tensors: where render draws, random masks fall and the U-Net's coordinate channels point."""
    c = (torch.arange(size, device=device, dtype=torch.float32) + 0.5) / size * 2 - 1
    gy, gx = torch.meshgrid(c, c, indexing="ij")
    return gx, gy


def render(scenes, device="cpu", size=SIZE, jitter_seed=None):
    """Render scene descriptions to a float tensor (B, 3, size, size) in [-1, 1]."""
    gen = torch.Generator().manual_seed(jitter_seed) if jitter_seed is not None else None
    n = len(scenes)
    k = max(len(s["objects"]) for s in scenes)
    params = torch.zeros(n, k, 9)
    params[..., 4] = 1.0   # radius of absent slots (kept finite)
    bg = torch.zeros(n, 3)
    for i, s in enumerate(scenes):
        bg[i] = torch.tensor(COLOURS[s["background"]], dtype=torch.float32)
        for j, o in enumerate(s["objects"]):
            params[i, j] = torch.tensor([1.0, SHAPES.index(o["shape"]), o["cx"], o["cy"], o["r"], o["angle"],
                                         *COLOURS[o["colour"]]])
    if gen is not None:
        params[..., 6:] += torch.randint(-8, 9, (n, k, 3), generator=gen).float()
        bg += torch.randint(-8, 9, (n, 3), generator=gen).float()
    params, bg = params.to(device), (bg / 127.5 - 1).to(device)
    gx, gy = pixel_centres(size, device)
    img = bg[:, :, None, None].expand(n, 3, size, size).clone()
    pixel = 2.0 / size
    for j in range(k):
        p = params[:, j]
        present, sid, cx, cy, r, ang = (p[:, i][:, None, None] for i in range(6))
        dx, dy = gx[None] - cx, gy[None] - cy
        c, s_ = torch.cos(ang), torch.sin(ang)
        ox, oy = (c * dx + s_ * dy) / r, -(-s_ * dx + c * dy) / r   # object frame, y up
        d = shape_sdf(sid.long().expand(n, size, size), ox, oy) * r
        alpha = ((0.5 - d / pixel).clamp(0, 1) * present)[:, None]
        colour = (p[:, 6:9] / 127.5 - 1)[:, :, None, None]
        img = img * (1 - alpha) + colour * alpha
    return img.clamp(-1, 1)


def to_uint8(images):
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def save_grid(images, captions, out, cols=4):
    """A grid of rendered scenes (a float tensor as `render` gives) written to `out`, captions printed by index."""
    import numpy as np
    from PIL import Image
    imgs = to_uint8(images)
    rows = (len(imgs) + cols - 1) // cols
    grid = np.zeros((rows * SIZE, cols * SIZE, 3), np.uint8)
    for i, im in enumerate(imgs):
        grid[(i // cols) * SIZE:(i // cols + 1) * SIZE, (i % cols) * SIZE:(i % cols + 1) * SIZE] = im
    Image.fromarray(grid).save(out)
    for i, caption in enumerate(captions):
        print(i, caption)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Write a grid of scene-world samples with their captions.")
    ap.add_argument("--out", default="scenes_grid.png")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-n", type=int, default=16)
    args = ap.parse_args()
    sampler = SceneSampler(args.seed)
    scenes = [sampler.sample() for _ in range(args.n)]
    save_grid(render(scenes, jitter_seed=args.seed), [s["caption"] for s in scenes], args.out)
