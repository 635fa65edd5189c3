"""The worker cvb runs inside a research codec's own checkout and Python environment.

A standalone script: it imports nothing from cvb (the user's environment may not have cvb),
only torch, numpy, Pillow and the research repository. ``cvb.codecs.research.ResearchCodec`` starts
it once per codec instance, as ``PYTHON driver.py serve SPEC_JSON``, and talks JSON
lines over stdin/stdout:

    {"op": "encode", "level": "3", "input": "in.png", "output": "out.bin"}
    {"op": "decode", "level": "3", "input": "out.bin", "output": "out.png"}
    -> {"ok": true} or {"ok": false, "error": "..."}

SPEC_JSON names the model: ``{"repo": DIR, "module": "models.tcm", "class": "TCM",
"kwargs": {...}, "checkpoints": {"level": FILE}, "pad": 128, "device": "cpu", "hooks": FILE,
"settings": {...}}``. By default the model must have CompressAI's interface:
``compress(x) -> {"strings": [[bytes], ...], "shape": ...}`` and
``decompress(strings, shape) -> {"x_hat": ...}``: a real entropy coder. The file it writes is
the whole bitstream: the original size, then each string and the shape, with varint lengths.
Models load once per level and stay in memory.

``hooks`` (optional) is a Python file a codec package ships for a repository that is not
CompressAI-shaped (a diffusion codec, a model built from a config object). It runs here, in the
user's environment with the checkout on ``sys.path``, and may define any of

    build(spec, level) -> model             # replaces: import module.class(**kwargs), load, update
    encode(model, spec, src_png, dst_file)  # replaces compressai_encode: must write a real bitstream
    decode(model, spec, src_file, dst_png)  # replaces compressai_decode

Before the checkout is imported the worker applies ``spec["compat"]`` (cvb's ``compat.py``, a
standalone file): the registry's CUDA-only torchvision made importable on a CPU-only torch, a
no-op where torchvision imports normally or is not installed. The worker's ``sys.path`` holds
the checkout and the interpreter's own paths only: cvb starts it without ``PYTHONPATH`` and the
driver drops its own folder (cvb's package) from the path.

``spec["settings"]`` carries the codec's options for the hooks (e.g. sampling steps). A hook may
``import research_driver`` to reuse ``compressai_encode``, ``compressai_decode``, ``load_weights``,
``pack``/``unpack``, ``read_rgb``/``write_rgb``, ``pad_to`` and ``write_stream``/``read_stream``
(for a model that writes its own bitstream file). What is specific to one repository stays in
its codec package's hooks file.
"""

from __future__ import annotations

import importlib
import importlib.util
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


def read_rgb(path: str):
    """An image file as a float tensor 1x3xHxW in [0, 1], and its (width, height)."""
    import numpy as np
    import torch
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous(), (arr.shape[1], arr.shape[0])


def write_rgb(x_hat, width: int, height: int, path: str) -> None:
    """Crop a 1x3xHxW tensor in [0, 1] to the original size and save it as PNG."""
    import numpy as np
    from PIL import Image

    x_hat = x_hat[0, :, :height, :width].clamp(0, 1)
    arr = (x_hat.permute(1, 2, 0).float().cpu().numpy() * 255.0).round().astype(np.uint8)
    Image.fromarray(arr, "RGB").save(path)


def pad_to(x, multiple: int, mode: str = "replicate"):
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    return F.pad(x, (0, (-w) % multiple, 0, (-h) % multiple), mode=mode)


def load_weights(net, checkpoint_file: str):
    """Load a checkpoint (a ``state_dict``, or a dict holding one; ``module.`` prefixes dropped)."""
    import torch

    checkpoint = torch.load(checkpoint_file, map_location="cpu", weights_only=False)
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    net.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
    return net


