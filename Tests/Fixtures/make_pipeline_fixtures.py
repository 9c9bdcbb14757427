#!/usr/bin/env python3
"""A tiny random-weight Stable Diffusion pipeline saved as a diffusers folder, and diffusers' images for
fixed seeds (generator = torch.Generator("cpu").manual_seed(seed), output_type="np"), for the pipeline
tests. Versions in requirements.txt. Writes Tests/Fixtures/models/tiny_sd/ and pipeline_expected.safetensors."""
import gzip
import json
import os
import shutil

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "models", "tiny_sd")


def main():
    from diffusers import (AutoencoderKL, DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler,
                           EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, HeunDiscreteScheduler, LCMScheduler,
                           LMSDiscreteScheduler, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel,
                           UniPCMultistepScheduler)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    import importlib.util
    spec = importlib.util.spec_from_file_location("mf", os.path.join(HERE, "make_model_fixtures.py"))
    mf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mf)
    torch.manual_seed(7)
    vocab, merges = mf.clip_vocab()
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[tuple(m.split()) for m in merges], model_max_length=77)
    text = mf.perturb(CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                                   num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                                                   bos_token_id=49406, eos_token_id=49407, pad_token_id=49407)).eval(), 0.05)
    text = text.half().float()  # stored as fp16 below (exactly these values) to keep the fixture small
    unet = mf.perturb(UNet2DConditionModel(sample_size=8, block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8,
                                           down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                           up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
                                           attention_head_dim=4, in_channels=4, out_channels=4).eval(), 0.02)
    vae = mf.perturb(AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                                   block_out_channels=(16, 32), layers_per_block=1, latent_channels=4, norm_num_groups=8,
                                   sample_size=16).eval(), 0.02)
    # SD 1.x scheduler config as Stable Diffusion v1.5 ships it (PNDM with these betas, leading, offset 1).
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
                                       timestep_spacing="leading", num_train_timesteps=1000, prediction_type="epsilon")
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    shutil.rmtree(OUT, ignore_errors=True)
    pipe.save_pretrained(OUT, safe_serialization=True)
    # The tokenizer files are the BPE vocabulary Phosphor ships in assets/; keep the folder small.
    shutil.rmtree(os.path.join(OUT, "tokenizer"), ignore_errors=True)
    te = os.path.join(OUT, "text_encoder", "model.safetensors")
    from safetensors.torch import load_file
    save_file({k: v.half().contiguous() for k, v in load_file(te).items()}, te)

    cases = {
        "euler_cfg": (EulerDiscreteScheduler, {}, "a red circle on a blue background", "", 7.5, 64, 64, 12, 42),
        "euler_nocfg": (EulerDiscreteScheduler, {}, "a photo of a cat", "", 1.0, 64, 48, 8, 7),
        "euler_a_cfg": (EulerAncestralDiscreteScheduler, {}, "two green stars, detailed", "blurry", 5.0, 48, 64, 10, 1234),
        "dpmpp2m_karras": (DPMSolverMultistepScheduler, {"use_karras_sigmas": True, "algorithm_type": "dpmsolver++"},
                           "a castle at night", "ugly", 7.0, 64, 64, 10, 3),
        # clip_sample=False as in Stable Diffusion's own scheduler configs (DDIM's class default clips x0 to [-1, 1]).
        "ddim_cfg": (DDIMScheduler, {"set_alpha_to_one": True, "clip_sample": False}, "a tree", "", 7.5, 64, 64, 10, 8),
        "heun_cfg": (HeunDiscreteScheduler, {}, "a river", "", 7.5, 48, 48, 6, 9),
        "lms_cfg": (LMSDiscreteScheduler, {}, "a mountain", "", 7.5, 64, 48, 10, 10),
        # Stable Diffusion v1.5's own scheduler: PNDM/PLMS, ending at the first training ᾱ (set_alpha_to_one false;
        # the Swift test writes that into the model's scheduler config).
        "plms_sd15": (PNDMScheduler, {"skip_prk_steps": True, "set_alpha_to_one": False}, "a lighthouse", "", 7.5, 64, 64, 10, 12),
        "unipc_cfg": (UniPCMultistepScheduler, {}, "a field of flowers", "dark", 6.0, 48, 64, 8, 13),
        # DPM++ 2M SDE: diffusers draws its noise from the pipeline's generator, as Phosphor does.
        "dpmpp2m_sde_karras": (DPMSolverMultistepScheduler, {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True},
                               "a desert road", "", 7.0, 64, 48, 10, 14),
        "ddpm_cfg": (DDPMScheduler, {"clip_sample": False}, "a small boat", "", 7.5, 48, 48, 12, 15),
        "lcm_4": (LCMScheduler, {}, "a teapot", "", 1.5, 64, 64, 4, 16),
    }
    expected = {}
    meta = {}
    for name, (cls, extra, prompt, negative, cfg, width, height, steps, seed) in cases.items():
        # Always from the model's own config: from_config of the previous case's scheduler would carry its options over.
        pipe.scheduler = cls.from_config(scheduler.config, **extra)
        g = torch.Generator("cpu").manual_seed(seed)
        with torch.no_grad():
            image = pipe(prompt, negative_prompt=negative or None, guidance_scale=cfg, width=width, height=height,
                         num_inference_steps=steps, generator=g, output_type="np").images[0]
        expected[name] = torch.from_numpy(image.copy())
        meta[name] = json.dumps({"prompt": prompt, "negative_prompt": negative, "cfg_scale": cfg, "width": width,
                                 "height": height, "steps": steps, "seed": seed})
        print(f"{name}: {image.shape}, mean {image.mean():.4f}")
    # Stable Diffusion v1.5's scheduler_config.json as it ships (PNDM; no timestep_spacing key): diffusers' other
    # classes built from it take their own defaults for the missing keys (Euler: linspace, DDIM: leading).
    sd15_config = {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
                   "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
                   "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None,
                   "clip_sample": False}
    with open(os.path.join(HERE, "models", "sd15_scheduler_config.json"), "w") as f:
        json.dump(sd15_config, f, indent=2)
    for name, cls, prompt, seed in (("euler_sd15config", EulerDiscreteScheduler, "a harbour at dawn", 17),
                                    ("ddim_sd15config", DDIMScheduler, "a harbour at dusk", 18),
                                    ("unipc_sd15config", UniPCMultistepScheduler, "a snowy hill", 19)):
        pipe.scheduler = cls.from_config(sd15_config)
        g = torch.Generator("cpu").manual_seed(seed)
        with torch.no_grad():
            image = pipe(prompt, guidance_scale=7.5, width=64, height=48, num_inference_steps=9, generator=g,
                         output_type="np").images[0]
        expected[name] = torch.from_numpy(image.copy())
        meta[name] = json.dumps({"prompt": prompt, "negative_prompt": "", "cfg_scale": 7.5, "width": 64, "height": 48,
                                 "steps": 9, "seed": seed})
        print(f"{name}: spacing {pipe.scheduler.config.timestep_spacing}, mean {image.mean():.4f}")

    # A v-prediction model with trailing spacing: the same networks, the scheduler config says so (the test writes the
    # same config into a copy of the folder).
    pipe.scheduler = EulerDiscreteScheduler.from_config(scheduler.config, prediction_type="v_prediction", timestep_spacing="trailing")
    g = torch.Generator("cpu").manual_seed(21)
    with torch.no_grad():
        image = pipe("a blue square", guidance_scale=6.0, width=48, height=64, num_inference_steps=9, generator=g,
                     output_type="np").images[0]
    expected["euler_v_trailing"] = torch.from_numpy(image.copy())
    meta["euler_v_trailing"] = json.dumps({"prompt": "a blue square", "negative_prompt": "", "cfg_scale": 6.0, "width": 48,
                                           "height": 64, "steps": 9, "seed": 21})
    print(f"euler_v_trailing: {image.shape}, mean {image.mean():.4f}")

    # img2img from a procedural 64×48 picture (stored as a PNG the tests read), Euler, strength 0.6.
    from diffusers import StableDiffusionImg2ImgPipeline
    from PIL import Image
    import numpy as np
    yy, xx = np.mgrid[0:48, 0:64]
    picture = np.stack([xx * 4, yy * 5, ((xx // 8 + yy // 8) % 2) * 255], -1).clip(0, 255).astype(np.uint8)
    init_path = os.path.join(HERE, "png", "img2img_init.png")
    Image.fromarray(picture).save(init_path)
    i2i = StableDiffusionImg2ImgPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                         scheduler=EulerDiscreteScheduler.from_config(scheduler.config),
                                         safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    for name, strength, cfg, seed in (("img2img_s06", 0.6, 7.5, 11), ("img2img_s1_nocfg", 1.0, 1.0, 5)):
        g = torch.Generator("cpu").manual_seed(seed)
        with torch.no_grad():
            image = i2i("a checkerboard", image=Image.open(init_path), strength=strength, guidance_scale=cfg,
                        num_inference_steps=10, generator=g, output_type="np").images[0]
        expected[name] = torch.from_numpy(image.copy())
        meta[name] = json.dumps({"prompt": "a checkerboard", "negative_prompt": "", "cfg_scale": cfg, "width": 64, "height": 48,
                                 "steps": 10, "seed": seed, "strength": strength})
        print(f"{name}: {image.shape}, mean {image.mean():.4f}")
    # A starting image of another size (37×23, make_fixtures.py's resize_src.png), fitted to 64×48 by diffusers' own
    # image processor (Pillow's Lanczos filter; the img2img pipeline itself takes no target size and would only round
    # the image's size down to the VAE factor).
    g = torch.Generator("cpu").manual_seed(12)
    start = i2i.image_processor.preprocess(Image.open(os.path.join(HERE, "png", "resize_src.png")), height=48, width=64)
    with torch.no_grad():
        image = i2i("a checkerboard", image=start, strength=0.7, guidance_scale=7.5, num_inference_steps=10, generator=g,
                    output_type="np").images[0]
    expected["img2img_resized"] = torch.from_numpy(image.copy())
    meta["img2img_resized"] = json.dumps({"prompt": "a checkerboard", "negative_prompt": "", "cfg_scale": 7.5, "width": 64,
                                          "height": 48, "steps": 10, "seed": 12, "strength": 0.7})
    print(f"img2img_resized: {image.shape}, mean {image.mean():.4f}")

    # Inpainting (diffusers StableDiffusionInpaintPipeline, Euler): the 64×48 picture above with a mask PNG (white
    # ellipse = repaint, stored as RGB to exercise the grayscale conversion). The 4-channel model blends latents after
    # every step; a 9-channel inpainting U-Net (same blocks, stored in models/tiny_sd_inpaint/unet) takes mask and
    # masked-image latents as input.
    from diffusers import StableDiffusionInpaintPipeline
    mask = (((xx - 40) / 18.0) ** 2 + ((yy - 20) / 14.0) ** 2 < 1).astype(np.uint8) * 255
    mask_rgb = np.stack([mask, mask, (mask * 0.9).astype(np.uint8)], -1)
    mask_path = os.path.join(HERE, "png", "inpaint_mask.png")
    Image.fromarray(mask_rgb).save(mask_path)
    unet9 = mf.perturb(UNet2DConditionModel(sample_size=8, block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8,
                                            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
                                            attention_head_dim=4, in_channels=9, out_channels=4).eval(), 0.02)
    unet9 = unet9.half().float()
    folder9 = os.path.join(HERE, "models", "tiny_sd_inpaint")
    shutil.rmtree(folder9, ignore_errors=True)
    unet9.save_pretrained(os.path.join(folder9, "unet"), safe_serialization=True)
    u9 = os.path.join(folder9, "unet", "diffusion_pytorch_model.safetensors")
    save_file({k: v.half().contiguous() for k, v in load_file(u9).items()}, u9)
    for name, net, strength, cfg, seed in (("inpaint4_s1", unet, 1.0, 7.5, 31), ("inpaint4_s07", unet, 0.7, 7.5, 32),
                                           ("inpaint9_s1", unet9, 1.0, 7.5, 33), ("inpaint9_s07_nocfg", unet9, 0.7, 1.0, 34)):
        inp = StableDiffusionInpaintPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=net,
                                             scheduler=EulerDiscreteScheduler.from_config(scheduler.config),
                                             safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        g = torch.Generator("cpu").manual_seed(seed)
        with torch.no_grad():
            image = inp("a red ball", image=Image.open(init_path), mask_image=Image.open(mask_path), strength=strength,
                        guidance_scale=cfg, width=64, height=48, num_inference_steps=10, generator=g, output_type="np").images[0]
        expected[name] = torch.from_numpy(image.copy())
        meta[name] = json.dumps({"prompt": "a red ball", "negative_prompt": "", "cfg_scale": cfg, "width": 64, "height": 48,
                                 "steps": 10, "seed": seed, "strength": strength})
        print(f"{name}: {image.shape}, mean {image.mean():.4f}")
    save_file(expected, os.path.join(HERE, "pipeline_expected.safetensors"), metadata=meta)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
    import diffusers
    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}")
