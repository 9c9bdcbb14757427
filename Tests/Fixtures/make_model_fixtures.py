#!/usr/bin/env python3
"""Reference fixtures for the Stable Diffusion model family (tokenizer, CLIP text encoder, U-Net,
autoencoders), from small random-weight models built with transformers/diffusers on the CPU.
Versions pinned in requirements.txt. Writes into Tests/Fixtures/models/.

Every parameter is perturbed after construction (biases and norms included) so that no weight is
trivially zero or one and every key is exercised. Each component is saved in the layout a user has
(diffusers folder with config.json and safetensors) plus its inputs and the reference outputs.
"""
import gzip
import json
import os

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "models")
ASSETS = os.path.join(HERE, "..", "..", "assets", "clip")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(1234)


def perturb(module, scale=0.05):
    g = torch.Generator().manual_seed(99)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return module


# --------------------------------------------------------------------------------------------- tokenizer
def clip_vocab():
    """vocab.json/merges.txt derived from open_clip's bpe_simple_vocab_16e6.txt.gz as OpenAI CLIP does."""
    merges = gzip.open(os.path.join(ASSETS, "bpe_simple_vocab_16e6.txt.gz")).read().decode("utf-8").split("\n")
    merges = merges[1:49152 - 256 - 2 + 1]
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    byte_chars = [chr(c) for c in cs]
    vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(vocab)}, merges


def prompts():
    base = [
        "", " ", "a photo of a cat", "A Photo Of A CAT", "a red circle left of a blue square",
        "  lots   of\twhitespace\n\nand newlines  ", "an astronaut riding a horse on mars, trending on artstation",
        "(masterpiece:1.2), best quality, (((detailed))), [blurry]", "\\(escaped\\) parentheses", "word:1.5",
        "café crème brûlée", "naïve résumé façade", "Ångström über straße", "ÉCOLE ÉLÉGANTE", "ﬁne ligature",
        "日本の猫", "猫が好き", "한국어 텍스트", "Привет мир", "Γειά σου κόσμε", "مرحبا بالعالم", "שלום עולם",
        "emoji 😀😃😄 cat 🐱 pizza 🍕", "👩‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "❤️ heart", "👍🏽 thumbs",
        "numbers 1234567890 3.14159 1,000,000", "2024-01-01T12:00:00Z", "#hashtag @mention $100 50% &amp; <b>bold</b>",
        "it's don't we're you've I'm we'll he'd", "IT'S DON'T", "rock'n'roll", "\"quoted\" 'single' `back`",
        "a-b_c.d/e\\f|g", "...!!!???", "~!@#$%^&*()_+{}|:<>?", "tab\tseparated\tvalues", "x" * 300,
        "a " * 100, "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "<|startoftext|> explicit special <|endoftext|>", "BREAK is a keyword", "a photo, BREAK, of a dog",
        "in the style of greg rutkowski and alphonse mucha, 8k, octane render",
        "a cat face left of a pizza on a blue background", "two red circles above a green star",
        "ZALGO t̷̢̛e̸x̴t̵", "combining e\u0301 vs \u00e9", "zero\u200bwidth", "non\u00a0breaking space", "full　width　space",
        "ｆｕｌｌｗｉｄｔｈ ｌａｔｉｎ", "Ⅻ roman", "½ ¾ ⅓", "ℌ𝔢𝔩𝔩𝔬 math letters", "𝓼𝓬𝓻𝓲𝓹𝓽",
        "camelCaseWords and PascalCase", "snake_case_words", "UPPER lower MiXeD", "trailing spaces   ",
        "\u3000leading ideographic space", "mixed日本語english", "123abc456", "a1b2c3", "l33t sp34k",
        "question? exclamation! colon: semicolon;", "ellipsis… dash — endash –", "«guillemets» „quotes“",
        "“curly” ‘quotes’ don’t", "ﬁne ﬂower ﬀ ﬃ", "ＦＵＬＬ　ＷＩＤＴＨ！", "&lt;tag&gt; &quot;q&quot; &#39;a&#39; &#x263A; &amp;amp;",
        "line\r\nbreaks\rand\u2028separators", "soft\u00adhyphen", "bom\ufeffmark",
    ]
    words = ["a", "cat", "dog", "photo", "of", "the", "red", "blue", "green", "painting", "portrait", "landscape",
             "sunset", "mountain", "river", "city", "night", "neon", "cyberpunk", "forest", "castle", "dragon",
             "(detailed:1.3)", "[simple]", "4k", "hdr", "by", "artist", "unreal", "engine", "émigré", "naïve",
             "🐶", "🌅", "日本", ",", ".", "!", "''", "it's", "x2", "3d"]
    g = torch.Generator().manual_seed(5)
    out = list(base)
    while len(out) < 240:
        n = int(torch.randint(1, 40, (1,), generator=g))
        idx = torch.randint(0, len(words), (n,), generator=g).tolist()
        sep = [" ", " ", " ", ", ", "  "]
        s = ""
        for i in idx:
            s += words[i] + sep[int(torch.randint(0, len(sep), (1,), generator=g))]
        out.append(s.strip() if len(out) % 3 else s)
    return out


