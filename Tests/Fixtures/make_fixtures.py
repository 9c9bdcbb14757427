#!/usr/bin/env python3
"""Writes the reference fixtures the Swift tests compare against.

Every expected number comes from PyTorch on the CPU (versions pinned in requirements.txt). Run from
anywhere:  python Tests/Fixtures/make_fixtures.py   (rewrites the files next to this script).

Layout: one safetensors file per area. A case named C stores its inputs and expected outputs as
tensors "C.<name>". Inputs too large to commit (U-Net-width conv weights) are not stored: the
file's __metadata__ records "C.<name>" -> "splitmix:<seed>:<scale>:<d0,d1,...>", and both sides
generate them with the same SplitMix64 stream (Tensor.randomUniform in Swift), bit for bit.
Options of a case (stride, eps, ...) are in __metadata__ as "C.@<option>" -> JSON.
"""
import json
import os
import struct
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)


def splitmix(shape, seed, scale=1.0):
    """Mirror of Swift Tensor.randomUniform: uniform in [-scale, scale) from SplitMix64."""
    n = int(np.prod(shape))
    golden = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        state = np.uint64(seed) * golden
        idx = np.arange(1, n + 1, dtype=np.uint64)
        z = state + idx * golden
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    v = (z >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24) * np.float32(2) - np.float32(1)
    v = v * np.float32(scale)
    return torch.from_numpy(v.reshape(shape).copy())


class Fixture:
    def __init__(self, name):
        self.name = name
        self.tensors = {}
        self.meta = {}

    def put(self, case, key, tensor):
        self.tensors[f"{case}.{key}"] = tensor.detach().contiguous().clone()

    def gen(self, case, key, shape, seed, scale=1.0):
        self.meta[f"{case}.{key}"] = f"splitmix:{seed}:{scale!r}:{','.join(map(str, shape))}"
        return splitmix(shape, seed, scale)

    def opt(self, case, **options):
        for k, v in options.items():
            self.meta[f"{case}.@{k}"] = json.dumps(v)

    def save(self):
        path = os.path.join(HERE, self.name)
        save_file(self.tensors, path, metadata=self.meta)
        print(f"{self.name}: {len(self.tensors)} tensors, {os.path.getsize(path) / 1e6:.2f} MB")


def randn(*shape, scale=1.0):
    return torch.randn(*shape) * scale


# ---------------------------------------------------------------------------------------------
def linear_fixtures():
    fx = Fixture("linear.safetensors")
    cases = [("small", (3, 5, 64), 48, True), ("nobias", (7, 33), 17, False), ("odd", (1, 1, 3), 5, True)]
    for case, xs, out, bias in cases:
        x, w = randn(*xs), randn(out, xs[-1], scale=0.1)
        b = randn(out) if bias else None
        fx.put(case, "x", x); fx.put(case, "weight", w)
        if bias: fx.put(case, "bias", b)
        fx.put(case, "out", F.linear(x, w, b))
    # CLIP width, generated inputs.
    x = fx.gen("clip", "x", (2, 77, 768), 11)
    w = fx.gen("clip", "weight", (768, 768), 12, 0.03)
    b = fx.gen("clip", "bias", (768,), 13)
    fx.put("clip", "out", F.linear(x, w, b))
    # Non-contiguous input: base [4, 64, 10] viewed as transpose(1, 2) -> [4, 10, 64].
    base = randn(4, 64, 10)
    w, b = randn(24, 64, scale=0.1), randn(24)
    fx.put("transposed", "base", base); fx.put("transposed", "weight", w); fx.put("transposed", "bias", b)
    fx.put("transposed", "out", F.linear(base.transpose(1, 2), w, b))

    # matmul: batched, broadcast, transposed views
    a, bm = randn(2, 3, 5, 7), randn(2, 3, 7, 4)
    fx.put("bmm", "a", a); fx.put("bmm", "b", bm); fx.put("bmm", "out", torch.matmul(a, bm))
    a, bm = randn(2, 3, 5, 7), randn(7, 4)
    fx.put("bcast", "a", a); fx.put("bcast", "b", bm); fx.put("bcast", "out", torch.matmul(a, bm))
    a, bt = randn(2, 3, 5, 7), randn(2, 3, 4, 7)  # b = bt.transpose(-1, -2)
    fx.put("bt", "a", a); fx.put("bt", "bt", bt); fx.put("bt", "out", torch.matmul(a, bt.transpose(-1, -2)))
    at, bm = randn(2, 7, 5), randn(2, 7, 6)  # a = at.transpose(-1, -2)
    fx.put("at", "at", at); fx.put("at", "b", bm); fx.put("at", "out", torch.matmul(at.transpose(-1, -2), bm))
    fx.save()


