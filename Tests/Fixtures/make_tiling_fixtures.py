#!/usr/bin/env python3
"""diffusers' tiled VAE decode (AutoencoderKL.enable_tiling) on the small random KL autoencoder of make_model_fixtures.py
(sample_size 16: latent tiles of 8 overlapping by 2, blended over 4 pixels). Versions pinned in requirements.txt.
Run:  python Tests/Fixtures/make_tiling_fixtures.py   Writes Tests/Fixtures/models/vae_kl/tiled.safetensors.
"""
import os

import torch
from diffusers import AutoencoderKL
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
folder = os.path.join(HERE, "models", "vae_kl")
kl = AutoencoderKL.from_pretrained(folder).float().eval()
kl.enable_tiling()
g = torch.Generator().manual_seed(8)
out = {}
for name, shape in {"uneven": (1, 4, 13, 11), "one_tile": (1, 4, 8, 6)}.items():
    z = torch.randn(*shape, generator=g)
    with torch.no_grad():
        out[f"{name}.z"], out[f"{name}.decoded"] = z, kl.decode(z).sample.contiguous()
save_file(out, os.path.join(folder, "tiled.safetensors"))
print("tiled decode:", {k: tuple(v.shape) for k, v in out.items()})