def tokenizer_fixtures():
    from transformers import CLIPTokenizer
    vocab, merges = clip_vocab()
    pairs = [tuple(m.split()) for m in merges]
    sd1 = CLIPTokenizer(vocab=vocab, merges=pairs)
    sd2 = CLIPTokenizer(vocab=vocab, merges=pairs, pad_token="!")  # SD 2.x: padding id 0
    ps = prompts()
    args = dict(padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    ids1 = sd1(ps, **args).input_ids
    ids2 = sd2(ps, **args).input_ids
    # Untruncated ids (for A1111-style chunking of long prompts): no specials, no padding.
    raw = [sd1(p, add_special_tokens=False).input_ids for p in ps]
    json.dump({"prompts": ps, "raw_ids": raw}, open(os.path.join(OUT, "tokenizer_prompts.json"), "w"), ensure_ascii=False, indent=0)
    # open_clip's own tokenizer (ftfy.fix_text + HTML unescaping + whitespace clean + lower, pad with 0).
    import open_clip
    ids_oc = open_clip.tokenize(ps).to(torch.int64)
    save_file({"sd1_ids": ids1, "sd2_ids": ids2, "open_clip_ids": ids_oc}, os.path.join(OUT, "tokenizer_ids.safetensors"))
    print(f"tokenizer: {len(ps)} prompts, vocab {len(vocab)}")


# --------------------------------------------------------------------------------------------- CLIP text
def clip_fixtures():
    from transformers import CLIPTextConfig, CLIPTextModel
    ids = torch.tensor([[406, 320, 125, 539, 320, 368, 407] + [407] * 70,
                        [406, 44, 55, 66, 77, 88, 999] + [0] * 70], dtype=torch.int64)
    for name, act, layers, dtype in (("clip_sd1", "quick_gelu", 3, torch.float32), ("clip_sd2", "gelu", 4, torch.bfloat16)):
        cfg = CLIPTextConfig(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
                             num_attention_heads=4, max_position_embeddings=77, hidden_act=act,
                             layer_norm_eps=1e-5, projection_dim=32, bos_token_id=406, eos_token_id=407, pad_token_id=407)
        model = perturb(CLIPTextModel(cfg).eval()).to(dtype).float()
        folder = os.path.join(OUT, name)
        model.to(dtype).save_pretrained(folder, safe_serialization=True)
        model.float()
        with torch.no_grad():
            out = model(input_ids=ids, output_hidden_states=True)
        skip2 = model.final_layer_norm(out.hidden_states[-2])
        state = {k: v.to(dtype).contiguous() for k, v in model.state_dict().items()}
        # The transformers-4 layout (keys under text_model.), which most real checkpoints have.
        prefixed = {("text_model." + k if not k.startswith("text_model.") else k): v for k, v in state.items()}
        save_file(prefixed, os.path.join(folder, "model_prefixed.safetensors"))
        save_file({"input_ids": ids, "last_hidden_state": out.last_hidden_state, "clip_skip2": skip2},
                  os.path.join(folder, "expected.safetensors"))
        print(f"{name}: keys like {sorted(state)[:2]}")


# --------------------------------------------------------------------------------------------- U-Net
def unet_fixtures():
    from diffusers import UNet2DConditionModel
    common = dict(sample_size=8, block_out_channels=(32, 64), layers_per_block=2, norm_num_groups=8,
                  down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                  up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=48)
    variants = {
        "unet_sd1": dict(in_channels=4, out_channels=4, attention_head_dim=4),
        "unet_sd2": dict(in_channels=4, out_channels=4, attention_head_dim=(2, 4), use_linear_projection=True),
        "unet_inpaint": dict(in_channels=9, out_channels=4, attention_head_dim=4),
        # Attention at every level, 7 input channels: the default model's attn32 variant (training/common.py).
        "unet_attn_all": dict(in_channels=7, out_channels=3, attention_head_dim=4,
                              down_block_types=("CrossAttnDownBlock2D",) * 2, up_block_types=("CrossAttnUpBlock2D",) * 2),
    }
    g = torch.Generator().manual_seed(3)
    for name, extra in variants.items():
        # Variants added later draw their initial weights from a seed of their own, leaving the global RNG (and so
        # every fixture made after this function) as it was.
        with torch.random.fork_rng(enabled=name == "unet_attn_all"):
            if name == "unet_attn_all":
                torch.manual_seed(17)
            model = perturb(UNet2DConditionModel(**{**common, **extra}).eval(), 0.02)
        folder = os.path.join(OUT, name)
        if name == "unet_sd2":
            # Stored as diffusers' fp16 variant; the reference runs the fp16-rounded weights in fp32.
            model = model.half().float()
            model.half().save_pretrained(folder, safe_serialization=True, variant="fp16")
            model.float()
        else:
            model.save_pretrained(folder, safe_serialization=True)
        cin = extra["in_channels"]
        # 6×5 latents are not divisible by the U-Net's downsampling factor (as 520×680 px images are not
        # by 64); diffusers then upsamples to each skip connection's exact size, and so must we.
        cases = {"square": ((2, cin, 8, 8), 981.0), "odd": ((1, cin, 6, 5), 1.0)}
        tensors = {}
        for case, (shape, step) in cases.items():
            x = torch.randn(shape, generator=g)
            ctx = torch.randn(shape[0], 77, 48, generator=g)
            t = torch.tensor([step] * shape[0])
            with torch.no_grad():
                out = model(x, t, encoder_hidden_states=ctx).sample
            tensors.update({f"{case}.x": x, f"{case}.context": ctx, f"{case}.timestep": t, f"{case}.out": out})
        save_file(tensors, os.path.join(folder, "expected.safetensors"))
        print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters")


# --------------------------------------------------------------------------------------------- autoencoders
def vae_fixtures():
    from diffusers import AutoencoderKL, VQModel
    g = torch.Generator().manual_seed(4)
    kl = perturb(AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                               up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(32, 64),
                               layers_per_block=1, latent_channels=4, norm_num_groups=8, sample_size=16).eval(), 0.02)
    folder = os.path.join(OUT, "vae_kl")
    kl.save_pretrained(folder, safe_serialization=True)
    z = torch.randn(1, 4, 6, 5, generator=g)
    img = torch.rand(1, 3, 12, 10, generator=g) * 2 - 1
    with torch.no_grad():
        dec = kl.decode(z).sample
        post = kl.encode(img).latent_dist
    save_file({"z": z, "decoded": dec, "image": img, "mean": post.mean, "logvar": post.logvar},
              os.path.join(folder, "expected.safetensors"))
    vq = perturb(VQModel(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                         up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(32, 64), layers_per_block=1,
                         latent_channels=3, num_vq_embeddings=64, norm_num_groups=8, sample_size=16).eval(), 0.02)
    folder = os.path.join(OUT, "vae_vq")
    vq = vq.half().float()
    vq.half().save_pretrained(folder, safe_serialization=True, variant="fp16")
    vq.float()
    with torch.no_grad():
        h = vq.encode(img).latents
        quant, _, (_, _, indices) = vq.quantize(h)
        dec_forced = vq.decode(h, force_not_quantize=False).sample
        dec_plain = vq.decode(quant, force_not_quantize=True).sample
    save_file({"image": img, "latents": h, "indices": indices.reshape(-1).to(torch.int64), "quantized": quant,
               "decoded_quantize": dec_forced, "decoded_no_quantize": dec_plain},
              os.path.join(folder, "expected.safetensors"))
    print("vae: kl and vq written")


