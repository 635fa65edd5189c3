import torch

import tiny


class _Preprocess(torch.nn.Module):
    def update(self, force=False):
        self.updated = force


class LatentDiffusion(torch.nn.Module):
    """ldm/models/diffusion/ddpm.py's LatentDiffusion, the base of DiffEIC and RDEIC, with the
    inference entry points both subclasses have (their condition codec writes its own stream
    file). Like the real model, building it reads ``sync_path`` (Stable Diffusion 2.1, relative
    to the working directory) and creates the ``calculate_metrics`` models, which for LPIPS
    means a download from a hub (refused here, as it fails offline)."""

    def __init__(self, sync_path=None, calculate_metrics=None, **kwargs):
        super().__init__()
        if sync_path is not None:
            torch.load(sync_path, map_location="cpu")  # FileNotFoundError when SD 2.1 is not at ./weight
        for name, opt in (calculate_metrics or {}).items():
            raise OSError(f"pyiqa.create_metric({opt['type']!r}): cannot download its weights (no network)")
        self.preprocess_model = _Preprocess()
        self.register_buffer("step", torch.tensor(0.5))  # from the level's lc.ckpt

    @property
    def device(self):
        return self.step.device

    def freeze(self):
        self.requires_grad_(False)

    def apply_condition_compress(self, control, stream_path, height, width):
        assert self.preprocess_model.updated and control.shape[-2:] == (height, width) and height % 64 == 0
        data, shape = tiny.squeeze(control, float(self.step))
        with open(stream_path, "wb") as fh:
            fh.write(bytes([shape[2] // 8, shape[3] // 8]) + data)
        return len(data) * 8 / (height * width)

    def apply_condition_decompress(self, stream_path):
        with open(stream_path, "rb") as fh:
            raw = fh.read()
        image = tiny.unsqueeze(raw[2:], [1, 3, raw[0] * 8, raw[1] * 8], float(self.step))
        small = torch.nn.functional.avg_pool2d(image, 8) * 2 - 1
        return torch.cat([small, torch.zeros_like(small[:, :1])], 1)

    def get_learned_conditioning(self, prompts):
        return torch.zeros(len(prompts), 77, 8)

    def decode_first_stage(self, z):
        return torch.nn.functional.interpolate(z[:, :3], scale_factor=8, mode="nearest")
