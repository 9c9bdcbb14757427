"""Emoji scenes: colour emoji from Debian's fonts-noto-color-emoji, captioned from their Unicode CLDR names
(the PyPI package `emoji`), alone or two with a relation, on the scene world's named backgrounds. 128x128, like
scenes.py, and mixed into training with `train.py --emoji FRACTION`.

    sudo apt-get install fonts-noto-color-emoji      # Noto Color Emoji: fonts OFL-1.1, images Apache-2.0
    python training/emoji_scenes.py --out emoji_grid.png    # a grid of samples with their captions, to look at
    python training/emoji_scenes.py --cache emoji_tiles.npz # also keep the rendered emoji (7 MB): copied to
                                                            # a stage's --out, no font or `emoji` package needed there

Only single-character emoji are used (one code point, optionally with VS16): no skin-tone variants, ZWJ sequences,
flags or keycaps, whose rendering needs text shaping. Each is rendered once at the font's bitmap size (109 px),
cropped to its ink and kept as 64x64 RGBA; a scene scales it to its size. Every emoji in `HELD_OUT_NAMES` is never
drawn in training, to measure generalisation to unseen emoji names.
"""
import json
import os
import random

import numpy as np
import torch

from scenes import BACKGROUND_PHRASES, COLOUR_NAMES, COLOURS, PREFIXES, RELATIONS, SIZE

FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
TILE = 64
HELD_OUT_NAMES = {"pizza", "cat face", "rocket", "sunflower", "ghost"}
EMOJI_TEMPLATES = ["{a} {name}", "{a} {name}", "{a} {name} emoji", "an emoji of {a} {name}", "the {name} emoji"]


def article(word):
    return "an" if word[0] in "aeiou" else "a"


