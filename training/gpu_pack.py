"""Fit what a GPU session needs into the device tool's 64 MiB working tree, and unpack it there.

    python training/gpu_pack.py pack gpu/ [--clip]    # here: the shipped model's parts, trimmed, into gpu/
    python training/gpu_pack.py unpack gpu/ /tmp/model # there: a model folder TextTower, train.py --init and --vq read

The text tower is the big part (45 MB fp16), and half of it is the word-embedding table (30,522 rows). Captions use a
few thousand WordPiece tokens, so `pack` keeps only the rows of tokens that some caption can produce: every token of
400,000 sampled scene and emoji captions, of every emoji name and alias, and the special tokens. `unpack` writes the
full-size table back with zero rows elsewhere and `kept_token_ids.json` beside it, and `TextTower` counts any token
outside that list (a caption the sampling missed) and reports it, so a gap cannot go unnoticed. The U-Net and VQ
(and with --clip the image tower) are copied as they are (fp16), the rendered emoji from training/cache (made by
`emoji_scenes.py --cache training/cache/emoji_tiles.npz`).
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEFAULT_MODEL  # noqa: E402

EMBEDDING = "embeddings.word_embeddings.weight"
EMOJI_CACHE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cache", "emoji_tiles.npz")
PARTS = ["unet", "vqvae"]          # the image tower (7 MB) only with --clip: it does not fit beside the rest


def embedding_key(weights):
    keys = [k for k in weights if k.endswith(EMBEDDING)]
    if len(keys) != 1:
        raise SystemExit(f"text encoder: expected one {EMBEDDING}, found {keys}")
    return keys[0]


def caption_token_ids(tokenizer, samples=200_000):
    from emoji_scenes import EMOJI_TEMPLATES, EmojiIndex, EmojiSampler
    from scenes import SceneSampler
    index = EmojiIndex(cache=EMOJI_CACHE)
    scenes, emoji = SceneSampler(12345, holdout=False), EmojiSampler(index, 12345, holdout=False)
    texts = [scenes.sample()["caption"] for _ in range(samples)]
    texts += [emoji.sample()["caption"] for _ in range(samples)]
    texts += [t.format(a="a an the", name=n) for names in [index.names] + index.synonyms for n in names
              for t in EMOJI_TEMPLATES]
    ids = set(tokenizer.all_special_ids)
    for start in range(0, len(texts), 4096):
        for row in tokenizer(texts[start:start + 4096], add_special_tokens=True).input_ids:
            ids.update(row)
    return sorted(ids)


def pack(out, model=DEFAULT_MODEL, clip=False):
    from transformers import BertTokenizerFast
    os.makedirs(os.path.join(out, "text_encoder"), exist_ok=True)
    tokenizer = BertTokenizerFast(os.path.join(model, "tokenizer", "vocab.txt"), do_lower_case=True)
    ids = caption_token_ids(tokenizer)
    weights = load_file(os.path.join(model, "text_encoder", "model.safetensors"))
    key = embedding_key(weights)
    table = weights.pop(key)
    weights[key + ".kept"] = table[torch.tensor(ids)].contiguous()
    save_file(weights, os.path.join(out, "text_encoder", "model.trimmed.safetensors"))
    with open(os.path.join(out, "text_encoder", "kept_token_ids.json"), "w") as f:
        json.dump({"rows": table.shape[0], "ids": ids}, f)
    shutil.copy(os.path.join(model, "text_encoder", "config.json"), os.path.join(out, "text_encoder"))
    shutil.copytree(os.path.join(model, "tokenizer"), os.path.join(out, "tokenizer"), dirs_exist_ok=True)
    for part in PARTS + (["image_encoder"] if clip else []):
        shutil.copytree(os.path.join(model, part), os.path.join(out, part), dirs_exist_ok=True)
    if os.path.exists(EMOJI_CACHE):
        shutil.copy(EMOJI_CACHE, out)
    else:
        print(f"no {EMOJI_CACHE}: the packed folder has no emoji (train with --emoji 0, or render them first)")
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    print(f"packed {model} -> {out}: {len(ids)} of {table.shape[0]} token rows kept, {total / 2**20:.1f} MiB")


def unpack(packed, out):
    os.makedirs(os.path.join(out, "text_encoder"), exist_ok=True)
    weights = load_file(os.path.join(packed, "text_encoder", "model.trimmed.safetensors"))
    with open(os.path.join(packed, "text_encoder", "kept_token_ids.json")) as f:
        kept = json.load(f)
    key = [k for k in weights if k.endswith(".kept")][0]
    rows = weights.pop(key)
    table = torch.zeros(kept["rows"], rows.shape[1], dtype=rows.dtype)
    table[torch.tensor(kept["ids"])] = rows
    weights[key[:-len(".kept")]] = table
    save_file(weights, os.path.join(out, "text_encoder", "model.safetensors"), metadata={"format": "pt"})
    for name in ("config.json", "kept_token_ids.json"):
        shutil.copy(os.path.join(packed, "text_encoder", name), os.path.join(out, "text_encoder"))
    for part in ["tokenizer", "image_encoder"] + PARTS:
        if os.path.isdir(os.path.join(packed, part)):
            shutil.copytree(os.path.join(packed, part), os.path.join(out, part), dirs_exist_ok=True)
    print(f"unpacked {packed} -> {out}: {len(kept['ids'])} token rows")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("pack", "unpack"):
        raise SystemExit(__doc__)
    if sys.argv[1] == "pack":
        pack(sys.argv[2], clip="--clip" in sys.argv[3:])
    else:
        unpack(sys.argv[2], sys.argv[3])
