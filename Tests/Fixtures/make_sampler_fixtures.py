#!/usr/bin/env python3
"""Reference trajectories for the samplers, from diffusers' schedulers on the CPU (versions in requirements.txt).

The model is closed-form: data x0 ~ N(mu, s²) elementwise, so the exact ε/v prediction for a VP input at
timestep t (σ(t) by diffusers' own linear interpolation of the training σ) is known. Each case records the
scheduler's timesteps and σ, the initial latents and the latents after every step. Writes models/../samplers.safetensors.
"""
import json
import os

import numpy as np
import torch
from diffusers import (DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, HeunDiscreteScheduler, LCMScheduler, LMSDiscreteScheduler, PNDMScheduler,
                       UniPCMultistepScheduler)
from safetensors.torch import save_file

def load_k_diffusion():
    """k-diffusion's sampling and external modules without its package __init__ (which imports training-only
    dependencies: CLIP, wandb, clean-fid)."""
    import importlib.util
    import sys
    import types
    if "k_diffusion" not in sys.modules:
        spec = importlib.util.find_spec("k_diffusion")
        package = types.ModuleType("k_diffusion")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["k_diffusion"] = package
    import k_diffusion.external
    import k_diffusion.sampling
    return k_diffusion.sampling, k_diffusion.external


HERE = os.path.dirname(os.path.abspath(__file__))
S = 0.8  # data standard deviation
BASE = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)


def exact_model(scheduler, mu, prediction):
    train_sigmas = (((1 - scheduler.alphas_cumprod) / scheduler.alphas_cumprod) ** 0.5).numpy().astype(np.float64)

    def model(x_in, t):
        sigma_m = float(np.interp(float(t), np.arange(len(train_sigmas)), train_sigmas))
        a = 1.0 / (1.0 + sigma_m ** 2)
        x = x_in.double()
        m = mu.double()
        x0 = m + (a ** 0.5 * S ** 2 / (a * S ** 2 + 1 - a)) * (x - a ** 0.5 * m)
        eps = (x - a ** 0.5 * x0) / (1 - a) ** 0.5
        out = eps if prediction == "epsilon" else a ** 0.5 * eps - (1 - a) ** 0.5 * x0
        return out.float()
    return model


