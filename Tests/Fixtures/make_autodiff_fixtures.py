#!/usr/bin/env python3
"""Reference gradients (torch.autograd on the CPU, float32) for the Swift tape (Sources/Tensor/Tape.swift):
per operation, through the small random autoencoders and CLIP image tower already in Tests/Fixtures, and through
the whole CLIP-guidance loss (latents -> VQ decode -> cutouts -> CLIP -> spherical distance to a text embedding).

Versions pinned in requirements.txt (torch, diffusers, transformers). Run:  python Tests/Fixtures/make_autodiff_fixtures.py
Writes Tests/Fixtures/autodiff.safetensors: case C stores "C.<name>" tensors; options are "C.@<option>" JSON metadata.
Every case stores an upstream gradient "g" of the output's shape; expected input gradients are d<sum(g * out)>/d input.
"""
import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(2026)
tensors, meta = {}, {}


def put(case, **kv):
    for k, v in kv.items():
        tensors[f"{case}.{k}"] = v.detach().contiguous().clone().float()


def opt(case, **kv):
    for k, v in kv.items():
        meta[f"{case}.@{k}"] = json.dumps(v)


def vjp(fn, *inputs):
    """Output, a random upstream gradient, and the gradients of sum(g * fn(inputs)) for every input."""
    xs = [x.clone().requires_grad_(True) for x in inputs]
    out = fn(*xs)
    g = torch.randn(out.shape)
    grads = torch.autograd.grad((out * g).sum(), xs)
    return out, g, grads


# ----------------------------------------------------------------------------------------------- operations
def conv_case(name, x_shape, w_shape, stride, padding):
    x, w, b = torch.randn(x_shape), torch.randn(w_shape) * 0.3, torch.randn(w_shape[0])
    out, g, (dx,) = vjp(lambda x: F.conv2d(x, w, b, stride=stride, padding=padding), x)
    put(name, x=x, weight=w, bias=b, out=out, g=g, dx=dx)
    opt(name, stride=stride, padding=padding)


conv_case("conv3x3", (2, 3, 7, 6), (5, 3, 3, 3), 1, 1)
conv_case("conv_stride2", (1, 4, 9, 8), (6, 4, 3, 3), 2, 0)
conv_case("conv1x1", (2, 4, 5, 5), (3, 4, 1, 1), 1, 0)
conv_case("conv_patch", (1, 3, 16, 16), (8, 3, 4, 4), 4, 0)

x, w, b = torch.randn(2, 8, 5, 4) * 2 + 0.5, torch.randn(8), torch.randn(8)
out, g, (dx,) = vjp(lambda x: F.group_norm(x, 4, w, b, eps=1e-6), x)
put("group_norm", x=x, weight=w, bias=b, out=out, g=g, dx=dx)
opt("group_norm", groups=4, eps=1e-6)

x, w, b = torch.randn(3, 5, 16) * 1.5 - 0.3, torch.randn(16), torch.randn(16)
out, g, (dx,) = vjp(lambda x: F.layer_norm(x, (16,), w, b, eps=1e-5), x)
put("layer_norm", x=x, weight=w, bias=b, out=out, g=g, dx=dx)

x, w, b = torch.randn(2, 3, 7), torch.randn(5, 7), torch.randn(5)
out, g, (dx,) = vjp(lambda x: F.linear(x, w, b), x)
put("linear", x=x, weight=w, bias=b, out=out, g=g, dx=dx)

x = torch.linspace(-6, 6, 97)
for name, fn in [("silu", F.silu), ("quick_gelu", lambda t: t * torch.sigmoid(1.702 * t)),
                 ("gelu", F.gelu), ("gelu_tanh", lambda t: F.gelu(t, approximate="tanh")),
                 ("clamp", lambda t: (t / 4 + 0.5).clamp(0, 1))]:
    out, g, (dx,) = vjp(fn, x)
    put(name, x=x, out=out, g=g, dx=dx)

for name, (nq, nk, heads, d, dv) in {"attention": (9, 11, 3, 8, 5), "attention_blocks": (300, 300, 1, 4, 4)}.items():
    q, k, v = torch.randn(2, heads, nq, d), torch.randn(2, heads, nk, d), torch.randn(2, heads, nk, dv)
    out, g, (dq, dk, dvv) = vjp(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), q, k, v)
    put(name, q=q, k=k, v=v, out=out, g=g, dq=dq, dk=dk, dv=dvv)

x = torch.randn(1, 2, 5, 4)
out, g, (dx,) = vjp(lambda x: F.interpolate(x, scale_factor=2.0, mode="nearest"), x)
put("upsample", x=x, out=out, g=g, dx=dx)