def conv_fixtures():
    fx = Fixture("conv2d.safetensors")
    small = [
        # case, x shape, weight shape, stride, padding, bias
        ("k3s1p1", (2, 4, 9, 11), (6, 4, 3, 3), (1, 1), (1, 1), True),
        ("k3s2p1", (2, 4, 9, 11), (6, 4, 3, 3), (2, 2), (1, 1), True),
        ("k3s2p0", (1, 3, 8, 8), (5, 3, 3, 3), (2, 2), (0, 0), True),
        ("k1", (2, 8, 5, 7), (12, 8, 1, 1), (1, 1), (0, 0), True),
        ("k1nobias", (1, 8, 3, 3), (4, 8, 1, 1), (1, 1), (0, 0), False),
        ("k1s2", (1, 4, 7, 7), (3, 4, 1, 1), (2, 2), (0, 0), True),
        ("k4s2p1", (1, 3, 13, 10), (5, 3, 4, 4), (2, 2), (1, 1), True),
        ("k7p3", (1, 3, 10, 10), (4, 3, 7, 7), (1, 1), (3, 3), True),
        ("k3rect", (1, 2, 6, 9), (3, 2, 3, 5), (2, 1), (0, 2), True),
        ("k3tiny", (1, 1, 1, 1), (2, 1, 3, 3), (1, 1), (1, 1), True),
        ("k5bigpad", (1, 2, 3, 2), (2, 2, 5, 5), (1, 1), (3, 3), False),
    ]
    for case, xs, ws, stride, padding, bias in small:
        x, w = randn(*xs), randn(*ws, scale=0.2)
        b = randn(ws[0]) if bias else None
        fx.put(case, "x", x); fx.put(case, "weight", w)
        if bias: fx.put(case, "bias", b)
        fx.opt(case, stride=list(stride), padding=list(padding))
        fx.put(case, "out", F.conv2d(x, w, b, stride=stride, padding=padding))
    # Non-contiguous input: NHWC storage viewed as NCHW.
    base = randn(2, 6, 7, 4)
    w, b = randn(5, 4, 3, 3, scale=0.2), randn(5)
    fx.put("nhwc", "base", base); fx.put("nhwc", "weight", w); fx.put("nhwc", "bias", b)
    fx.opt("nhwc", stride=[1, 1], padding=[1, 1])
    fx.put("nhwc", "out", F.conv2d(base.permute(0, 3, 1, 2), w, b, padding=1))
    # The U-Net's real channel counts at small spatial size (generated weights).
    unet = [
        ("unet_conv_in", (2, 4, 8, 8), (320, 4, 3, 3), 1, 1),
        ("unet_320", (2, 320, 8, 8), (320, 320, 3, 3), 1, 1),
        ("unet_down_320", (2, 320, 8, 8), (320, 320, 3, 3), 2, 1),
        ("unet_320_640", (2, 320, 4, 4), (640, 320, 3, 3), 1, 1),
        ("unet_skip_960_640", (2, 960, 4, 4), (640, 960, 1, 1), 1, 0),
        ("unet_1280", (2, 1280, 2, 2), (1280, 1280, 3, 3), 1, 1),
        ("unet_conv_out", (2, 320, 8, 8), (4, 320, 3, 3), 1, 1),
        # Odd sizes for the Winograd F(2×2, 3×3) path's partial tiles, and a long row of tiles.
        ("winograd_odd", (1, 64, 9, 7), (80, 64, 3, 3), 1, 1),
        ("winograd_wide", (2, 128, 3, 65), (64, 128, 3, 3), 1, 1),
    ]
    for i, (case, xs, ws, stride, padding) in enumerate(unet):
        x = fx.gen(case, "x", xs, 100 + 3 * i)
        w = fx.gen(case, "weight", ws, 101 + 3 * i, 1.0 / (ws[1] * ws[2] * ws[3]) ** 0.5)
        b = fx.gen(case, "bias", (ws[0],), 102 + 3 * i, 0.1)
        fx.opt(case, stride=[stride, stride], padding=[padding, padding])
        fx.put(case, "out", F.conv2d(x, w, b, stride=stride, padding=padding))
    fx.save()