def schedule_arrays(fx, meta):
    for spacing, offset in (("leading", 1), ("leading", 0), ("trailing", 0), ("linspace", 0)):
        for steps in (1, 2, 20, 50, 1000):
            s = EulerDiscreteScheduler(**BASE, timestep_spacing=spacing, steps_offset=offset)
            s.set_timesteps(steps)
            key = f"schedule.{spacing}{offset}.{steps}"
            fx[key + ".timesteps"] = s.timesteps.float().clone()
            fx[key + ".sigmas"] = s.sigmas.float().clone()
            fx[key + ".init_noise_sigma"] = torch.tensor([float(s.init_noise_sigma)])
    for kind in ("karras", "exponential"):
        for steps in (1, 2, 20, 50):
            s = EulerDiscreteScheduler(**BASE, timestep_spacing="leading", steps_offset=1, **{f"use_{kind}_sigmas": True})
            s.set_timesteps(steps)
            key = f"schedule.{kind}.{steps}"
            fx[key + ".timesteps"] = s.timesteps.float().clone()
            fx[key + ".sigmas"] = s.sigmas.float().clone()
    s = EulerDiscreteScheduler(**{**BASE, "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02},
                               rescale_betas_zero_snr=True, timestep_spacing="trailing")
    s.set_timesteps(20)
    fx["schedule.linear_zsnr.20.timesteps"] = s.timesteps.float().clone()
    fx["schedule.linear_zsnr.20.sigmas"] = s.sigmas.float().clone()
    fx["schedule.linear_zsnr.alphas_cumprod"] = s.alphas_cumprod.float().clone()


def trajectories(fx, meta):
    mu = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.5
    fx["mu"] = mu
    meta["data_std"] = json.dumps(S)
    for sampler in ("euler", "euler_a", "heun", "dpmpp_2m", "lms"):
        for schedule in ("normal", "karras", "exponential"):
            for prediction in ("epsilon", "v_prediction"):
                steps = 25 if (sampler, schedule, prediction) == ("euler", "normal", "epsilon") else 10
                flags = {} if schedule == "normal" else {f"use_{schedule}_sigmas": True}
                common = dict(**BASE, timestep_spacing="leading", steps_offset=1, prediction_type=prediction)
                if sampler == "euler_a":
                    # diffusers' Euler a has no Karras/exponential option: give it Euler's σ and timesteps.
                    ref = EulerDiscreteScheduler(**common, **flags)
                    ref.set_timesteps(steps)
                    sch = EulerAncestralDiscreteScheduler(**common)
                    sch.set_timesteps(steps)
                    sch.sigmas, sch.timesteps = ref.sigmas.clone(), ref.timesteps.clone()
                elif sampler == "dpmpp_2m":
                    # DPM-Solver++(2M) on Euler's σ and timesteps (diffusers' own spacing for this class differs).
                    ref = EulerDiscreteScheduler(**common, **flags)
                    ref.set_timesteps(steps)
                    sch = DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++", solver_order=2,
                                                      final_sigmas_type="zero")
                    sch.set_timesteps(steps)
                    sch.sigmas, sch.timesteps = ref.sigmas.clone(), ref.timesteps.clone()
                elif sampler == "lms":
                    sch = LMSDiscreteScheduler(**common, **flags)
                    sch.set_timesteps(steps)
                elif sampler == "heun":
                    sch = HeunDiscreteScheduler(**common, **flags)
                    sch.set_timesteps(steps)
                else:
                    sch = EulerDiscreteScheduler(**common, **flags)
                    sch.set_timesteps(steps)
                model = exact_model(sch, mu, prediction)
                g = torch.Generator("cpu").manual_seed(1234)
                noise = torch.randn(1, 4, 8, 8, generator=g)
                # DPM-Solver works on VP latents (x / √(σ²+1)); trajectories are stored in k-diffusion's VE form.
                vp = sampler == "dpmpp_2m"
                ve_scale = lambda i: float((sch.sigmas[i] ** 2 + 1) ** 0.5) if vp else 1.0
                x = noise * (1.0 if vp else sch.init_noise_sigma)
                traj = [x.clone() * ve_scale(0)]
                for t in sch.timesteps:
                    inp = sch.scale_model_input(x, t)
                    out = model(inp, t)
                    x = (sch.step(out, t, x, generator=g) if sampler == "euler_a" or sampler == "euler" else sch.step(out, t, x)).prev_sample
                    if sampler != "heun" or sch.state_in_first_order:
                        traj.append(x.clone() * ve_scale(len(traj)))
                if sampler == "heun":
                    # Heun's last step (to σ = 0) is a first-order step that leaves the scheduler mid-pair.
                    traj.append(x.clone())
                key = f"traj.{sampler}.{schedule}.{prediction}"
                fx[key] = torch.stack(traj)
                fx[key + ".noise_seed"] = torch.tensor([1234])
                print(f"{key}: {len(traj) - 1} steps, final mean {x.mean().item():+.4f}")


def ddim_trajectories(fx):
    """DDIMScheduler (its own leading timesteps, set_alpha_to_one) with η = 0 and η = 1, stored in VE form."""
    mu = fx["mu"]
    for prediction in ("epsilon", "v_prediction"):
        for eta in (0.0, 1.0):
            sch = DDIMScheduler(**BASE, timestep_spacing="leading", steps_offset=1, prediction_type=prediction,
                                set_alpha_to_one=True, clip_sample=False)
            sch.set_timesteps(10)
            model = exact_model(sch, mu, prediction)
            g = torch.Generator("cpu").manual_seed(1234)
            x = torch.randn(1, 4, 8, 8, generator=g) * sch.init_noise_sigma
            ac = sch.alphas_cumprod
            ve = lambda x, t: x / float(ac[int(t)]) ** 0.5 if t >= 0 else x
            traj = [ve(x, sch.timesteps[0])]
            ts = sch.timesteps.tolist()
            for i, t in enumerate(sch.timesteps):
                out = model(sch.scale_model_input(x, t), t)
                x = sch.step(out, t, x, eta=eta, generator=g).prev_sample
                traj.append(ve(x, ts[i + 1] if i + 1 < len(ts) else -1))
            key = f"traj.ddim{eta:g}.normal.{prediction}"
            fx[key] = torch.stack(traj)
            print(f"{key}: {len(traj) - 1} steps, final mean {x.mean().item():+.4f}")


def euler_sigmas(prediction, schedule, steps):
    """Euler's σ and timesteps (SD's leading spacing, steps_offset 1) for a σ schedule."""
    flags = {} if schedule == "normal" else {f"use_{schedule}_sigmas": True}
    ref = EulerDiscreteScheduler(**BASE, timestep_spacing="leading", steps_offset=1, prediction_type=prediction, **flags)
    ref.set_timesteps(steps)
    return ref


