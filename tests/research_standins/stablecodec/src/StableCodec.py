import os

import torch

import tiny


class _LatentCodec(torch.nn.Module):
    def update(self, force=False):
        self.updated = force


class StableCodec(torch.nn.Module):
    """StableCodec(sd_path=None, args=None) as src/compress.py builds it; works on [-1, 1] images.
    Like the real constructor it puts its pieces on CUDA unconditionally (StableCodec.py lines
    23, 30-33), so on a CPU-only torch it fails as the real one does."""

    def __init__(self, sd_path=None, args=None):
        super().__init__()
        assert os.path.isdir(sd_path) and os.path.isfile(args.elic_path)
        self.timesteps = torch.tensor([999], device="cuda").long()
        self.step = float(torch.load(args.codec_path)["step"])
        self.codec = _LatentCodec()

    def compress(self, x):
        assert self.codec.updated and x.min() >= -1 and x.shape[-1] % 256 == 0
        data, shape = tiny.squeeze((x + 1) / 2, self.step)
        return {"strings": [[data]], "shape": shape[-2:]}  # the latent's (h, w), as write_body takes

    def decompress(self, strings, shape, pos_prompt):
        assert pos_prompt == [1]
        return tiny.unsqueeze(strings[0][0], (1, 3, *shape), self.step) * 2 - 1
