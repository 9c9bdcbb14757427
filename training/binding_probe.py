"""Can cross-attention read colour-shape binding and order from the text tower's states? (issue 10, pair prompts)

A probe shaped like the U-Net's cross-attention: two learned spatial queries (the first and the second place of a
pair: left/right or top/bottom) attend over the frozen tower's token states through two cross-attention layers and
must name the colour and the shape of the object the caption puts there. Trained on pair captions from
scenes.SceneSampler (every template and relation), scored on captions it never saw. Compared: the tower's last-layer
states as the U-Net gets them, and the same states plus a fixed sinusoidal code of each token's position.
If the probe cannot bind from the raw states but can with the position code, the conditioning limits pair prompts;
if it binds from both, the U-Net's training does.

    python training/binding_probe.py [--captions 20000] [--steps 3000]
"""
import argparse
import math
import os
import random
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEFAULT_MODEL, MAX_TOKENS, TextTower  # noqa: E402
from scenes import COLOUR_NAMES, SHAPES, SceneSampler  # noqa: E402


def pair_examples(n, seed):
    """(caption, [(colour, shape) at the first place, at the second]) for n pair scenes; place order: left before
    right, top before bottom (the objects' centres)."""
    sampler = SceneSampler(seed, holdout=False)
    out = []
    while len(out) < n:
        objects, caption = sampler.pair()
        a, b = objects
        horizontal = abs(a["cx"] - b["cx"]) > abs(a["cy"] - b["cy"])
        first, second = (a, b) if (a["cx"] < b["cx"] if horizontal else a["cy"] < b["cy"]) else (b, a)
        if " and " in caption:  # "a red circle and a blue square": no place is said
            continue
        out.append((caption, [(first["colour"], first["shape"]), (second["colour"], second["shape"])], horizontal))
    return out


class Probe(torch.nn.Module):
    def __init__(self, dim, width=128, heads=4, layers=2):
        super().__init__()
        self.queries = torch.nn.Parameter(torch.randn(4, width) * 0.02)  # first/second × horizontal/vertical
        self.kv = torch.nn.Linear(dim, width)
        self.attn = torch.nn.ModuleList(torch.nn.MultiheadAttention(width, heads, batch_first=True) for _ in range(layers))
        self.mlp = torch.nn.ModuleList(torch.nn.Sequential(torch.nn.LayerNorm(width), torch.nn.Linear(width, 2 * width),
                                                           torch.nn.GELU(), torch.nn.Linear(2 * width, width))
                                       for _ in range(layers))
        self.colour = torch.nn.Linear(width, len(COLOUR_NAMES))
        self.shape = torch.nn.Linear(width, len(SHAPES))

    def forward(self, states, pad, horizontal):
        kv = self.kv(states)
        q = self.queries.view(2, 2, -1)[(~horizontal).long()]  # [B, 2 places, width]
        for attn, mlp in zip(self.attn, self.mlp):
            q = q + attn(q, kv, kv, key_padding_mask=pad)[0]
            q = q + mlp(q)
        return self.colour(q), self.shape(q)


def position_code(tokens, dim):
    pos = torch.arange(tokens, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    code = torch.zeros(tokens, dim)
    code[:, 0::2], code[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)
    return code


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--captions", type=int, default=20000)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--code-scale", type=float, default=1.0, help="size of the position code against the states' RMS")
    args = ap.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    tower = TextTower("cpu", args.model)
    train, test = pair_examples(args.captions, 1), pair_examples(2000, 2)

    def encode(examples):
        states, pads = [], []
        for i in range(0, len(examples), 256):
            s, _ = tower([c for c, _, _ in examples[i:i + 256]])
            t = tower.tokenizer([c for c, _, _ in examples[i:i + 256]], padding="max_length", truncation=True,
                                max_length=MAX_TOKENS, return_tensors="pt")
            states.append(s)
            pads.append(t.attention_mask == 0)
        colours = torch.tensor([[COLOUR_NAMES.index(c) for c, _ in p] for _, p, _ in examples])
        shapes = torch.tensor([[SHAPES.index(s) for _, s in p] for _, p, _ in examples])
        horizontal = torch.tensor([h for _, _, h in examples])
        return torch.cat(states), torch.cat(pads), colours, shapes, horizontal

    data = {"train": encode(train), "test": encode(test)}
    rms = float(data["train"][0].pow(2).mean().sqrt())
    code = position_code(MAX_TOKENS, data["train"][0].shape[-1]) * rms * args.code_scale
    for name, extra in (("tower states", None), (f"tower states + position code (×{args.code_scale:g} RMS)", code)):
        torch.manual_seed(0)
        probe = Probe(data["train"][0].shape[-1])
        opt = torch.optim.AdamW(probe.parameters(), lr=1e-3)
        states, pads, colours, shapes, horizontal = data["train"]
        if extra is not None:
            states = states + extra
        for step in range(args.steps):
            idx = torch.randint(0, len(states), (128,))
            c, s = probe(states[idx], pads[idx], horizontal[idx])
            loss = torch.nn.functional.cross_entropy(c.flatten(0, 1), colours[idx].flatten()) + \
                torch.nn.functional.cross_entropy(s.flatten(0, 1), shapes[idx].flatten())
            opt.zero_grad()
            loss.backward()
            opt.step()
        ts, tp, tc, tsh, th = data["test"]
        if extra is not None:
            ts = ts + extra
        with torch.no_grad():
            c, s = probe(ts, tp, th)
        colour_ok, shape_ok = c.argmax(-1) == tc, s.argmax(-1) == tsh
        both = (colour_ok & shape_ok).all(1).float().mean()
        print(f"{name}: loss {loss.item():.3f}; held-out captions: colour at its place {float(colour_ok.float().mean()):.3f}, "
              f"shape at its place {float(shape_ok.float().mean()):.3f}, both objects right {float(both):.3f}")


if __name__ == "__main__":
    main()