# --------------------------------------------------------------------------------------------- single-file
RESNET_TO_LDM = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1", "norm2": "out_layers.0",
                 "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}


def unet_to_ldm(sd, layers_per_block):
    """diffusers UNet2DConditionModel keys -> original LDM keys (model.diffusion_model.*)."""
    out = {}
    n = layers_per_block + 1

    def resnet(rest):
        head, _, tail = rest.partition(".")
        return RESNET_TO_LDM[head] + "." + tail

    fixed = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2", "conv_in": "input_blocks.0.0",
             "conv_norm_out": "out.0", "conv_out": "out.2"}
    for k, v in sd.items():
        parts = k.split(".")
        new = None
        for a, b in fixed.items():
            if k.startswith(a + "."): new = b + k[len(a):]
        if parts[0] == "down_blocks":
            b, kind, l, rest = int(parts[1]), parts[2], int(parts[3]), ".".join(parts[4:])
            if kind == "resnets": new = f"input_blocks.{1 + b * n + l}.0.{resnet(rest)}"
            elif kind == "attentions": new = f"input_blocks.{1 + b * n + l}.1.{rest}"
            elif kind == "downsamplers": new = f"input_blocks.{1 + b * n + layers_per_block}.0.op.{rest.split('.', 1)[1]}"
        elif parts[0] == "mid_block":
            kind, l, rest = parts[1], int(parts[2]), ".".join(parts[3:])
            new = f"middle_block.{2 * l}.{resnet(rest)}" if kind == "resnets" else f"middle_block.{2 * l + 1}.{rest}"
        elif parts[0] == "up_blocks":
            b, kind, l, rest = int(parts[1]), parts[2], int(parts[3]), ".".join(parts[4:])
            has_attn = any(x.startswith(f"up_blocks.{b}.attentions.") for x in sd)
            if kind == "resnets": new = f"output_blocks.{b * n + l}.0.{resnet(rest)}"
            elif kind == "attentions": new = f"output_blocks.{b * n + l}.1.{rest}"
            elif kind == "upsamplers": new = f"output_blocks.{b * n + layers_per_block}.{2 if has_attn else 1}.conv.{rest.split('.', 1)[1]}"
        assert new is not None, k
        out["model.diffusion_model." + new] = v
    return out


