"""RDEIC hooks for cvb's research driver (runs in the user's environment, not cvb's).

Mirrors the checkout's inference.py: the model comes from configs/model/rdeic.yaml and one
full checkpoint per level (strict); ``apply_condition_compress`` writes the real bitstream file
(cvb keeps it, plus the original size); decoding is ``apply_condition_decompress`` (latent and
guide hint), the relay start ``q_sample(c_latent)`` and the DDPM relay sampler, seeded.
"""

import research_driver


def build(spec, level):
    import torch
    from utils.common import load_state_dict

    model = research_driver.ldm_instantiate(spec)
    load_state_dict(model, torch.load(spec["checkpoints"][level], map_location="cpu"), strict=True)
    model.preprocess_model.update(force=True)
    model.freeze()
    return model.to(spec.get("device", "cpu"))


encode = research_driver.condition_encode  # pad to 64, apply_condition_compress writes the file


def decode(model, spec, src, dst):
    import torch
    from model.spaced_sampler_relay import SpacedSampler

    settings, p = spec["settings"], int(spec.get("pad", 64))
    with torch.no_grad():
        w, h, (c_latent, guide_hint) = research_driver.read_stream(src, model.apply_condition_decompress)
        shape = (1, 4, -(-h // p) * p // 8, -(-w // p) * p // 8)
        cond = {"c_latent": [c_latent], "c_crossattn": [model.get_learned_conditioning([""])],
                "guide_hint": guide_hint}
        torch.manual_seed(int(settings["seed"]))  # the repo seeds once per run; cvb per image
        noise = torch.randn(shape, device=model.device, dtype=torch.float32)
        t = torch.full((1,), model.used_timesteps - 1, dtype=torch.long, device=model.device)
        x_T = model.q_sample(x_start=c_latent, t=t, noise=noise)
        samples = SpacedSampler(model, var_type="fixed_small").sample(
            int(settings["steps"]), shape, cond, unconditional_guidance_scale=float(settings["guidance"]),
            unconditional_conditioning=None, cond_fn=None, x_T=x_T)
        x = (model.decode_first_stage(samples) + 1) / 2
    research_driver.write_rgb(x, w, h, dst)
