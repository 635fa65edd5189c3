"""HEVC intra with the HM reference software, on cvb's ``YuvReferenceCodec``.

Encode: RGB -> 8-bit Y'CbCr file -> ``TAppEncoder`` -> the .bin bitstream. Decode:
``TAppDecoder`` -> headerless .yuv of the size the SPS announces (``hevc_sps``) -> RGB.
Everything generic (YUV files, padding, the size header, options) is in
``cvb.codecs.yuv_reference``; this module says which binaries, their command lines (with the
profile) and how to read the size.
"""

from __future__ import annotations

from pathlib import Path

from cvb.errors import CodecError
from cvb.codecs.yuv_reference import YuvReferenceCodec

from .binaries import DECODER_ENV, DECODER_NAMES, ENCODER_ENV, ENCODER_NAMES, INSTALL_HINT
from .hevc_sps import parse_sps


class HMCodec(YuvReferenceCodec):
    """Level = QP 0..51 (lower = more bits). Defaults 51, 47, 44, 40 reproduce the paper's
    HM anchors (its QP 53 does not exist in HEVC, whose QP stops at 51)."""

    name = "hm"
    default_levels = ("51", "47", "44", "40")
    level_min, level_max = 0, 51
    encoder_names, decoder_names = ENCODER_NAMES, DECODER_NAMES
    encoder_env, decoder_env = ENCODER_ENV, DECODER_ENV
    install_hint = INSTALL_HINT
    #: HM 16.7 (SVN r4616) cfg/encoder_intra_main.cfg, verbatim: without a .cfg the real encoder refuses every picture
    default_config = Path(__file__).with_name("encoder_intra_main.cfg")
    version_pattern = r"Version \[([^\]]+)\]"

    def encode_argv(self, qp: int, size: tuple[int, int], src: Path, dst: Path,
                    configs: tuple[Path, ...] = ()) -> list[str]:
        """TAppEncoder's command line: the .cfg files first (later ones win), then every setting cvb decides."""
        w, h = size
        argv = [self.binary(self.encoder_names[0])]
        for config in configs:
            argv += ["-c", str(config)]
        return argv + [
            "-i", str(src), "-b", str(dst),
            "-wdt", str(w), "-hgt", str(h), "-fr", "1", "-f", "1", "-q", str(qp),
            f"--InputChromaFormat={self.chroma}", f"--ChromaFormatIDC={self.chroma}",
            "--InputBitDepth=8", "--InternalBitDepth=8", "--OutputBitDepth=8",
            "--Profile=" + ("main" if self.chroma == "420" else "main-RExt"),
            "--IntraPeriod=1", "--GOPSize=1", "--ConformanceWindowMode=1",
            "--SEIDecodedPictureHash=0",  # an MD5 SEI would add bytes a viewer never needs
        ]

    def decode_argv(self, src: Path, dst: Path) -> list[str]:
        return [self.binary(self.decoder_names[0]), "-b", str(src), "-o", str(dst), "-d", "8"]

    def picture_size(self, stream: bytes, true_size) -> tuple[int, int, str]:
        """HM writes the conformance-window size, which the stream's SPS announces."""
        try:
            sps = parse_sps(stream)
        except ValueError as exc:
            raise CodecError(f"hm: cannot read the bitstream's SPS: {exc}") from exc
        chroma = {1: "420", 3: "444"}.get(sps.chroma_format_idc)
        if chroma is None:
            raise CodecError(f"hm: chroma_format_idc {sps.chroma_format_idc} is not supported")
        return sps.width, sps.height, chroma
