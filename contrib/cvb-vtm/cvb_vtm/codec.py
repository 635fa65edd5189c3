"""VVC intra with the VTM reference software, on cvb's ``YuvReferenceCodec``.

The same pipeline as ``cvb-hm`` (cvb.codecs.yuv_reference): RGB -> 8-bit Y'CbCr file -> ``EncoderApp`` ->
the .bin bitstream; ``DecoderApp`` -> headerless .yuv -> RGB. A VVC stream does announce its
size in its SPS, but reading it means parsing VVC's long general_constraints_info; instead
every bitstream carries cvb's 8-byte size header (``always_frame``), counted in the bpp
(0.0002 bpp on a 768x512 image).
"""

from __future__ import annotations

from pathlib import Path

from cvb.codecs.yuv_reference import YuvReferenceCodec

from .binaries import DECODER_ENV, DECODER_NAMES, ENCODER_ENV, ENCODER_NAMES, INSTALL_HINT

DEFAULT_LEVELS = ("53", "49", "45", "40")


class VTMCodec(YuvReferenceCodec):
    """Level = QP 0..63 (lower = more bits); defaults spread over the paper's QP 40-53."""

    name = "vtm"
    default_levels = DEFAULT_LEVELS
    level_min, level_max = 0, 63
    encoder_names, decoder_names = ENCODER_NAMES, DECODER_NAMES
    encoder_env, decoder_env = ENCODER_ENV, DECODER_ENV
    install_hint = INSTALL_HINT
    #: VTM 23.13 cfg/encoder_intra_vtm.cfg, verbatim: without a .cfg the real encoder refuses every picture
    default_config = Path(__file__).with_name("encoder_intra_vtm.cfg")
    version_pattern = r"VTM Encoder Version ([0-9][0-9.]*)"
    always_frame = True

    def encode_argv(self, qp: int, size: tuple[int, int], src: Path, dst: Path,
                    configs: tuple[Path, ...] = ()) -> list[str]:
        """EncoderApp's command line: the .cfg files first (later ones win), then every setting cvb
        decides. HM's flags (VTM descends from HM), with no profile flag: VTM infers it."""
        w, h = size
        argv = [self.binary(self.encoder_names[0])]
        for config in configs:
            argv += ["-c", str(config)]
        return argv + [
            "-i", str(src), "-b", str(dst),
            "-wdt", str(w), "-hgt", str(h), "-fr", "1", "-f", "1", "-q", str(qp),
            f"--InputChromaFormat={self.chroma}", f"--ChromaFormatIDC={self.chroma}",
            "--InputBitDepth=8", "--InternalBitDepth=8", "--OutputBitDepth=8",
            "--IntraPeriod=1", "--GOPSize=1", "--ConformanceWindowMode=1",
            "--SEIDecodedPictureHash=0",  # an MD5 SEI would add bytes a viewer never needs
        ]

    def decode_argv(self, src: Path, dst: Path) -> list[str]:
        return [self.binary(self.decoder_names[0]), "-b", str(src), "-o", str(dst), "-d", "8"]
