import os

import torch

import tiny


class _EntropyModel(torch.nn.Module):
    def update(self, force=False):
        self.updated = force


class StableCodec(torch.nn.Module):
    """StableCodec(sd_path, args) as src/compress.py builds it; works on [-1, 1] images."""

    def __init__(self, sd_path, args):
        super().__init__()
        assert os.path.isdir(sd_path) and os.path.isfile(args.elic_path)
        self.step = float(torch.load(args.codec_path)["step"])
        self.codec = _EntropyModel()

    def compress(self, x):
        assert self.codec.updated and x.min() >= -1 and x.shape[-1] % 256 == 0
        data, shape = tiny.squeeze((x + 1) / 2, self.step)
        return {"strings": [[data]], "shape": shape}

    def decompress(self, strings, shape, prompt):
        assert prompt == [1]
        return tiny.unsqueeze(strings[0][0], shape, self.step) * 2 - 1