def k_diffusion_trajectories(fx):
    """k-diffusion's samplers (the A1111/ComfyUI implementations) on Euler's σ, with its discrete-model wrappers
    (log-σ timestep interpolation) around the closed-form model; noise drawn i.i.d. from one torch generator
    (noise_sampler = randn with that generator) instead of the default Brownian tree."""
    sampling, external = load_k_diffusion()
    mu = fx["mu"]
    functions = {"dpm2": sampling.sample_dpm_2, "dpm2_a": sampling.sample_dpm_2_ancestral,
                 "dpmpp_2s_a": sampling.sample_dpmpp_2s_ancestral, "dpmpp_sde": sampling.sample_dpmpp_sde,
                 "dpmpp_2m_sde": sampling.sample_dpmpp_2m_sde, "dpmpp_3m_sde": sampling.sample_dpmpp_3m_sde}
    for sampler, function in functions.items():
        for schedule in ("normal", "karras", "exponential"):
            for prediction in ("epsilon", "v_prediction"):
                ref = euler_sigmas(prediction, schedule, 10)
                model = exact_model(ref, mu, prediction)
                wrapper = (external.DiscreteEpsDDPMDenoiser if prediction == "epsilon" else external.DiscreteVDDPMDenoiser)(
                    lambda x, t: model(x, float(t[0])), ref.alphas_cumprod, quantize=False)
                g = torch.Generator("cpu").manual_seed(1234)
                sigmas = ref.sigmas.float().clone()
                x = torch.randn(1, 4, 8, 8, generator=g) * sigmas[0]
                noise_sampler = lambda sigma, sigma_next: torch.randn(1, 4, 8, 8, generator=g)
                kwargs = {} if sampler == "dpm2" else {"noise_sampler": noise_sampler}
                # k-diffusion's callback sees the latents each step starts from.
                traj = []
                final = function(wrapper, x, sigmas, disable=True, callback=lambda info: traj.append(info["x"].clone()), **kwargs)
                traj.append(final)
                key = f"traj.{sampler}.{schedule}.{prediction}"
                assert len(traj) == len(sigmas), (key, len(traj))
                fx[key] = torch.stack(traj)
                fx[key + ".init_scale"] = sigmas[:1].clone()
                print(f"{key}: {len(traj) - 1} steps, final mean {final.mean().item():+.4f}")


def ve(x, alpha_cumprod):
    return x / float(alpha_cumprod) ** 0.5


def sigma_loop(kind, model, alphas_cumprod, prediction, sigmas, timesteps, x, g, eta=0.0):
    """The σ-form loops of PLMS, DDIM/DDPM and LCM on any σ list (used for the Karras and exponential schedules,
    which diffusers' PNDM/DDPM/LCM classes cannot take); the script checks each against its diffusers class on the
    normal schedule first."""
    train = ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5
    def denoise(x, i):
        s = float(sigmas[i])
        out = model(x / (s * s + 1) ** 0.5, float(timesteps[i]))
        if prediction == "epsilon":
            return x - s * out
        return out * (-s / (s * s + 1) ** 0.5) + x / (s * s + 1)
    traj, ets = [x.clone()], []
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        d = denoise(x, i)
        if kind == "plms":
            e = (x - d) / s
            if i == 0 and n > 1:
                xp = x + e * (s_next - s)
                e1 = (xp - denoise(xp, 1)) / s_next
                comb = (e + e1) / 2
            elif len(ets) == 0:
                comb = e
            elif len(ets) == 1:
                comb = (3 * e - ets[-1]) / 2
            elif len(ets) == 2:
                comb = (23 * e - 16 * ets[-1] + 5 * ets[-2]) / 12
            else:
                comb = (55 * e - 59 * ets[-1] + 37 * ets[-2] - 9 * ets[-3]) / 24
            ets = (ets + [e])[-3:]
            x = x + comb * (s_next - s)
        elif kind == "ddim":
            a, ap = 1 / (1 + s * s), 1 / (1 + s_next * s_next)
            std = eta * max((1 - ap) / (1 - a) * (1 - a / ap), 0) ** 0.5
            x = d + (max(1 - ap - std * std, 0) / ap) ** 0.5 * ((x - d) / s)
            if std > 0:
                x = x + std / ap ** 0.5 * torch.randn(x.shape, generator=g)
        elif kind == "lcm":
            st = float(timesteps[i]) * 10
            c_skip, c_out = 0.25 / (st * st + 0.25), st / (st * st + 0.25) ** 0.5
            d = c_out * d + c_skip * x / (s * s + 1) ** 0.5
            x = d + s_next * torch.randn(x.shape, generator=g) if i < n - 1 else d
        traj.append(x.clone())
    return traj


