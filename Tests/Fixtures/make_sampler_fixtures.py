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
from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler,
                       HeunDiscreteScheduler, LMSDiscreteScheduler)
from safetensors.torch import save_file

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


if __name__ == "__main__":
    torch.set_num_threads(1)
    fx, meta = {}, {}
    schedule_arrays(fx, meta)
    trajectories(fx, meta)
    ddim_trajectories(fx)
    save_file({k: v.contiguous() for k, v in fx.items()}, os.path.join(HERE, "samplers.safetensors"), metadata=meta)
    import diffusers
    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}, numpy {np.__version__}")
