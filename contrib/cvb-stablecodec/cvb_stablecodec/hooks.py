"""StableCodec hooks for cvb's research driver (runs in the user's environment, not cvb's).

Mirrors the checkout's src/compress.py: the model is built from its testing arguments, the
image is scaled to [-1, 1] and reflect-padded to 256, ``net.compress`` gives strings and a shape
that the repo's own ``write_body`` (``src/my_utils/compress_utils.py``, imported as compress.py
does: ``my_utils.compress_utils``) writes; decoding is ``read_body`` and
``net.decompress(strings, shape, [1])`` (the positive-tag prompt compress.py uses). The file
also holds the original size (4 bytes), counted in the bpp. StableCodec's code is CUDA-only
(``.cuda()`` in its constructor): cvb refuses ``device=cpu`` before a worker starts.
"""

import os
import struct
import sys

import research_driver


def build(spec, level):
    sys.path.insert(0, os.path.join(spec["repo"], "src"))
    from my_utils.testing_utils import parse_args_testing
    from StableCodec import StableCodec

    s = spec["settings"]
    argv, sys.argv = sys.argv, ["compress.py", f"--sd_path={s['sd_path']}", f"--elic_path={s['elic_path']}",
                                f"--codec_path={spec['checkpoints'][level]}", "--img_path=.",
                                "--rec_path=.", "--bin_path=."]
    try:
        args = parse_args_testing()
    finally:
        sys.argv = argv
    net = StableCodec(sd_path=s["sd_path"], args=args)
    net.to(spec["device"]).eval()  # compress.py: net.cuda().eval()
    net.codec.update(force=True)
    return net


def encode(net, spec, src, dst):
    import torch
    from my_utils.compress_utils import write_body

    x, (w, h) = research_driver.read_rgb(src)
    p = int(spec.get("pad", 256))
    # compress.py reflect-pads, which torch allows only for a pad smaller than the image: an image
    # under 256 px would crash there; cvb replicates the edge instead for those
    small = (-w) % p >= w or (-h) % p >= h
    x = research_driver.pad_to(x * 2 - 1, p, mode="replicate" if small else "reflect")
    with torch.no_grad():
        out = net.compress(x.to(spec["device"]))
    with open(dst, "wb") as fh:
        fh.write(struct.pack(">HH", w, h))
        write_body(fh, out["shape"], out["strings"])


def decode(net, spec, src, dst):
    import torch
    from my_utils.compress_utils import read_body

    with open(src, "rb") as fh:
        w, h = struct.unpack(">HH", fh.read(4))
        strings, shape = read_body(fh)
    with torch.no_grad():
        out = net.decompress(strings, shape, [1])
    research_driver.write_rgb(out * 0.5 + 0.5, w, h, dst)