def norm_fixtures():
    fx = Fixture("norm.safetensors")
    gn = [("unet", (2, 320, 8, 8), 32, 1e-5, 0.0), ("vae", (2, 64, 5, 7), 32, 1e-6, 0.0),
          ("offset", (1, 64, 4, 4), 32, 1e-5, 100.0), ("rank3", (2, 12, 9), 4, 1e-5, 0.0)]
    for case, shape, groups, eps, offset in gn:
        x = randn(*shape, scale=3.0) + offset
        w, b = randn(shape[1]), randn(shape[1])
        fx.put(case, "x", x); fx.put(case, "weight", w); fx.put(case, "bias", b)
        fx.opt(case, groups=groups, eps=eps)
        fx.put(case, "out", F.group_norm(x, groups, w, b, eps))
    x = fx.gen("gn1280", "x", (2, 1280, 4, 4), 200)
    w, b = randn(1280), randn(1280)
    fx.put("gn1280", "weight", w); fx.put("gn1280", "bias", b)
    fx.opt("gn1280", groups=32, eps=1e-5)
    fx.put("gn1280", "out", F.group_norm(x, 32, w, b, 1e-5))

    for case, shape, eps in [("ln_clip", (2, 77, 768), 1e-5), ("ln_odd", (3, 7, 33), 1e-6)]:
        x, w, b = randn(*shape, scale=2.0) + 0.5, randn(shape[-1]), randn(shape[-1])
        fx.put(case, "x", x); fx.put(case, "weight", w); fx.put(case, "bias", b)
        fx.opt(case, eps=eps)
        fx.put(case, "out", F.layer_norm(x, (shape[-1],), w, b, eps))
    base = randn(4, 16, 5)  # x = base.transpose(1, 2): [4, 5, 16], non-contiguous
    w, b = randn(16), randn(16)
    fx.put("ln_transposed", "base", base); fx.put("ln_transposed", "weight", w); fx.put("ln_transposed", "bias", b)
    fx.opt("ln_transposed", eps=1e-5)
    fx.put("ln_transposed", "out", F.layer_norm(base.transpose(1, 2), (16,), w, b, 1e-5))

    x = randn(3, 5, 17, scale=5.0)
    fx.put("softmax_last", "x", x); fx.put("softmax_last", "out", torch.softmax(x, -1))
    fx.put("softmax_dim1", "x", x); fx.put("softmax_dim1", "out", torch.softmax(x, 1))
    x = randn(4, 40, scale=300.0)
    x[0, :20] = float("-inf")
    x[1, 3] = float("-inf")
    fx.put("softmax_extreme", "x", x); fx.put("softmax_extreme", "out", torch.softmax(x, -1))
    fx.save()