def diffusers_vp_trajectories(fx):
    """UniPC (bh2, order 2), PNDM/PLMS (SD's config: skip_prk_steps, set_alpha_to_one false), DDPM and LCM from
    their diffusers classes, stored in the σ form (VP latents ÷ √ᾱ)."""
    mu = fx["mu"]
    common = lambda prediction: dict(**BASE, timestep_spacing="leading", steps_offset=1, prediction_type=prediction)
    for prediction in ("epsilon", "v_prediction"):
        for schedule in ("normal", "karras", "exponential"):
            # UniPC on Euler's σ and timesteps (as DPM++ 2M above).
            ref = euler_sigmas(prediction, schedule, 10)
            sch = UniPCMultistepScheduler(**common(prediction), solver_type="bh2", solver_order=2, predict_x0=True,
                                          final_sigmas_type="zero")
            sch.set_timesteps(10)
            sch.sigmas, sch.timesteps = ref.sigmas.clone(), ref.timesteps.clone()
            model = exact_model(sch, mu, prediction)
            g = torch.Generator("cpu").manual_seed(1234)
            x = torch.randn(1, 4, 8, 8, generator=g)
            traj = [x * float((sch.sigmas[0] ** 2 + 1) ** 0.5)]
            for i, t in enumerate(sch.timesteps):
                x = sch.step(model(sch.scale_model_input(x, t), t), t, x).prev_sample
                traj.append(x * float((sch.sigmas[i + 1] ** 2 + 1) ** 0.5))
            key = f"traj.unipc.{schedule}.{prediction}"
            fx[key] = torch.stack(traj)
            fx[key + ".init_scale"] = torch.tensor([float((sch.sigmas[0] ** 2 + 1) ** 0.5)])
            print(f"{key}: {len(traj) - 1} steps, final mean {x.mean().item():+.4f}")

        # The diffusers classes on their own (normal) schedules.
        pndm = PNDMScheduler(**common(prediction), skip_prk_steps=True, set_alpha_to_one=False)
        ddpm = DDPMScheduler(**common(prediction), clip_sample=False, variance_type="fixed_small")
        lcm = LCMScheduler(**common(prediction), original_inference_steps=50, set_alpha_to_one=True, clip_sample=False)
        for name, sch in (("plms", pndm), ("ddpm", ddpm), ("lcm", lcm)):
            sch.set_timesteps(10)
            ac = sch.alphas_cumprod
            model = exact_model(sch, mu, prediction)
            g = torch.Generator("cpu").manual_seed(1234)
            x = torch.randn(1, 4, 8, 8, generator=g) * sch.init_noise_sigma
            ts = [int(t) for t in sch.timesteps]
            distinct = list(dict.fromkeys(ts))
            final = float(pndm.final_alpha_cumprod) if name == "plms" else 1.0
            alpha_at = lambda k: float(ac[distinct[k]]) if k < len(distinct) else final
            traj = [ve(x, alpha_at(0))]
            for call, t in enumerate(sch.timesteps):
                out = model(sch.scale_model_input(x, t), t)
                x = sch.step(out, t, x, generator=g).prev_sample if name != "plms" else sch.step(out, t, x).prev_sample
                if name == "plms" and call == 0 and len(distinct) > 1:
                    continue  # the Heun pair's predictor; the corrected sample follows
                traj.append(ve(x, alpha_at(len(traj))))
            # σ and timesteps of the class's own schedule (the σ-form levels), final σ from its final ᾱ.
            sig = [((1 - alpha_at(k)) / alpha_at(k)) ** 0.5 for k in range(len(distinct) + 1)]
            fx[f"levels.{name}.sigmas"] = torch.tensor(sig, dtype=torch.float32)
            fx[f"levels.{name}.timesteps"] = torch.tensor(distinct, dtype=torch.float32)
            key = f"traj.{name}.normal.{prediction}"
            want = torch.stack(traj)
            # The σ-form loop on the same levels reproduces the class (PLMS with v-prediction excepted: diffusers
            # averages raw v outputs across timesteps before converting them, CompVis/SD2's PLMS converts to ε first).
            g.manual_seed(1234)
            x0 = torch.randn(1, 4, 8, 8, generator=g) * float((sig[0] ** 2 + 1) ** 0.5)
            loop = torch.stack(sigma_loop("ddim" if name == "ddpm" else name, model, ac.double().numpy(), prediction,
                                          sig, distinct, x0, g, eta=1.0))
            error = ((loop - want).abs().max() / want.abs().max()).item()
            print(f"{key}: {len(traj) - 1} steps, σ-form loop vs diffusers {error:.2e}")
            if name == "plms" and prediction == "v_prediction":
                fx[key + ".diffusers"] = want
                fx[key] = loop
            else:
                assert error < 1e-5, (key, error)
                fx[key] = want
            fx[key + ".init_scale"] = torch.tensor([float((sig[0] ** 2 + 1) ** 0.5)])

        # DDIM (η = 0): the σ-form loop against DDIMScheduler (set_alpha_to_one) on its own schedule first.
        ddim = DDIMScheduler(**common(prediction), set_alpha_to_one=True, clip_sample=False)
        ddim.set_timesteps(10)
        sig = [float(((1 - ddim.alphas_cumprod[t]) / ddim.alphas_cumprod[t]) ** 0.5) for t in ddim.timesteps] + [0.0]
        model = exact_model(ddim, mu, prediction)
        g = torch.Generator("cpu").manual_seed(1234)
        x0 = torch.randn(1, 4, 8, 8, generator=g) * float((sig[0] ** 2 + 1) ** 0.5)
        loop = torch.stack(sigma_loop("ddim", model, ddim.alphas_cumprod.double().numpy(), prediction, sig,
                                      [int(t) for t in ddim.timesteps], x0, g, eta=0.0))
        want = fx[f"traj.ddim0.normal.{prediction}"]
        error = ((loop - want).abs().max() / want.abs().max()).item()
        print(f"ddim {prediction}: σ-form loop vs diffusers {error:.2e}")
        assert error < 1e-5, error

        # Karras and exponential σ for the classes without them: the checked σ-form loops on Euler's σ.
        for name in ("plms", "ddpm", "lcm", "ddim"):
            for schedule in ("karras", "exponential"):
                ref = euler_sigmas(prediction, schedule, 10)
                sig = [float(v) for v in ref.sigmas]
                if name == "plms":
                    sig[-1] = float(((1 - ref.alphas_cumprod[0]) / ref.alphas_cumprod[0]) ** 0.5)
                model = exact_model(ref, mu, prediction)
                g = torch.Generator("cpu").manual_seed(1234)
                x0 = torch.randn(1, 4, 8, 8, generator=g) * float((sig[0] ** 2 + 1) ** 0.5)
                ts = [float(t) for t in ref.timesteps]
                traj = sigma_loop("ddim" if name == "ddpm" else name, model, ref.alphas_cumprod.double().numpy(), prediction,
                                  sig, ts, x0, g, eta=0.0 if name == "ddim" else 1.0)
                key = f"traj.{name}.{schedule}.{prediction}"
                fx[key] = torch.stack(traj)
                fx[key + ".init_scale"] = torch.tensor([float((sig[0] ** 2 + 1) ** 0.5)])
                print(f"{key}: {len(traj) - 1} steps (σ-form loop)")


