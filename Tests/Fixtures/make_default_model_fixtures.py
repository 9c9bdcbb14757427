#!/usr/bin/env python3
"""Reference fixtures for the default model's parts (requirements.txt pins the versions):

- WordPiece: ids from transformers' BertTokenizer (Python) and BertTokenizerFast (Rust), asserted equal,
  for prompts covering accents, CJK, punctuation, control characters, long words and unknown symbols.
- BertModel: a small random-weight model (perturbed so no weight is trivially 0/1) on right-padded rows.
- The shipped model assets/default: text states for a few prompts, and whole generations through
  training/sample.py's reference sampler (Euler, CFG, torch CPU seeds) — the final latents and the image.
- Regional prompting (training/regions.py): automatic layouts of relation prompts, region weights, and generations
  with regions through sample.py's generate_regional (`--only regions` makes just these: regions.json,
  regions.safetensors).

Writes Tests/Fixtures/default_model/.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "default_model")
sys.path.insert(0, os.path.join(ROOT, "training"))
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(4321)


def region_fixtures():
    from regions import auto_layout, region_weights, split_relation
    from sample import DefaultModel
    prompts = [
        "a red circle left of a blue square", "a red circle to the left of a blue square on a yellow background",
        "A Yellow Star ABOVE a green ring", "a white cross below a black triangle with a gray background.",
        "a picture of a pink star on the right of a cyan cross", "a cat on top of a dog", "an orange ring beneath a brown star",
        "a red circle", "two red circles", "a red circle and a blue square", "left of a blue square", "a red circle left of",
        "a red circle left of a blue square above a green star", "a red   circle\tright of  a blue square",
        "a ball over the moon on a black background, at night", "a boat under a bridge on a blue background!",
        "leftover pizza", "a cover of a book", "a ring on a background", "a red star underneath a blue cross on pink",
    ]
    sizes = [(128, 128), (512, 512), (512, 768), (768, 512), (200, 120)]
    layouts = [{"prompt": p, "width": w, "height": h, "split": list(split_relation(p) or []),
                "regions": [list(r) for r in auto_layout(p, w, h)]} for p in prompts for w, h in sizes]
    geometries = [(0, 0, 20, 32, 32, 32, 3.0), (12, 0, 20, 32, 32, 32, 3.0), (0, 12, 32, 20, 32, 32, 1.5),
                  (8, 8, 16, 16, 32, 32, 2.0), (4, 6, 3, 40, 64, 64, 0.5), (0, 0, 64, 64, 64, 64, 1.0), (30, 50, 34, 14, 64, 64, 7.0)]
    weights = [{"geometry": list(g), "weights": region_weights(*g)} for g in geometries]
    ref = DefaultModel("cpu")
    cases = [("a blue circle left of a red square", 3, 12, 5.0, "auto"),
             ("a yellow star above a green ring on a black background", 8, 12, 5.0, "auto"),
             ("a green ring on a gray background", 5, 10, 4.0, [(0, 0, 64, 64, "a yellow star", 5.0), (72, 80, 48, 40, "a red square", 2.0)])]
    tensors = {}
    for i, (prompt, seed, steps, cfg, layout) in enumerate(cases):
        trace = []
        image = ref.generate([prompt], [seed], steps=steps, cfg=cfg, trace=trace, layout=layout)
        tensors[f"case{i}_latents"] = trace[-1].contiguous()
        tensors[f"case{i}_image"] = image.contiguous()
    save_file(tensors, os.path.join(OUT, "regions.safetensors"))
    json.dump({"layouts": layouts, "weights": weights,
               "cases": [{"prompt": p, "seed": s, "steps": n, "cfg_scale": c,
                          "layout": l if isinstance(l, str) else "off",
                          "regions": [] if isinstance(l, str) else [list(r) for r in l]} for p, s, n, c, l in cases]},
              open(os.path.join(OUT, "regions.json"), "w"))
    print("wrote regions.json, regions.safetensors in", OUT)


if sys.argv[1:] == ["--only", "regions"]:
    region_fixtures()
    sys.exit(0)
VOCAB = os.path.join(ROOT, "assets", "default", "tokenizer", "vocab.txt")

# ------------------------------------------------------------------------------------------ tokenizer
from transformers import BertTokenizer, BertTokenizerFast  # noqa: E402

slow = BertTokenizer(VOCAB, do_lower_case=True)
fast = BertTokenizerFast(VOCAB, do_lower_case=True)
prompts = [
    "", " ", "a red circle", "A RED Circle", "a red circle left of a blue square on a yellow background",
    "two green stars", "three purple crosses, one ring", "a kitten next to an automobile",
    "Café déjà vu — naïve façade", "Ångström Øresund ß straße", "¿Qué? ¡Sí!", "ÉCOLE élève",
    "東京タワー and 北京", "한국어 텍스트", "Ελληνικά κείμενα", "русский текст", "עברית", "العربية",
    "emoji 🐱 cat 🍕 pizza 👩‍🚀", "tab\tnewline\nreturn\r end", "zero\u200bwidth and\u00a0nbsp",
    "control\x07bell\x00nul\ufffdreplacement", "(masterpiece:1.2), [blurry], (red:0.5) circle",
    "don't stop-believing; it's 3.14 or 2,000!", "e-mail@example.com #tag $5 %50 ^_^ ~tilde~",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "x" * 101, "y" * 100, "unaffable unbelievably reconstructing", "hello　world (ideographic space)",
    "…ellipsis “quotes” ‘single’ «guillemets»", "a\u0301 combining acute, i\u0307 dot", "İstanbul DİYARBAKIR",
    "Σίσυφος ΟΔΥΣΣΕΥΣ", "ﬁ ligature ﬀ", "½ ² ③ Ⅻ", "1234567890 0.5 1e-3", "   leading and trailing   ",
    "word" + " word" * 40,
]
ids = []
for p in prompts:
    a = slow(p, add_special_tokens=False)["input_ids"]
    b = fast(p, add_special_tokens=False)["input_ids"]
    assert a == b, (p, a, b)
    ids.append(a)
padded = fast(prompts, padding="max_length", truncation=True, max_length=32)
json.dump({"prompts": prompts, "ids": ids, "padded32": padded["input_ids"],
           "lengths32": [sum(m) for m in padded["attention_mask"]]},
          open(os.path.join(OUT, "tokenizer.json"), "w"), ensure_ascii=False, indent=0)

# ------------------------------------------------------------------------------------------ small BERT
from transformers import BertConfig, BertModel  # noqa: E402

config = BertConfig(vocab_size=120, hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                    max_position_embeddings=40, type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12)
model = BertModel(config, add_pooling_layer=False).eval()
g = torch.Generator().manual_seed(7)
with torch.no_grad():
    for p in model.parameters():
        p.add_(torch.randn(p.shape, generator=g) * 0.05)
tiny = os.path.join(OUT, "bert_tiny")
model.save_pretrained(tiny, safe_serialization=True)
lengths = [10, 3, 16]
input_ids = torch.randint(1, 120, (3, 16), generator=g)
mask = torch.zeros(3, 16, dtype=torch.long)
for i, n in enumerate(lengths):
    mask[i, :n] = 1
    input_ids[i, n:] = 0
with torch.no_grad():
    states = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
save_file({"input_ids": input_ids.to(torch.int64), "lengths": torch.tensor(lengths, dtype=torch.int64), "states": states.contiguous()},
          os.path.join(tiny, "expected.safetensors"))

# ------------------------------------------------------------------------------------------ shipped default model
from sample import DefaultModel  # noqa: E402

ref = DefaultModel("cpu")
text_prompts = ["a red circle", "", "two blue stars above a green ring on a white background, at night!"]
states, _ = ref.text(text_prompts)
tensors = {"text_states": states.contiguous()}
cases = [("a red circle left of a blue square", 1, 20, 5.0), ("three yellow stars on a black background", 7, 12, 3.0)]
for i, (prompt, seed, steps, cfg) in enumerate(cases):
    trace = []
    image = ref.generate([prompt], [seed], steps=steps, cfg=cfg, trace=trace)
    tensors[f"case{i}_latents"] = trace[-1].contiguous()
    tensors[f"case{i}_image"] = image.contiguous()
# Inpainting with the 7-channel U-Net: a rendered scene (PNG) and a mask PNG (white = repaint), binarised as
# diffusers' mask processor does (PIL luma ≥ 0.5).
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from scenes import SceneSampler, render, to_uint8  # noqa: E402
scene = SceneSampler(11).sample()
Image.fromarray(to_uint8(render([scene], jitter_seed=11))[0]).save(os.path.join(OUT, "inpaint_image.png"))
mask = np.zeros((128, 128), np.uint8)
mask[16:112, 56:120] = 255
Image.fromarray(mask).save(os.path.join(OUT, "inpaint_mask.png"))
image = torch.from_numpy(np.array(Image.open(os.path.join(OUT, "inpaint_image.png")).convert("RGB"))).permute(2, 0, 1)[None].float() / 127.5 - 1
m = (torch.from_numpy(np.array(Image.open(os.path.join(OUT, "inpaint_mask.png")).convert("L"))).float() / 255 >= 0.5).float()[None, None]
trace = []
tensors["inpaint_image"] = ref.generate(["a yellow star"], [5], steps=15, cfg=5.0, image=image, mask=m, trace=trace).contiguous()
tensors["inpaint_latents"] = trace[-1].contiguous()
# CLIP: a small random CLIPVisionModelWithProjection, and the shipped image tower + text projection on two rendered
# scenes against three captions (CLIP score = 100 · cosine, as torchmetrics' CLIPScore before its clamp at 0).
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection  # noqa: E402
vconfig = CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, projection_dim=24, hidden_act="quick_gelu")
vision = CLIPVisionModelWithProjection(vconfig).eval()
with torch.no_grad():
    for p in vision.parameters():
        p.add_(torch.randn(p.shape, generator=g) * 0.05)
tiny_clip = os.path.join(OUT, "clip_vision_tiny")
vision.save_pretrained(tiny_clip, safe_serialization=True)
pixels = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
with torch.no_grad():
    embeds = vision(pixel_values=pixels).image_embeds
save_file({"pixel_values": pixels.contiguous(), "image_embeds": embeds.contiguous()}, os.path.join(tiny_clip, "expected.safetensors"))

from safetensors.torch import load_file  # noqa: E402
clip = CLIPVisionModelWithProjection.from_pretrained(os.path.join(ROOT, "assets", "default", "image_encoder"), dtype=torch.float32).eval()
proj = load_file(os.path.join(ROOT, "assets", "default", "image_encoder", "text_projection.safetensors"))["text_projection.weight"].float()
scenes = SceneSampler(21)
clip_images = []
for i in range(2):
    sc = scenes.sample()
    Image.fromarray(to_uint8(render([sc], jitter_seed=i))[0]).save(os.path.join(OUT, f"clip_scene{i}.png"))
    clip_images.append(torch.from_numpy(np.array(Image.open(os.path.join(OUT, f"clip_scene{i}.png")).convert("RGB"))).permute(2, 0, 1).float() / 127.5 - 1)
clip_prompts = [sc["caption"], "a red circle", "two blue squares on a yellow background"]
with torch.no_grad():
    image_embeds = torch.nn.functional.normalize(clip(pixel_values=torch.stack(clip_images)).image_embeds, dim=-1)
    _, pooled = ref.text(clip_prompts)
    text_embeds = torch.nn.functional.normalize(pooled @ proj.T, dim=-1)
tensors["clip_image_embeds"] = image_embeds.contiguous()
tensors["clip_text_embeds"] = text_embeds.contiguous()
tensors["clip_scores"] = (100 * image_embeds @ text_embeds.T).contiguous()
json.dump(clip_prompts, open(os.path.join(OUT, "clip_prompts.json"), "w"))
save_file(tensors, os.path.join(OUT, "expected.safetensors"))
json.dump({"text_prompts": text_prompts,
           "cases": [{"prompt": p, "seed": s, "steps": n, "cfg_scale": c} for p, s, n, c in cases]},
          open(os.path.join(OUT, "cases.json"), "w"), indent=1)
region_fixtures()
print("wrote", OUT)