class EmojiIndex:
    """The usable emoji: `names` (caption name, lower case), `synonyms` (aliases) and `tiles` (N, 4, 64, 64) uint8
    RGBA, alpha premultiplied, ink centred."""

    def __init__(self, font=FONT, cache=None):
        if cache and os.path.exists(cache):
            # The cache holds everything: a machine without the font or the `emoji` package (a GPU box) trains from it.
            data = np.load(cache)
            self.chars = [str(c) for c in data["chars"]]
            self.names = [str(n) for n in data["names"]]
            self.synonyms = json.loads(str(data["synonyms"]))
            self.tiles = torch.from_numpy(data["tiles"])
            return
        import emoji
        from PIL import Image, ImageDraw, ImageFont
        if not os.path.exists(font):
            raise SystemExit(f"emoji: no colour emoji font at {font} (apt-get install fonts-noto-color-emoji)")
        chosen = []
        for char, data in emoji.EMOJI_DATA.items():
            base = char.rstrip("\ufe0f")
            if len(base) != 1 or data.get("status") != emoji.STATUS["fully_qualified"]:
                continue
            if 0x1F1E6 <= ord(base) <= 0x1F1FF or "skin_tone" in data["en"]:
                continue
            name = data["en"].strip(":").replace("_", " ").lower()
            aliases = [a.strip(":").replace("_", " ").lower() for a in data.get("alias", [])]
            chosen.append((char, name, [a for a in aliases if a != name]))
        chosen.sort(key=lambda c: c[1])
        face = ImageFont.truetype(font, 109)
        tiles = np.zeros((len(chosen), 4, TILE, TILE), np.uint8)
        for i, (char, _, _) in enumerate(chosen):
            canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
            ImageDraw.Draw(canvas).text((8, 8), char, font=face, embedded_color=True)
            box = canvas.getbbox()
            if box is None:
                continue
            ink = canvas.crop(box)
            scale = TILE / max(ink.size)
            ink = ink.resize((max(1, round(ink.width * scale)), max(1, round(ink.height * scale))), Image.LANCZOS)
            tile = Image.new("RGBA", (TILE, TILE), (0, 0, 0, 0))
            tile.paste(ink, ((TILE - ink.width) // 2, (TILE - ink.height) // 2))
            rgba = np.asarray(tile).astype(np.float32)
            rgba[..., :3] *= rgba[..., 3:] / 255.0
            tiles[i] = rgba.round().astype(np.uint8).transpose(2, 0, 1)
        keep = [i for i in range(len(chosen)) if tiles[i, 3].max() > 0]
        self.chars = [chosen[i][0] for i in keep]
        self.names = [chosen[i][1] for i in keep]
        self.synonyms = [chosen[i][2] for i in keep]
        self.tiles = torch.from_numpy(tiles[keep])
        if cache:
            np.savez_compressed(cache, tiles=tiles[keep], chars=np.array(self.chars), names=np.array(self.names),
                                synonyms=np.array(json.dumps(self.synonyms)))


class EmojiSampler:
    """Emoji scene descriptions like SceneSampler's: `caption`, `background`, `objects` (each: emoji index, cx, cy, r
    in [-1, 1] coordinates, y down)."""

    def __init__(self, index, seed, holdout=True):
        self.index = index
        self.rng = random.Random(seed)
        self.usable = [i for i, n in enumerate(index.names) if not (holdout and n in HELD_OUT_NAMES)]

    def name(self, i, rng=None):
        options = [self.index.names[i]] + self.index.synonyms[i]
        return (rng or self.rng).choice(options)

    def phrase(self, i, rng=None):
        """A caption for emoji i, drawn with `rng` (default: the sampler's own, which only the data maker may use)."""
        rng = rng or self.rng
        name = self.name(i, rng)
        return rng.choice(EMOJI_TEMPLATES).format(a=article(name), name=name)

    def sample(self):
        if self.rng.random() < 0.6:
            i = self.rng.choice(self.usable)
            r = self.rng.uniform(0.3, 0.5)
            room = 0.95 - r
            objects = [{"emoji": i, "cx": self.rng.uniform(-room, room) * 0.5, "cy": self.rng.uniform(-room, room) * 0.5, "r": r}]
            caption = self.phrase(i)
        else:
            a, b = self.rng.sample(self.usable, 2)
            relation = self.rng.choice(list(RELATIONS))
            main = [self.rng.uniform(-0.55, -0.4), self.rng.uniform(0.4, 0.55)]
            cross = [self.rng.uniform(-0.15, 0.15), self.rng.uniform(-0.15, 0.15)]
            if relation in ("right", "below"):
                main.reverse()
            pos = [(main[k], cross[k]) if relation in ("left", "right") else (cross[k], main[k]) for k in range(2)]
            objects = [{"emoji": e, "cx": p[0], "cy": p[1], "r": self.rng.uniform(0.28, 0.36)} for e, p in zip((a, b), pos)]
            na, nb = self.name(a), self.name(b)
            caption = f"{article(na)} {na} {self.rng.choice(RELATIONS[relation])} {article(nb)} {nb}"
        caption = self.rng.choice(PREFIXES) + caption
        bg = self.rng.choice(COLOUR_NAMES)
        if self.rng.random() < 0.5:
            caption += self.rng.choice(BACKGROUND_PHRASES).format(bg)
        return {"caption": caption, "background": bg, "objects": objects}


def render_emoji(scenes, index, device="cpu", size=SIZE):
    """Emoji scenes to a float tensor (B, 3, size, size) in [-1, 1]: each emoji's tile scaled to a 2r-wide square
    (bilinear, premultiplied alpha) and laid over the background."""
    out = torch.zeros(len(scenes), 3, size, size)
    for b, s in enumerate(scenes):
        img = torch.tensor(COLOURS[s["background"]], dtype=torch.float32)[:, None, None].expand(3, size, size).clone() / 255
        for o in s["objects"]:
            side = max(2, round(o["r"] * size))
            tile = index.tiles[o["emoji"]].float()[None] / 255
            tile = torch.nn.functional.interpolate(tile, size=(side, side), mode="bilinear", antialias=True, align_corners=False)[0]
            x0 = round((o["cx"] + 1) / 2 * size - side / 2)
            y0 = round((o["cy"] + 1) / 2 * size - side / 2)
            xs, ys = max(0, x0), max(0, y0)
            xe, ye = min(size, x0 + side), min(size, y0 + side)
            if xe <= xs or ye <= ys:
                continue
            part = tile[:, ys - y0:ye - y0, xs - x0:xe - x0]
            img[:, ys:ye, xs:xe] = part[:3] + img[:, ys:ye, xs:xe] * (1 - part[3:])
        out[b] = img
    return (out * 2 - 1).clamp(-1, 1).to(device)


if __name__ == "__main__":
    import argparse
    from scenes import save_grid
    ap = argparse.ArgumentParser(description="Write a grid of emoji-scene samples with their captions.")
    ap.add_argument("--out", default="emoji_grid.png")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-n", type=int, default=16)
    ap.add_argument("--cache", help="load the rendered emoji from, or save them to, this .npz (train.py keeps one in --out)")
    args = ap.parse_args()
    index = EmojiIndex(cache=args.cache)
    print(f"{len(index.names)} emoji; held out: {sorted(HELD_OUT_NAMES & set(index.names))}")
    sampler = EmojiSampler(index, args.seed)
    scenes = [sampler.sample() for _ in range(args.n)]
    save_grid(render_emoji(scenes, index), [s["caption"] for s in scenes], args.out)
