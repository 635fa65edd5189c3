"""DiffEIC hooks for cvb's research driver (runs in the user's environment, not cvb's).

Mirrors the checkout's inference_partition.py: the model comes from configs/model/diffeic.yaml
(built by ``instantiate`` below: Stable Diffusion 2.1 must be at ``<checkout>/weight``, and the
training-only metrics that would fetch LPIPS from a hub are left out), then Stable Diffusion
2.1's weights and one level's LFGCM/control checkpoint are merged (strict=False);
``apply_condition_compress`` writes the real bitstream file (cvb keeps it, plus the original
size); decoding is ``apply_condition_decompress`` then the DDPM sampler from seeded noise.
"""

import research_driver


def instantiate(spec):
    """The model from the checkout's config, as inference_partition.py builds it, with two
    checks first: the config's ``sync_path`` (Stable Diffusion 2.1, read at construction
    relative to the working directory, which is the checkout) must exist, and its
    ``calculate_metrics`` (training-time PSNR/MS-SSIM/LPIPS through pyiqa, which fetches LPIPS
    weights from a hub at construction) is emptied: inference never uses them."""
    import os

    from omegaconf import OmegaConf
    from utils.common import instantiate_from_config

    if spec.get("device", "cpu") == "cpu":
        from ldm.xformers_state import disable_xformers

        disable_xformers()
    config = OmegaConf.load(os.path.join(spec["repo"], spec["settings"]["config"]))
    params = config["params"]
    sync = params.get("sync_path")
    if sync and not os.path.isfile(os.path.join(spec["repo"], sync)):
        raise FileNotFoundError(
            f"Stable Diffusion 2.1 ({sync} in {spec['settings']['config']}) is not at "
            f"{os.path.normpath(os.path.join(spec['repo'], sync))}: the model reads it at construction")
    params["calculate_metrics"] = {}
    return instantiate_from_config(config)


def build(spec, level):
    import torch
    from utils.common import load_state_dict

    model = instantiate(spec)
    weights = torch.load(spec["settings"]["sd_ckpt"], map_location="cpu")["state_dict"]
    weights.update(torch.load(spec["checkpoints"][level], map_location="cpu")["state_dict"])
    load_state_dict(model, weights, strict=False)
    model.preprocess_model.update(force=True)
    model.freeze()
    return model.to(spec.get("device", "cpu"))


def encode(model, spec, src, dst):
    """Pad with the checkout's ``utils.image.pad``; its ``apply_condition_compress(control, path,
    h, w)`` entropy-codes the latent and writes the bitstream file (``write_stream``: cvb keeps
    it, plus the original size)."""
    import numpy as np
    import torch
    from PIL import Image
    from utils.image import pad

    with Image.open(src) as im:
        img = np.array(im.convert("RGB"))
    control = torch.tensor(pad(img, scale=int(spec.get("pad", 64)))[None] / 255.0, dtype=torch.float32,
                           device=model.device).clamp_(0, 1).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        research_driver.write_stream(dst, img.shape[1], img.shape[0], lambda path: model.apply_condition_compress(
            control, path, control.shape[2], control.shape[3]))


def decode(model, spec, src, dst):
    import torch
    from model.spaced_sampler import SpacedSampler

    settings, p = spec["settings"], int(spec.get("pad", 64))
    with torch.no_grad():
        w, h, c_latent = research_driver.read_stream(src, model.apply_condition_decompress)
        shape = (1, 4, -(-h // p) * p // 8, -(-w // p) * p // 8)
        cond = {"c_latent": [c_latent], "c_crossattn": [model.get_learned_conditioning([""])]}
        torch.manual_seed(int(settings["seed"]))  # the repo seeds once per run; cvb per image
        x_T = torch.randn(shape, device=model.device, dtype=torch.float32)
        samples = SpacedSampler(model, var_type="fixed_small").sample(
            int(settings["steps"]), shape, cond, unconditional_guidance_scale=1.0,
            unconditional_conditioning=None, cond_fn=None, x_T=x_T)
        x = (model.decode_first_stage(samples) + 1) / 2
    research_driver.write_rgb(x, w, h, dst)