def vae_to_ldm(sd):
    out = {}
    ups = 1 + max(int(k.split(".")[2]) for k in sd if k.startswith("decoder.up_blocks."))
    attn = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
    for k, v in sd.items():
        new = k.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
        parts = new.split(".")
        if parts[1] == "down_blocks":
            new = f"{parts[0]}.down.{parts[2]}." + (f"block.{parts[4]}." + ".".join(parts[5:]) if parts[3] == "resnets"
                                                    else "downsample." + ".".join(parts[5:]))
        elif parts[1] == "up_blocks":
            i = ups - 1 - int(parts[2])
            new = f"{parts[0]}.up.{i}." + (f"block.{parts[4]}." + ".".join(parts[5:]) if parts[3] == "resnets"
                                            else "upsample." + ".".join(parts[5:]))
        elif parts[1] == "mid_block":
            if parts[2] == "resnets":
                new = f"{parts[0]}.mid.block_{int(parts[3]) + 1}." + ".".join(parts[4:])
            else:
                rest = ".".join(parts[4:])
                for a, b in attn.items():
                    if rest.startswith(a + "."): rest = b + rest[len(a):]
                new = f"{parts[0]}.mid.attn_1.{rest}"
                if v.dim() == 2: v = v[:, :, None, None]  # LDM stores the attention projections as 1×1 convs
        out["first_stage_model." + new] = v.contiguous()
    return out


def clip_to_ldm(sd):
    return {"cond_stage_model.transformer.text_model." + k: v for k, v in sd.items()}