for name, shape, size in [("pool_down", (1, 2, 13, 11), (5, 4)), ("pool_up", (2, 1, 3, 4), (7, 6))]:
    x = torch.randn(shape)
    out, g, (dx,) = vjp(lambda x: F.adaptive_avg_pool2d(x, size), x)
    put(name, x=x, out=out, g=g, dx=dx)
    opt(name, size=list(size))


def spherical_dist_loss(x, y):
    """diffusers examples/community/clip_guided_stable_diffusion.py"""
    x = F.normalize(x, dim=-1)
    y = F.normalize(y, dim=-1)
    return (x - y).norm(dim=-1).div(2).arcsin().pow(2).mul(2)


x, t = torch.randn(3, 6), F.normalize(torch.randn(6), dim=-1)
out, g, (dx,) = vjp(lambda x: spherical_dist_loss(x, t), x)
put("spherical", x=x, target=t, out=out, g=g, dx=dx)

# ------------------------------------------------------------------------------------------------- models
from diffusers import AutoencoderKL, VQModel  # noqa: E402
from transformers import CLIPVisionModelWithProjection  # noqa: E402

MODELS = os.path.join(HERE, "models")
vq = VQModel.from_pretrained(os.path.join(MODELS, "vae_vq"), variant="fp16").float().eval()
kl = AutoencoderKL.from_pretrained(os.path.join(MODELS, "vae_kl")).float().eval()
clip = CLIPVisionModelWithProjection.from_pretrained(os.path.join(HERE, "default_model", "clip_vision_tiny")).float().eval()
for m in (vq, kl, clip):
    m.requires_grad_(False)

z = torch.randn(1, 3, 6, 5)
# diffusers' VectorQuantizer returns z + (z_q - z).detach(): the straight-through estimator.
out, g, (dz,) = vjp(lambda z: vq.decode(z).sample, z)
put("vq_decoder", z=z, out=out, g=g, dz=dz)

z = torch.randn(1, 4, 6, 5)
out, g, (dz,) = vjp(lambda z: kl.decode(z).sample, z)
put("kl_decoder", z=z, out=out, g=g, dz=dz)

pixels = torch.rand(2, 3, 32, 32) * 2 - 1
out, g, (dp,) = vjp(lambda p: clip(pixel_values=p).image_embeds, pixels)
put("clip_vision", pixels=pixels, out=out, g=g, dpixels=dp)

# -------------------------------------------------------------------------------------------- CLIP guidance
# clip_guided_stable_diffusion.py's cond_fn from the decode on: image = decode(latents / scaling); (image/2 + 0.5)
# clamped to [0, 1]; cutouts (fixed here: (size, offset_x, offset_y)) pooled to the tower's size; normalised with
# mean/std; embedded; loss = spherical distance to the text embedding, viewed [cutouts, batch], summed over the
# embedding, mean over cutouts, summed over the batch, times the guidance scale.
SCALING, SCALE, CUT = 1.35421, 100.0, 32
MEAN, STD = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]   # the default model's tower takes pixels in [-1, 1]
text = F.normalize(torch.randn(clip.config.projection_dim), dim=-1)


def guidance_loss(latents, cutouts):
    image = vq.decode(latents / SCALING).sample
    image = (image / 2 + 0.5).clamp(0, 1)
    if cutouts:
        crops = [F.adaptive_avg_pool2d(image[:, :, oy:oy + s, ox:ox + s], CUT) for s, ox, oy in cutouts]
        image = torch.cat(crops)
    else:
        image = F.adaptive_avg_pool2d(image, CUT)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    emb = clip(pixel_values=(image - mean) / std).image_embeds
    emb = emb / emb.norm(p=2, dim=-1, keepdim=True)
    batch = latents.shape[0]
    if cutouts:
        dists = spherical_dist_loss(emb, text.unsqueeze(0)).view([len(cutouts), batch, -1])
        return dists.sum(2).mean(0).sum() * SCALE
    return spherical_dist_loss(emb, text.unsqueeze(0)).mean() * SCALE


for name, cutouts in [("guidance_resize", []), ("guidance_cutouts", [(10, 0, 0), (10, 0, 2), (7, 2, 3), (5, 5, 6)])]:
    latents = torch.randn(2, 3, 6, 5)
    lat = latents.clone().requires_grad_(True)
    loss = guidance_loss(lat, cutouts)
    (grad,) = torch.autograd.grad(loss, lat)
    put(name, latents=latents, text=text, loss=loss.reshape(1), grad=grad)
    opt(name, cutouts=[list(c) for c in cutouts], scaling=SCALING, scale=SCALE, mean=MEAN, std=STD)

save_file(tensors, os.path.join(HERE, "autodiff.safetensors"), metadata=meta)
print(f"autodiff.safetensors: {len(tensors)} tensors")