def attention_fixtures():
    fx = Fixture("attention.safetensors")
    sdpa = F.scaled_dot_product_attention
    q, k, v = randn(2, 8, 100, 40), randn(2, 8, 100, 40), randn(2, 8, 100, 40)
    for n, t in (("q", q), ("k", k), ("v", v)): fx.put("self", n, t)
    fx.put("self", "out", sdpa(q, k, v))
    q, k, v = randn(2, 8, 64, 40), randn(2, 8, 77, 40), randn(2, 8, 77, 40)
    for n, t in (("q", q), ("k", k), ("v", v)): fx.put("cross", n, t)
    fx.put("cross", "out", sdpa(q, k, v))
    q, k, v = randn(2, 12, 77, 64), randn(2, 12, 77, 64), randn(2, 12, 77, 64)
    for n, t in (("q", q), ("k", k), ("v", v)): fx.put("causal", n, t)
    fx.put("causal", "out", sdpa(q, k, v, is_causal=True))
    # Head views of [B, N, H, D] storage (as the U-Net's to_q output reshaped), custom scale, Dv != D.
    qb, kb, vb = randn(2, 50, 5, 16), randn(2, 30, 5, 16), randn(2, 30, 5, 24)
    for n, t in (("qb", qb), ("kb", kb), ("vb", vb)): fx.put("views", n, t)
    fx.opt("views", scale=0.3)
    fx.put("views", "out", sdpa(qb.transpose(1, 2), kb.transpose(1, 2), vb.transpose(1, 2), scale=0.3))
    fx.save()


def elementwise_fixtures():
    fx = Fixture("elementwise.safetensors")
    x = torch.cat([randn(997, scale=4.0), torch.tensor([-100.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 100.0, -88.0, 88.0])])
    fx.put("act", "x", x)
    fx.put("act", "silu", F.silu(x))
    fx.put("act", "gelu", F.gelu(x))
    fx.put("act", "gelu_tanh", F.gelu(x, approximate="tanh"))
    fx.put("act", "quick_gelu", x * torch.sigmoid(1.702 * x))

    a, b = randn(2, 3, 4, 5), randn(3, 1, 5)
    fx.put("bcast", "a", a); fx.put("bcast", "b", b)
    fx.put("bcast", "add", a + b); fx.put("bcast", "mul", a * b); fx.put("bcast", "sub", a - b)
    x, bias = randn(2, 6, 3, 3), randn(6)
    fx.put("chbias", "x", x); fx.put("chbias", "bias", bias); fx.put("chbias", "out", x + bias.view(1, 6, 1, 1))
    base, c = randn(5, 4), randn(4, 1)  # a = base.t(): [4, 5]
    fx.put("tadd", "base", base); fx.put("tadd", "c", c); fx.put("tadd", "out", base.t() + c)

    x = randn(2, 3, 4, 5)
    fx.put("upsample", "x", x); fx.put("upsample", "out", F.interpolate(x, scale_factor=2.0, mode="nearest"))
    a, b = randn(2, 3, 4), randn(2, 5, 4)
    fx.put("cat", "a", a); fx.put("cat", "b", b)
    fx.put("cat", "dim1", torch.cat([a, b], 1)); fx.put("cat", "dimlast", torch.cat([a, a], -1))
    x = randn(2, 7, 3)
    fx.put("chunk", "x", x)
    for i, part in enumerate(torch.chunk(x, 3, dim=1)): fx.put("chunk", f"part{i}", part)
    table = randn(49, 16)
    ids = torch.tensor([[1, 5, 48], [0, 0, 2]], dtype=torch.int64)
    fx.put("embed", "table", table); fx.put("embed", "ids", ids); fx.put("embed", "out", F.embedding(ids, table))

    # Half and bfloat16 conversion, both directions, including rounding ties, subnormals and specials.
    x = torch.cat([randn(500, scale=100.0), randn(100, scale=1e-6),
                   torch.tensor([0.0, -0.0, 65504.0, 65520.0, 1e6, -1e6, 6.1e-5, 5.96e-8, 2.98e-8, 1.0 + 2 ** -11,
                                 1.0 + 3 * 2 ** -11, float("inf"), float("-inf"), 1e-45, 3.0e38])])
    fx.put("dtype", "x", x)
    fx.put("dtype", "half", x.half())
    fx.put("dtype", "half_as_float", x.half().float())
    fx.put("dtype", "bf16", x.bfloat16())
    fx.put("dtype", "bf16_as_float", x.bfloat16().float())
    fx.save()


