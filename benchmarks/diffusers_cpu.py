#!/usr/bin/env python3
"""diffusers / PyTorch on the CPU, Stable Diffusion 1.5's architecture with random weights (made here, no download),
timed stage by stage as `phosphor bench sd` does: text encoder (prompt + negative), U-Net step (batch 2, as with CFG)
and VAE decode per size, with torch's FlopCounterMode FLOPs; peak RSS. One JSON object on stdout with --json.
Versions: Tests/Fixtures/requirements.txt (torch, diffusers, transformers). Usage:
    python benchmarks/diffusers_cpu.py --threads 2 --sizes 256,512 [--repeats 1] [--json]
"""
import argparse
import json
import resource
import time

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
from torch.utils.flop_counter import FlopCounterMode
from transformers import CLIPTextConfig, CLIPTextModel


def best(repeats, fn):
    seconds = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds = min(seconds, time.perf_counter() - start)
    return seconds


def flops(fn):
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--e2e-steps", type=int, default=0,
                        help="also a whole txt2img at the first size: text encoder, N Euler steps with CFG 7.5, VAE decode")
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32",
                        help="bf16: models and inputs in torch.bfloat16 (torch_dtype=torch.bfloat16; AMX through oneDNN where the CPU has it)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sizes = [int(s) for s in args.sizes.split(",")]
    say = (lambda *a: None) if args.json else print

    n = 2048
    a, b = torch.rand(n, n), torch.rand(n, n)
    gemm = 2 * n ** 3 / best(3, lambda: a @ b) / 1e9
    report = {"torch": torch.__version__, "threads": args.threads, "sgemm_gflops": gemm, "dtype": args.dtype}
    say(f"diffusers CPU — SD 1.5 architecture, random weights, {args.dtype}, {args.threads} threads\nsgemm 2048³ {gemm:8.1f} GFLOP/s")

    with torch.no_grad():
        text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                            num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu")).eval()
        unet = UNet2DConditionModel(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                                    block_out_channels=(320, 640, 1280, 1280),
                                    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                                    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
                                    cross_attention_dim=768, attention_head_dim=8).eval()
        vae = AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(128, 256, 512, 512),
                            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                            latent_channels=4, layers_per_block=2, sample_size=512).eval()
        if dtype != torch.float32:
            text, unet, vae = text.to(dtype), unet.to(dtype), vae.to(dtype)
        ids = torch.randint(0, 49408, (2, 77))
        text(ids)
        report["text_encoder_seconds"] = best(args.repeats, lambda: text(ids))
        say(f"text encoder {report['text_encoder_seconds']:8.3f} s")
        context = torch.randn(2, 77, 768, dtype=dtype)
        rows = []
        for size in sizes:
            x = torch.randn(2, 4, size // 8, size // 8, dtype=dtype)
            t = torch.tensor([500, 500])
            step = lambda: unet(x, t, encoder_hidden_states=context)
            count = flops(step)     # also the warm-up
            seconds = best(args.repeats, step)
            rows.append({"size": size, "seconds": seconds, "gflop": count / 1e9, "effective_gflops": count / seconds / 1e9})
            say(f"U-Net step {size:4d} px ×2 {seconds:8.3f} s {count / 1e9:7.1f} GFLOP {count / seconds / 1e9:6.1f} GFLOP/s")
        report["unet_step"] = rows
        rows = []
        for size in sizes:
            z = torch.randn(1, 4, size // 8, size // 8, dtype=dtype)
            decode = lambda: vae.decode(z)
            count = flops(decode)
            seconds = best(args.repeats, decode)
            rows.append({"size": size, "seconds": seconds, "gflop": count / 1e9, "effective_gflops": count / seconds / 1e9})
            say(f"VAE decode {size:4d} px {seconds:8.3f} s {count / 1e9:7.1f} GFLOP")
        report["vae_decode"] = rows
        if args.e2e_steps > 0:
            # StableDiffusionPipeline's loop (CFG batch [uncond, cond], Euler, decode) without its tokenizer and image
            # post-processing: the same work `phosphor bench sd --e2e-steps` times.
            scheduler = EulerDiscreteScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                                               beta_schedule="scaled_linear", steps_offset=1, timestep_spacing="leading")
            size = sizes[0]

            def txt2img():
                emb = text(ids)[0]
                scheduler.set_timesteps(args.e2e_steps)
                latents = torch.randn(1, 4, size // 8, size // 8, dtype=dtype) * scheduler.init_noise_sigma
                for t in scheduler.timesteps:
                    eps = unet(scheduler.scale_model_input(torch.cat([latents] * 2), t), t, encoder_hidden_states=emb).sample
                    uncond, cond = eps.chunk(2)
                    latents = scheduler.step(uncond + 7.5 * (cond - uncond), t, latents).prev_sample
                vae.decode(latents / 0.18215)

            start = time.perf_counter()
            txt2img()
            report["txt2img"] = {"size": size, "steps": args.e2e_steps, "seconds": time.perf_counter() - start}
            say(f"txt2img {size} px, {args.e2e_steps} Euler steps {report['txt2img']['seconds']:8.2f} s")
    report["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    say(f"peak RSS {report['peak_rss_bytes'] / 2 ** 30:8.2f} GiB")
    if args.json:
        print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