def model_wide_schedules(fx):
    """A1111's "Simple" and "SGM Uniform" schedulers (modules/sd_schedulers.py) over k-diffusion's discrete
    schedule (log-σ t_to_sigma, interpolated sigma_to_t), and the level arrays of UniPC and LCM."""
    _, external = load_k_diffusion()
    base = EulerDiscreteScheduler(**BASE)
    k = external.DiscreteSchedule(((1 - base.alphas_cumprod) / base.alphas_cumprod) ** 0.5, quantize=False)
    for steps in (1, 2, 20, 50):
        ss = len(k.sigmas) / steps
        simple = [float(k.sigmas[-(1 + int(x * ss))]) for x in range(steps)] + [0.0]
        fx[f"schedule.simple.{steps}.sigmas"] = torch.tensor(simple, dtype=torch.float32)
        start, end = k.sigma_to_t(torch.tensor(k.sigma_max)), k.sigma_to_t(torch.tensor(k.sigma_min))
        ts = torch.linspace(float(start), float(end), steps + 1)[:-1]
        sgm = [float(k.t_to_sigma(t)) for t in ts] + [0.0]
        fx[f"schedule.sgm_uniform.{steps}.sigmas"] = torch.tensor(sgm, dtype=torch.float32)
        fx[f"schedule.sgm_uniform.{steps}.timesteps"] = ts.float().clone()
    for steps in (1, 2, 4, 8, 20, 50):
        for name, sch in (("unipc", UniPCMultistepScheduler(**BASE, timestep_spacing="leading", steps_offset=1)),
                          ("lcm", LCMScheduler(**BASE, original_inference_steps=50))):
            sch.set_timesteps(steps)
            fx[f"schedule.{name}.{steps}.timesteps"] = sch.timesteps.float().clone()
            if name == "unipc":
                fx[f"schedule.{name}.{steps}.sigmas"] = sch.sigmas.float().clone()
    for kind in ("karras", "exponential"):
        sch = UniPCMultistepScheduler(**BASE, timestep_spacing="leading", steps_offset=1, **{f"use_{kind}_sigmas": True})
        sch.set_timesteps(20)
        fx[f"schedule.unipc_{kind}.20.timesteps"] = sch.timesteps.float().clone()
        fx[f"schedule.unipc_{kind}.20.sigmas"] = sch.sigmas.float().clone()


