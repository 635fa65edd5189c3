"""Registration only: light to import, the codec module loads on first use."""

from cvb import hookimpl
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
