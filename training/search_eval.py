#!/usr/bin/env python3
"""Gallery search evaluation (issue 9): 200 scene-world images rendered with their captions as ground truth, indexed
and searched through the real CLI (`phosphor search "a COLOUR SHAPE" FOLDER --top 5 --json`). For each colour+shape
query that at least 5 images contain, precision@5 (the share of the top 5 that contain that coloured shape) and
hit@1 (the first result does); also "more like this" (--like): the share of the top 5 that share a coloured shape
with the query image. Usage: python training/search_eval.py [--phosphor .build/release/phosphor] [--n 200]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scenes import COLOUR_NAMES, SHAPES, SceneSampler, render, to_uint8  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--phosphor", default=".build/release/phosphor")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="phosphor-search-")
    sampler = SceneSampler(args.seed, holdout=False)
    scenes = [sampler.sample() for _ in range(args.n)]
    images = to_uint8(render(scenes, jitter_seed=args.seed))
    kinds = {}
    for i, (scene, pixels) in enumerate(zip(scenes, images)):
        name = f"{i:05d}.png"
        Image.fromarray(pixels).save(os.path.join(folder, name))
        kinds[name] = {(o["colour"], o["shape"]) for o in scene["objects"]}

    def search(*query):
        out = subprocess.run([args.phosphor, "search", *query, folder, "--top", "5", "--json"], check=True,
                             capture_output=True, text=True).stdout
        return [os.path.basename(json.loads(line)["image"]) for line in out.splitlines()]

    precision, hits, queries = [], [], 0
    for colour in COLOUR_NAMES:
        for shape in SHAPES:
            relevant = [n for n, k in kinds.items() if (colour, shape) in k]
            if len(relevant) < 5:
                continue
            top = search(f"a {colour} {shape}")
            precision.append(sum((colour, shape) in kinds[n] for n in top) / 5)
            hits.append((colour, shape) in kinds[top[0]])
            queries += 1
    like = []
    for name in sorted(kinds)[:40]:
        top = search("--like", os.path.join(folder, name))
        like.append(sum(bool(kinds[n] & kinds[name]) for n in top) / len(top))
    print(f"{args.n} scene images, {queries} colour+shape queries with ≥ 5 matching images")
    print(f"text search: precision@5 {np.mean(precision):.3f}, hit@1 {np.mean(hits):.3f}")
    print(f"more like this (40 query images): {np.mean(like):.3f} of the top 5 share a coloured shape with the query")
    print(f"(images in {folder})")


if __name__ == "__main__":
    main()