def compressai_build(spec: dict, level: str):
    cls = getattr(importlib.import_module(spec["module"]), spec["class"])
    net = load_weights(cls(**spec.get("kwargs", {})), spec["checkpoints"][level])
    net.update(force=True)  # the entropy coder's tables, as the repos' eval scripts do
    return net.eval().to(spec.get("device", "cpu"))


def compressai_encode(net, spec: dict, src: str, dst: str) -> None:
    import torch

    x, (w, h) = read_rgb(src)
    x = pad_to(x, int(spec.get("pad", 64)))
    with torch.no_grad():
        out = net.compress(x.to(spec.get("device", "cpu")))
    with open(dst, "wb") as fh:
        fh.write(pack(w, h, out["strings"], out["shape"]))


def compressai_decode(net, spec: dict, src: str, dst: str) -> None:
    import torch

    with open(src, "rb") as fh:
        width, height, strings, shape = unpack(fh.read())
    with torch.no_grad():
        x_hat = net.decompress(strings, shape)["x_hat"]
    write_rgb(x_hat, width, height, dst)


def write_stream(dst: str, width: int, height: int, write) -> None:
    """For a repository whose model writes its own bitstream file: ``write(path)`` makes it;
    ``dst`` gets the original size (4 bytes) and that file's bytes, all counted in the bpp."""
    import os

    tmp = dst + ".repo"
    write(tmp)
    with open(tmp, "rb") as fh:
        data = fh.read()
    os.remove(tmp)
    if not data:
        raise ValueError("the model wrote an empty bitstream file")
    with open(dst, "wb") as fh:
        fh.write(struct.pack(">HH", width, height) + data)


def read_stream(src: str, read):
    """The inverse of ``write_stream``: ``(width, height, read(path of the model's own file))``."""
    with open(src, "rb") as fh:
        width, height = struct.unpack(">HH", fh.read(4))
        data = fh.read()
    tmp = src + ".repo"
    with open(tmp, "wb") as fh:
        fh.write(data)
    return width, height, read(tmp)


def apply_compat(path: str) -> None:
    """cvb's torchvision step (``compat.ensure_torchvision``), loaded from its file; an
    environment without torchvision (or torch) has nothing to fix."""
    if not path:
        return
    spec = importlib.util.spec_from_file_location("cvb_research_compat", path)
    assert spec is not None and spec.loader is not None, path  # a .py file always has both
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        module.ensure_torchvision()
    except ImportError:
        pass


def isolate() -> None:
    """Drop this script's folder (cvb's package: ``types.py``, ``codec.py``...) from the path, and
    let hooks ``import research_driver`` as this very module."""
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    sys.modules.setdefault("research_driver", sys.modules[__name__])


def load_hooks(path: str):
    spec = importlib.util.spec_from_file_location("cvb_research_hooks", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load hooks file {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Worker:
    def __init__(self, spec: dict):
        self.spec = spec
        apply_compat(spec.get("compat", ""))
        sys.path.insert(0, spec["repo"])
        hooks = load_hooks(spec["hooks"]) if spec.get("hooks") else None
        self.build = getattr(hooks, "build", compressai_build)
        self.ops = {"encode": getattr(hooks, "encode", compressai_encode),
                    "decode": getattr(hooks, "decode", compressai_decode)}
        self.models: dict = {}

    def model(self, level: str):
        if level not in self.models:
            self.models[level] = self.build(self.spec, level)
        return self.models[level]

    def run(self, op: str, level: str, src: str, dst: str) -> None:
        if op not in self.ops:
            raise ValueError(f"unknown op {op!r}")
        self.ops[op](self.model(level), self.spec, src, dst)


def serve(spec: dict) -> None:
    worker = Worker(spec)
    print(json.dumps({"ok": True, "ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            worker.run(request["op"], request["level"], request["input"], request["output"])
            reply: dict[str, object] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - reported to cvb, which records the unit as failed
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "serve":
        sys.exit("usage: driver.py serve SPEC_JSON")
    isolate()
    serve(json.loads(sys.argv[2]))