# ---------------------------------------------------------------------------------------------
# PNG fixtures, encoded here by hand (zlib + struct) so the reference is independent of libpng.
def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def encode_png(width, height, bit_depth, color_type, rows, palette=None, trns=None, texts=()):
    raw = b"".join(b"\x00" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))
    if palette is not None: out += png_chunk(b"PLTE", bytes(v for rgb in palette for v in rgb))
    if trns is not None: out += png_chunk(b"tRNS", trns)
    for kind, key, text in texts:
        if kind == "tEXt": out += png_chunk(b"tEXt", key.encode("latin-1") + b"\x00" + text.encode("latin-1"))
        if kind == "iTXt": out += png_chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8"))
        if kind == "zTXt": out += png_chunk(b"zTXt", key.encode("latin-1") + b"\x00\x00" + zlib.compress(text.encode("latin-1")))
    out += png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")
    return out


def pack_bits(values, depth):
    out, acc, nbits = bytearray(), 0, 0
    for v in values:
        acc = (acc << depth) | v
        nbits += depth
        if nbits == 8: out.append(acc); acc, nbits = 0, 0
    if nbits: out.append(acc << (8 - nbits))
    return bytes(out)


def png_fixtures():
    folder = os.path.join(HERE, "png")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(7)
    w, h = 7, 5
    expected = {}

    def save(name, data, rgba):
        with open(os.path.join(folder, name), "wb") as f: f.write(data)
        expected[name] = torch.from_numpy(rgba.astype(np.float32))

    g8 = rng.integers(0, 256, (h, w))
    save("gray8.png", encode_png(w, h, 8, 0, [bytes(r.tolist()) for r in g8]),
         np.stack([g8, g8, g8, np.full_like(g8, 255)], -1))
    g1 = rng.integers(0, 2, (h, w))
    save("gray1.png", encode_png(w, h, 1, 0, [pack_bits(r.tolist(), 1) for r in g1]),
         np.stack([g1 * 255] * 3 + [np.full_like(g1, 255)], -1))
    g16 = rng.integers(0, 65536, (h, w))
    save("gray16.png", encode_png(w, h, 16, 0, [b"".join(struct.pack(">H", v) for v in r) for r in g16.tolist()]),
         np.stack([g16 / 65535 * 255] * 3 + [np.full(g16.shape, 255.0)], -1))
    ga = rng.integers(0, 256, (h, w, 2))
    save("gray_alpha8.png", encode_png(w, h, 8, 4, [bytes(r.reshape(-1).tolist()) for r in ga]),
         np.stack([ga[..., 0]] * 3 + [ga[..., 1]], -1))
    rgb = rng.integers(0, 256, (h, w, 3))
    save("rgb8.png", encode_png(w, h, 8, 2, [bytes(r.reshape(-1).tolist()) for r in rgb],
                                texts=[("tEXt", "parameters", "a red circle\nSteps: 20, Sampler: Euler a"),
                                       ("iTXt", "Comment", "caf\u00e9 \u2603 \U0001F600"),
                                       ("zTXt", "Software", "zlib text")]),
         np.concatenate([rgb, np.full((h, w, 1), 255)], -1))
    rgba16 = rng.integers(0, 65536, (h, w, 4))
    save("rgba16.png", encode_png(w, h, 16, 6, [b"".join(struct.pack(">H", v) for v in r.reshape(-1).tolist()) for r in rgba16]),
         rgba16 / 65535 * 255)
    rgba = rng.integers(0, 256, (h, w, 4))
    save("rgba8.png", encode_png(w, h, 8, 6, [bytes(r.reshape(-1).tolist()) for r in rgba]), rgba)
    palette = [tuple(rng.integers(0, 256, 3).tolist()) for _ in range(6)]
    alpha = [255, 0, 128, 255]
    idx = rng.integers(0, 6, (h, w))
    pal_rgba = np.array([list(palette[i]) + [alpha[i] if i < len(alpha) else 255] for i in range(6)])
    save("palette4_trns.png", encode_png(w, h, 4, 3, [pack_bits(r.tolist(), 4) for r in idx], palette=palette, trns=bytes(alpha)),
         pal_rgba[idx])
    fx = Fixture("png.safetensors")
    for name, t in expected.items(): fx.put(name, "rgba", t)
    fx.save()


