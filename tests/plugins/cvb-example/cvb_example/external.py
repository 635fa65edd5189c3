"""Worked example 2: a codec that runs an external binary (ffmpeg's MJPEG encoder)."""

from pathlib import Path

from PIL import Image

from cvb.errors import CodecRefusal
from cvb.codecs.external import ExternalCodec


class FfmpegMjpegCodec(ExternalCodec):
    name = "mjpeg"
    version = "1"
    default_levels = ("31", "20", "10", "2")   # ffmpeg -q:v: lower = more bits
    level_min, level_max = 2, 31
    higher_level_higher_rate = False
    binaries = {"ffmpeg": "CVB_EXAMPLE_FFMPEG"}  # binary -> env var that may point at it
    install_hint = "apt-get install ffmpeg"

    def encode_files(self, image, level, tmp: Path) -> bytes:
        if image.width < 2 or image.height < 2:   # refuse what the tool cannot code, clearly
            raise CodecRefusal(f"mjpeg: {image.width}x{image.height} is too small (2x2 at least)")
        image.save(tmp / "in.png")
        self.run_tool([self.binary("ffmpeg"), "-loglevel", "error", "-i", "in.png",
                       "-q:v", self.parse_level(level), "-pix_fmt", "yuvj444p", "out.jpg"], cwd=tmp)
        return (tmp / "out.jpg").read_bytes()

    def decode_files(self, bits: bytes, tmp: Path) -> Image.Image:
        (tmp / "in.jpg").write_bytes(bits)
        self.run_tool([self.binary("ffmpeg"), "-loglevel", "error", "-i", "in.jpg", "out.png"], cwd=tmp)
        with Image.open(tmp / "out.png") as im:
            return im.convert("RGB")
