"""BPG via ``bpgenc``/``bpgdec``, on cvb's ``ExternalCodec``.

Encode: the RGB image as PNG -> ``bpgenc -q QP -f CHROMA -m EFFORT -e ENCODER -o out.bpg in.png``;
the bitstream is the whole .bpg file (its header carries the size, so odd sizes need nothing
extra). Decode: ``bpgdec -o out.png in.bpg`` -> RGB.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from cvb.errors import CodecError
from cvb.external import ExternalCodec, find_binary
from cvb.options import as_choice, as_float, as_int, reject_unknown

from .plugin import DECODER_ENV, ENCODER_ENV, INSTALL_HINT

if TYPE_CHECKING:
    from PIL import Image


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
        image.convert("RGB").save(tmp / "in.png", compress_level=1)
        self.run_tool([self.binary("bpgenc"), "-q", qp, "-f", self.chroma, "-m", str(self.effort),
                       "-e", self.encoder, "-o", "out.bpg", "in.png"], cwd=tmp)
        out = tmp / "out.bpg"
        if not out.is_file() or out.stat().st_size == 0:
            raise CodecError("bpg: bpgenc wrote no file")
        return out.read_bytes()

    def decode_files(self, bits: bytes, tmp: Path) -> "Image.Image":
        from PIL import Image

        (tmp / "in.bpg").write_bytes(bits)
        self.run_tool([self.binary("bpgdec"), "-o", "out.png", "in.bpg"], cwd=tmp)
        if not (tmp / "out.png").is_file():
            raise CodecError("bpg: bpgdec wrote no picture")
        with Image.open(tmp / "out.png") as im:
            return im.convert("RGB")
