#!/usr/bin/env python3
"""A small random transformers CLIPModel (both towers, OpenAI layout: text_model.*, vision_model.*, text_projection,
visual_projection) saved as a user's CLIP folder would be (config.json with text_config/vision_config,
model.safetensors in fp16, preprocessor_config.json), with reference text and image features.

Versions pinned in requirements.txt. Run:  python Tests/Fixtures/make_clip_model_fixtures.py
Writes Tests/Fixtures/models/clip_full/. The prompts are tokenized by transformers' CLIPTokenizer built from the
same BPE file the Swift tokenizer reads (assets/clip); the image is an 8-bit RGB picture already at the tower's
input size, normalised with the processor's mean and std (so no resampling filter is involved).
"""
import json
import os
import tempfile

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

from make_model_fixtures import OUT, clip_vocab, perturb

torch.manual_seed(77)
folder = os.path.join(OUT, "clip_full")
config = CLIPConfig(
    text_config=dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                     max_position_embeddings=77, hidden_act="quick_gelu", bos_token_id=49406, eos_token_id=49407,
                     pad_token_id=49407),
    vision_config=dict(image_size=32, patch_size=8, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                       num_attention_heads=4, hidden_act="quick_gelu"),
    projection_dim=24)
model = perturb(CLIPModel(config).eval()).half().float()
model.half().save_pretrained(folder, safe_serialization=True)
model.float()
mean, std = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
json.dump({"image_mean": mean, "image_std": std, "crop_size": {"height": 32, "width": 32}},
          open(os.path.join(folder, "preprocessor_config.json"), "w"), indent=1)

vocab, merges = clip_vocab()
with tempfile.TemporaryDirectory() as tmp:
    json.dump(vocab, open(os.path.join(tmp, "vocab.json"), "w"))
    open(os.path.join(tmp, "merges.txt"), "w").write("#version: 0.2\n" + "\n".join(merges) + "\n")
    tokenizer = CLIPTokenizer(os.path.join(tmp, "vocab.json"), os.path.join(tmp, "merges.txt"))
prompts = ["a red circle left of a blue square", "A photograph of an astronaut riding a horse!"]
ids = tokenizer(prompts, padding="max_length", max_length=77, return_tensors="pt").input_ids
g = torch.Generator().manual_seed(5)
rgb = torch.randint(0, 256, (1, 32, 32, 3), generator=g, dtype=torch.uint8)
pixels = (rgb.permute(0, 3, 1, 2).float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
with torch.no_grad():
    text = model.get_text_features(input_ids=ids)
    image = model.get_image_features(pixel_values=pixels)
text = text.pooler_output if hasattr(text, "pooler_output") else text
image = image.pooler_output if hasattr(image, "pooler_output") else image
save_file({"input_ids": ids, "rgb": rgb.to(torch.int32).contiguous(), "pixel_values": pixels.contiguous(), "text_embeds": text, "image_embeds": image},
          os.path.join(folder, "expected.safetensors"), metadata={"prompts": json.dumps(prompts)})
print(f"clip_full: text {tuple(text.shape)}, image {tuple(image.shape)}, keys like {sorted(model.state_dict())[:2]}")
