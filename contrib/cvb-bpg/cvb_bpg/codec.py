"""BPG via ``bpgenc``/``bpgdec``, on cvb's ``ExternalCodec``.

Encode: the RGB image as PNG -> ``bpgenc -q QP -f CHROMA -m EFFORT -e ENCODER -o out.bpg in.png``;
the bitstream is the whole .bpg file (its header carries the size, so odd sizes need nothing
extra). Decode: ``bpgdec -o out.png in.bpg`` -> RGB.

libbpg 0.9.8's bpgenc (x265 inside) segfaults on an image 24 px wide or narrower (1x1, 17x9,
24x24, 8x64: exit -11; 30x30, 31x1, 32x2 and wider code, any height, 4:2:0 and 4:4:4 alike).
Such an image is edge-padded on the right to ``MIN_WIDTH`` and the true size travels in
``cvb.codecs.framing``'s 8-byte header (counted in the bpp), so every size codes; a crash of bpgenc is
never taken for a refusal.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from cvb.errors import CodecError
from cvb.codecs.external import ExternalCodec, find_binary
from cvb.codecs.framing import frame, unframe
from cvb.options import as_choice, as_float, as_int, reject_unknown

from .plugin import DECODER_ENV, ENCODER_ENV, INSTALL_HINT

if TYPE_CHECKING:
    from PIL import Image

#: narrower images crash bpgenc 0.9.8 (measured: width 24 and below segfault, 30 and up code)
MIN_WIDTH = 32


def pad_width(image: "Image.Image", width: int) -> "Image.Image":
    """Edge-replicate the right column until the image is ``width`` wide."""
    import numpy as np
    from PIL import Image

    arr = np.asarray(image)
    return Image.fromarray(np.pad(arr, ((0, 0), (0, width - arr.shape[1]), (0, 0)), mode="edge"), "RGB")


def bpg_version(bpgenc: str | None) -> str:
    """``bpg-0.9.8`` from the banner ``bpgenc -h`` prints."""
    if bpgenc is None:
        return "bpg-missing"
    try:
        proc = subprocess.run([bpgenc, "-h"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return "bpg-unknown"
    match = re.search(r"version ([0-9][0-9.]*)", (proc.stdout + proc.stderr).decode("utf-8", "replace"))
    return f"bpg-{match.group(1)}" if match else "bpg-unknown"


class BPGCodec(ExternalCodec):
    """Level = QP 0..51 (lower = more bits); defaults 51, 47, 44, 40 as cvb-hm's HEVC anchors."""

    name = "bpg"
    default_levels = ("51", "47", "44", "40")
    level_min, level_max = 0, 51
    higher_level_higher_rate = False
    binaries = {"bpgenc": ENCODER_ENV, "bpgdec": DECODER_ENV}
    install_hint = INSTALL_HINT

    def __init__(self, chroma: object = "420", effort: object = 8, encoder: object = "x265",
                 timeout: object = 300, **unknown: object):
        reject_unknown(self.name, unknown, ("chroma", "effort", "encoder", "timeout"))
        self.chroma = as_choice(self.name, "chroma", chroma, ("420", "422", "444"))
        self.effort = as_int(self.name, "effort", effort, 1, 9)
        self.encoder = as_choice(self.name, "encoder", encoder, ("x265", "jctvc"))
        self.timeout_s = as_float(self.name, "timeout", timeout, lo=0.001)
        self.version = bpg_version(find_binary("bpgenc", ENCODER_ENV))

    def params(self) -> Mapping[str, object]:
        return {"chroma": self.chroma, "effort": self.effort, "encoder": self.encoder}

    def encode_files(self, image: "Image.Image", level: str, tmp: Path) -> bytes:
        qp = self.parse_level(level)
        image = image.convert("RGB")
        true_size = image.size if image.width < MIN_WIDTH else None
        if true_size:
            image = pad_width(image, MIN_WIDTH)
        image.save(tmp / "in.png", compress_level=1)
        self.run_tool([self.binary("bpgenc"), "-q", qp, "-f", self.chroma, "-m", str(self.effort),
                       "-e", self.encoder, "-o", "out.bpg", "in.png"], cwd=tmp)
        out = tmp / "out.bpg"
        if not out.is_file() or out.stat().st_size == 0:
            raise CodecError("bpg: bpgenc wrote no file")
        return frame(out.read_bytes(), true_size)  # a .bpg starts with "BPG\xfb", never "CVBS"

    def decode_files(self, bits: bytes, tmp: Path) -> "Image.Image":
        from PIL import Image

        stream, true_size = unframe(bits)
        (tmp / "in.bpg").write_bytes(stream)
        self.run_tool([self.binary("bpgdec"), "-o", "out.png", "in.bpg"], cwd=tmp)
        if not (tmp / "out.png").is_file():
            raise CodecError("bpg: bpgdec wrote no picture")
        with Image.open(tmp / "out.png") as im:
            out = im.convert("RGB")
        return out.crop((0, 0, *true_size)) if true_size else out
