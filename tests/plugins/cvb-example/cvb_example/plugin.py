"""Registration only: light to import, the codec modules load on first use."""

from cvb import hookimpl
from cvb.codecs.external import binary_status
from cvb.specs import CodecSpec


@hookimpl
def register_codecs(register):
    register(CodecSpec(
        name="palette",
        factory="cvb_example.codec:PaletteCodec",
        kind="traditional",
        levels=("2", "4", "6", "8"),
        summary="median-cut palette of 2**level colours, stored as PNG",
    ))
    register(CodecSpec(
        name="mjpeg",
        factory="cvb_example.external:FfmpegMjpegCodec",
        kind="traditional",
        levels=("31", "20", "10", "2"),
        summary="JPEG through ffmpeg's MJPEG encoder; level = -q:v 2..31 (lower = more bits)",
        check=lambda: binary_status("ffmpeg", "CVB_EXAMPLE_FFMPEG", "apt-get install ffmpeg"),
    ))
    register(CodecSpec(
        name="tiny-factorized",
        factory="cvb_example.learned:TinyFactorizedCodec",
        kind="learned",
        levels=("1", "2", "3", "4"),
        summary="a small Balle-2018 factorized-prior model; weights=DIR of level-N.pth, else random",
        options={"weights": "folder holding level-1.pth ... (default: seeded random weights)",
                 "device": "cpu (default), cuda, cuda:N or auto"},
    ))
