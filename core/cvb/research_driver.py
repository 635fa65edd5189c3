"""The worker cvb runs inside a research codec's own checkout and Python environment.

A standalone script: it imports nothing from cvb (the user's environment may not have cvb),
only torch, numpy, Pillow and the research repository. ``cvb.research.ResearchCodec`` starts
it once per codec instance, as ``PYTHON research_driver.py serve SPEC_JSON``, and talks JSON
lines over stdin/stdout:

    {"op": "encode", "level": "3", "input": "in.png", "output": "out.bin"}
    {"op": "decode", "level": "3", "input": "out.bin", "output": "out.png"}
    -> {"ok": true} or {"ok": false, "error": "..."}

SPEC_JSON names the model: ``{"repo": DIR, "module": "models.tcm", "class": "TCM",
"kwargs": {...}, "checkpoints": {"level": FILE}, "pad": 128, "device": "cpu"}``. The model
must have CompressAI's interface: ``compress(x) -> {"strings": [[bytes], ...], "shape": ...}``
and ``decompress(strings, shape) -> {"x_hat": ...}``: a real entropy coder. The file it writes
is the whole bitstream: the original size, then each string and the shape, with varint
lengths. Models load once per level and stay in memory.
"""

from __future__ import annotations

import importlib
import json
import struct
import sys

MAGIC = b"CVBR"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def pack(width: int, height: int, strings, shape) -> bytes:
    flat = [s[0] if isinstance(s, (list, tuple)) else s for s in strings]  # batch of one image
    dims = [int(d) for d in shape]
    out = bytearray(MAGIC + struct.pack(">HH", width, height))
    out += varint(len(flat))
    for s in flat:
        out += varint(len(s)) + s
    out += varint(len(dims))
    for d in dims:
        out += varint(d)
    return bytes(out)


def unpack(data: bytes):
    if data[:4] != MAGIC:
        raise ValueError("not a cvb research-codec bitstream")
    width, height = struct.unpack(">HH", data[4:8])
    pos = 8
    count, pos = read_varint(data, pos)
    strings = []
    for _ in range(count):
        n, pos = read_varint(data, pos)
        strings.append([data[pos:pos + n]])
        pos += n
    ndims, pos = read_varint(data, pos)
    shape = []
    for _ in range(ndims):
        d, pos = read_varint(data, pos)
        shape.append(d)
    return width, height, strings, shape


class Worker:
    def __init__(self, spec: dict):
        self.spec = spec
        sys.path.insert(0, spec["repo"])
        self.models: dict = {}

    def model(self, level: str):
        if level not in self.models:
            import torch

            cls = getattr(importlib.import_module(self.spec["module"]), self.spec["class"])
            net = cls(**self.spec.get("kwargs", {}))
            checkpoint = torch.load(self.spec["checkpoints"][level], map_location="cpu", weights_only=False)
            state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else checkpoint
            net.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
            net.update(force=True)  # the entropy coder's tables, as the repos' eval scripts do
            self.models[level] = net.eval().to(self.spec.get("device", "cpu"))
        return self.models[level]

    def encode(self, level: str, src: str, dst: str) -> None:
        import numpy as np
        import torch
        import torch.nn.functional as F
        from PIL import Image

        with Image.open(src) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        h, w = arr.shape[:2]
        x = torch.from_numpy(arr).permute(2, 0, 1)[None]
        p = int(self.spec.get("pad", 64))
        x = F.pad(x, (0, (-w) % p, 0, (-h) % p), mode="replicate")
        with torch.no_grad():
            out = self.model(level).compress(x.to(self.spec.get("device", "cpu")))
        with open(dst, "wb") as fh:
            fh.write(pack(w, h, out["strings"], out["shape"]))

    def decode(self, level: str, src: str, dst: str) -> None:
        import numpy as np
        import torch
        from PIL import Image

        with open(src, "rb") as fh:
            width, height, strings, shape = unpack(fh.read())
        with torch.no_grad():
            x_hat = self.model(level).decompress(strings, shape)["x_hat"]
        x_hat = x_hat[0, :, :height, :width].clamp(0, 1)
        arr = (x_hat.permute(1, 2, 0).float().cpu().numpy() * 255.0).round().astype(np.uint8)
        Image.fromarray(arr, "RGB").save(dst)


def serve(spec: dict) -> None:
    worker = Worker(spec)
    print(json.dumps({"ok": True, "ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            getattr(worker, request["op"])(request["level"], request["input"], request["output"])
            reply = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - reported to cvb, which records the unit as failed
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "serve":
        sys.exit("usage: research_driver.py serve SPEC_JSON")
    serve(json.loads(sys.argv[2]))