def philox_fixtures(fx):
    """Philox 4x32-10 blocks from randomgen (an independent implementation of Salmon et al.'s generator), and
    normals laid out as A1111's "NV" RNG source (modules/rng_philox.py: element i of the k-th call uses counter
    (k, 0, i, 0) and key (seed low, seed high); Box–Muller on the first two words, in float64 as numpy promotes
    the uint32 × float32 products, rounded to float32). A1111 is not on PyPI, so the layout is transcribed here
    with the block function taken from randomgen."""
    from randomgen import Philox

    def block(counter, key):
        # randomgen increments its 128-bit counter (word 0 least significant) before producing a block.
        value = sum(int(c) << (32 * i) for i, c in enumerate(counter)) - 1
        value %= 1 << 128
        g = Philox(counter=value, key=int(key[0]) | int(key[1]) << 32, number=4, width=32)
        return [int(v) for v in g.random_raw(4)]

    rng = np.random.default_rng(2024)
    counters = [[0, 0, 0, 0], [0xFFFFFFFF] * 4, [1, 0, 5, 0]] + [list(rng.integers(0, 2**32, 4)) for _ in range(13)]
    keys = [[0, 0], [0xFFFFFFFF] * 2, [42, 0]] + [list(rng.integers(0, 2**32, 2)) for _ in range(13)]
    fx["philox.counters"] = torch.tensor(counters, dtype=torch.int64)
    fx["philox.keys"] = torch.tensor(keys, dtype=torch.int64)
    fx["philox.blocks"] = torch.tensor([block(c, k) for c, k in zip(counters, keys)], dtype=torch.int64)

    inv = np.array([2.3283064e-10], dtype=np.float32)
    inv2pi = np.array([2.3283064e-10 * 6.2831855], dtype=np.float32)

    def randn(seed, offset, n):
        key = [seed & 0xFFFFFFFF, seed >> 32]
        words = np.array([block([offset, 0, i, 0], key)[:2] for i in range(n)], dtype=np.uint32).reshape(n, 2)
        u = words[:, 0] * inv + inv / 2
        v = words[:, 1] * inv2pi + inv2pi / 2
        return torch.from_numpy((np.sqrt(-2.0 * np.log(u)) * np.sin(v)).astype(np.float32))

    for seed in (0, 42, 2**32 - 1, 123456789012):
        for n in (7, 16, 17):
            fx[f"philox.seed{seed}.randn{n}"] = randn(seed, 0, n)
        fx[f"philox.seed{seed}.offset1.randn16"] = randn(seed, 1, 16)
    fx["philox.seed0.latents64"] = randn(0, 0, 4 * 64 * 64).reshape(4, 64, 64)


if __name__ == "__main__":
    torch.set_num_threads(1)
    fx, meta = {}, {}
    schedule_arrays(fx, meta)
    trajectories(fx, meta)
    ddim_trajectories(fx)
    k_diffusion_trajectories(fx)
    diffusers_vp_trajectories(fx)
    model_wide_schedules(fx)
    philox_fixtures(fx)
    save_file({k: v.contiguous() for k, v in fx.items()}, os.path.join(HERE, "samplers.safetensors"), metadata=meta)
    import diffusers
    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}, numpy {np.__version__}")