def reference_safetensors():
    """A file written by the reference safetensors library, with every dtype the reader must accept."""
    tensors = {
        "f32": torch.randn(3, 4),
        "f16": torch.randn(5).half(),
        "bf16": torch.randn(2, 3).bfloat16(),
        "i64": torch.arange(7, dtype=torch.int64) - 3,
        "i32": torch.tensor([[1, -2], [3, 40000]], dtype=torch.int32),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
    }
    path = os.path.join(HERE, "reference.safetensors")
    save_file(tensors, path, metadata={"format": "pt", "note": "written by safetensors " + __import__("safetensors").__version__})
    fx = Fixture("reference_expected.safetensors")
    for k, t in tensors.items(): fx.put("as_f32", k, t.float())
    fx.save()


def rng_fixtures():
    """torch's CPU generator: randn/rand streams for several seeds and sizes (small, tail, multiple of 16)."""
    fx = Fixture("rng.safetensors")
    for seed in (0, 42, 2**32 - 1, 2**32 + 5, 123456789012):
        g = torch.Generator("cpu").manual_seed(seed)
        fx.put(f"seed{seed}", "latents", torch.randn((2, 4, 16, 16), generator=g))
        g = torch.Generator("cpu").manual_seed(seed)
        fx.put(f"seed{seed}", "latents64", torch.randn((4, 64, 64), generator=g))
        for n in (1, 3, 7, 15, 16, 17, 31, 100):
            g = torch.Generator("cpu").manual_seed(seed)
            fx.put(f"seed{seed}", f"randn{n}", torch.randn(n, generator=g))
        g = torch.Generator("cpu").manual_seed(seed)
        fx.put(f"seed{seed}", "rand37", torch.rand(37, generator=g))
    # One generator, successive draws: the double path caches its second sample across calls.
    g = torch.Generator("cpu").manual_seed(7)
    for i, n in enumerate((5, 20, 3, 1, 18)):
        fx.put("sequence", f"draw{i}", torch.randn(n, generator=g))
    fx.save()


def hash_fixtures():
    """hashlib's SHA-256 of byte patterns around the 55/56/64-byte padding boundaries and of a committed
    checkpoint file (A1111's "Model hash" is the first 10 hex digits of the file's SHA-256)."""
    import hashlib
    cases = []
    for n in (0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 1000, 100003):
        data = bytes((i * 31 + 7) % 256 for i in range(n))
        cases.append({"length": n, "sha256": hashlib.sha256(data).hexdigest()})
    def file_hash(path):
        with open(os.path.join(HERE, path), "rb") as f:
            return {"path": path, "sha256": hashlib.sha256(f.read()).hexdigest()}
    with open(os.path.join(HERE, "sha256.json"), "w") as f:
        json.dump({"pattern": "(i * 31 + 7) % 256", "cases": cases, "file": file_hash("reference.safetensors"),
                   "checkpoint": file_hash("models/sd1_single.safetensors")}, f, indent=1)