def openclip_to_ldm(sd):
    """transformers CLIP keys -> OpenCLIP keys (cond_stage_model.model.*), q/k/v fused into in_proj, plus one more
    resblock than the text encoder uses, as SD 2.x checkpoints carry 24 blocks of which diffusers uses 23."""
    out = {}
    layers = 1 + max(int(k.split(".")[2]) for k in sd if k.startswith("encoder.layers."))
    p = "cond_stage_model.model."
    out[p + "token_embedding.weight"] = sd["embeddings.token_embedding.weight"]
    out[p + "positional_embedding"] = sd["embeddings.position_embedding.weight"]
    out[p + "ln_final.weight"] = sd["final_layer_norm.weight"]
    out[p + "ln_final.bias"] = sd["final_layer_norm.bias"]
    for i in list(range(layers)) + [layers]:
        src = f"encoder.layers.{min(i, layers - 1)}."
        dst = f"{p}transformer.resblocks.{i}."
        g = lambda n: sd[src + n]
        out[dst + "attn.in_proj_weight"] = torch.cat([g("self_attn.q_proj.weight"), g("self_attn.k_proj.weight"), g("self_attn.v_proj.weight")])
        out[dst + "attn.in_proj_bias"] = torch.cat([g("self_attn.q_proj.bias"), g("self_attn.k_proj.bias"), g("self_attn.v_proj.bias")])
        if i == layers:  # the unused last block: make it different so using it would show
            out[dst + "attn.in_proj_weight"] = out[dst + "attn.in_proj_weight"] * 3
        for a, b in (("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"),
                     ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")):
            for t in ("weight", "bias"): out[dst + f"{b}.{t}"] = g(f"{a}.{t}").clone()
    out[p + "text_projection"] = torch.randn(sd["final_layer_norm.weight"].shape[0], 32)
    return out


def single_file_fixtures():
    from diffusers.loaders.single_file_utils import (convert_ldm_clip_checkpoint, convert_ldm_unet_checkpoint,
                                                     convert_ldm_vae_checkpoint, convert_open_clip_checkpoint)
    from safetensors.torch import load_file
    from transformers import CLIPTextConfig, CLIPTextModel
    load = lambda name, f: load_file(os.path.join(OUT, name, f))
    cfg = lambda name: json.load(open(os.path.join(OUT, name, "config.json")))
    vae = load("vae_kl", "diffusion_pytorch_model.safetensors")

    def check(converted, original, what):
        for k, v in original.items():
            assert k in converted, f"{what}: diffusers' converter lost {k}"
            assert torch.equal(converted[k].float().reshape(v.shape), v.float()), f"{what}: {k} differs"

    files = {
        "sd1_single.safetensors": ("unet_sd1", "diffusion_pytorch_model.safetensors", "clip_sd1", torch.float32),
        "sd1_inpaint_single.safetensors": ("unet_inpaint", "diffusion_pytorch_model.safetensors", "clip_sd1", torch.float32),
        "sd2_single_fp16.safetensors": ("unet_sd2", "diffusion_pytorch_model.fp16.safetensors", "clip_sd2", torch.float16),
    }
    for fname, (unet_name, unet_file, clip_name, dtype) in files.items():
        unet = load(unet_name, unet_file)
        clip = load(clip_name, "model.safetensors")
        ldm = unet_to_ldm(unet, cfg(unet_name)["layers_per_block"])
        ldm.update(vae_to_ldm(vae))
        ldm.update(clip_to_ldm(clip) if clip_name == "clip_sd1" else openclip_to_ldm(clip))
        # fp16 files: U-Net in fp16, text encoder in bf16 (as stored; bf16 → fp16 would not be exact), VAE in fp32.
        text_dtype = torch.bfloat16 if dtype == torch.float16 else dtype
        ldm = {k: (v.to(dtype) if k.startswith("model.") else v.to(text_dtype) if k.startswith("cond_stage_model.") else v).contiguous()
               for k, v in ldm.items()}
        # The reference's own converter must read our file back to the original weights.
        check(convert_ldm_unet_checkpoint(ldm, cfg(unet_name)), unet, fname + " unet")
        check(convert_ldm_vae_checkpoint(ldm, cfg("vae_kl")), vae, fname + " vae")
        if clip_name == "clip_sd1":
            check({k.replace("text_model.", "", 1): v for k, v in convert_ldm_clip_checkpoint(ldm).items()}, clip, fname + " clip")
        else:
            model = CLIPTextModel(CLIPTextConfig(**{k: v for k, v in cfg(clip_name).items() if not k.startswith("_")}))
            conv = convert_open_clip_checkpoint(model, ldm)
            check({k.replace("text_model.", "", 1): v for k, v in conv.items()}, clip, fname + " openclip")
        save_file(ldm, os.path.join(OUT, fname))
        print(f"{fname}: {len(ldm)} tensors, checked with diffusers' converters")


def sd15_shapes():
    """Key → shape of a full-size SD 1.5 single-file checkpoint (LDM names), from the reference classes built on
    the meta device (no weights). Tests and `phosphor bench` fill such a file with random fp16 data at run time."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel
    with torch.device("meta"):
        unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
        vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
                            up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2, latent_channels=4, sample_size=512)
        clip = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                            num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu"))
    ldm = unet_to_ldm(unet.state_dict(), 2)
    ldm.update(vae_to_ldm(vae.state_dict()))
    ldm.update(clip_to_ldm({k: v for k, v in clip.state_dict().items() if not k.endswith("position_ids")}))
    shapes = {k: list(v.shape) for k, v in sorted(ldm.items())}
    json.dump(shapes, open(os.path.join(HERE, "..", "..", "assets", "architectures", "sd15_shapes.json"), "w"), separators=(",", ":"))
    total = sum(int(torch.tensor(s).prod()) if s else 1 for s in shapes.values())
    print(f"sd15_shapes.json: {len(shapes)} tensors, {total / 1e6:.1f} M parameters")


if __name__ == "__main__":
    torch.set_num_threads(1)
    tokenizer_fixtures()
    clip_fixtures()
    unet_fixtures()
    vae_fixtures()
    single_file_fixtures()
    sd15_shapes()
    import diffusers, transformers
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, diffusers {diffusers.__version__}")