def resize_fixtures():
    """Pillow's LANCZOS resize (what diffusers' VaeImageProcessor and A1111 apply to starting images) of a 37×23
    RGB picture to larger, smaller, square and transposed sizes, and diffusers' crop mode (cover, centre-crop)."""
    from PIL import Image
    import diffusers
    from diffusers.image_processor import VaeImageProcessor
    fx = Fixture("resize.safetensors")
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:23, 0:37]
    picture = np.stack([xx * 7, yy * 11, (xx * yy) % 256], -1) + rng.integers(-40, 40, (23, 37, 3))
    picture = picture.clip(0, 255).astype(np.uint8)
    picture[5:9, 10:20] = [255, 0, 0]  # a hard edge for the filter's ringing
    image = Image.fromarray(picture)
    image.save(os.path.join(HERE, "png", "resize_src.png"))
    for w, h in ((64, 48), (16, 12), (50, 50), (23, 37), (37, 8), (9, 23)):
        fx.put("stretch", f"{w}x{h}", torch.from_numpy(np.asarray(image.resize((w, h), Image.LANCZOS)).astype(np.float32)))
    processor = VaeImageProcessor(vae_scale_factor=8, resample="lanczos")
    for w, h in ((32, 32), (64, 16), (16, 64)):
        cropped = processor.resize(image, height=h, width=w, resize_mode="crop")
        fx.put("crop", f"{w}x{h}", torch.from_numpy(np.asarray(cropped).astype(np.float32)))
    fx.save()


def half_weight_fixtures():
    """fp16 weights (stored as F16, as checkpoints hold them) in fp32 products: torch multiplies the same half values
    widened to fp32. Shapes meet every edge of Phosphor's direct fp16 kernels (gemm_f16.c): rows and columns that are
    not multiples of the register tiles, inner dimensions split into several blocks, more columns than one block,
    a batch of small images in one product (columns of an image straddling tiles), a plane too big for that."""
    fx = Fixture("half_weights.safetensors")
    linear = [  # case, x shape, outputs, bias, seed
        ("linear_edges", (3, 50, 300), 136, True, 1),
        ("linear_long_k", (2, 7, 1000), 40, False, 2),
        ("linear_wide", (1, 5, 64), 600, True, 3),
    ]
    for case, xs, out, bias, seed in linear:
        x = fx.gen(case, "x", xs, 100 + seed)
        w = splitmix((out, xs[-1]), 200 + seed, 0.1).half()
        fx.put(case, "weight", w)
        b = fx.gen(case, "bias", (out,), 300 + seed) if bias else None
        fx.put(case, "out", F.linear(x, w.float(), b))
    convs = [  # case, x shape, weight shape, stride, padding, bias, seed
        ("conv3_batched", (2, 40, 5, 7), (50, 40, 3, 3), 1, 1, True, 4),
        ("conv3_stride2", (2, 24, 9, 11), (30, 24, 3, 3), 2, 1, True, 5),
        ("conv1", (2, 64, 6, 6), (70, 64, 1, 1), 1, 0, False, 6),
        ("conv3_large_plane", (2, 64, 64, 64), (14, 64, 3, 3), 1, 1, True, 7),
    ]
    for case, xs, ws, stride, padding, bias, seed in convs:
        x = fx.gen(case, "x", xs, 100 + seed)
        w = splitmix(ws, 200 + seed, 0.1).half()
        fx.put(case, "weight", w)
        b = fx.gen(case, "bias", (ws[0],), 300 + seed) if bias else None
        fx.opt(case, stride=[stride, stride], padding=[padding, padding])
        fx.put(case, "out", F.conv2d(x, w.float(), b, stride=stride, padding=padding))
    fx.save()


if __name__ == "__main__":
    torch.set_num_threads(1)
    linear_fixtures()
    conv_fixtures()
    norm_fixtures()
    attention_fixtures()
    elementwise_fixtures()
    png_fixtures()
    reference_safetensors()
    rng_fixtures()
    resize_fixtures()
    hash_fixtures()
    half_weight_fixtures()
    print(f"torch {torch.__version__}, numpy {np.__version__}")
