"""Registers the Pillow-based codecs. Light: codec modules load only when a codec is created."""

from __future__ import annotations

from cvb import hookimpl
from cvb.specs import CodecSpec

from .status import pillow_feature, python_package

_SUB = "chroma subsampling 4:2:0 (default), 4:2:2 or 4:4:4"


@hookimpl
def register_codecs(register):
    register(CodecSpec(
        name="jpeg", factory="cvb_pillow.jpeg:JpegCodec", kind="traditional",
        levels=("1", "10", "30", "75"), check=pillow_feature("jpg", "JPEG (libjpeg)"),
        summary="JPEG, libjpeg-turbo via Pillow; level = quality 1..100",
        options={"subsampling": _SUB, "optimize": "optimised Huffman tables (default false)"}))
    register(CodecSpec(
        name="webp", factory="cvb_pillow.webp:WebpCodec", kind="traditional",
        levels=("0", "10", "50", "80"), check=pillow_feature("webp", "WebP (libwebp)"),
        summary="lossy WebP, libwebp via Pillow; level = quality 0..100",
        options={"method": "encoder effort 0..6 (default 4)"}))
    register(CodecSpec(
        name="avif", factory="cvb_pillow.avif:AvifCodec", kind="traditional",
        levels=("10", "30", "50", "70"), check=pillow_feature("avif", "AVIF (libavif)"),
        summary="AVIF (AV1 intra), libavif via Pillow; level = quality 0..100",
        options={"speed": "encoder speed 0..10 (default 6)", "subsampling": _SUB}))
    register(CodecSpec(
        name="jpeg2000", factory="cvb_pillow.jpeg2000:Jpeg2000Codec", kind="traditional",
        levels=("192", "64", "32", "16"), check=pillow_feature("jpg_2000", "JPEG 2000 (OpenJPEG)"),
        summary="JPEG 2000, OpenJPEG via Pillow (9/7, mct=1); level = compression ratio 2..2400"))
    register(CodecSpec(
        name="heif", factory="cvb_pillow.heif:HeifCodec", kind="traditional",
        levels=("10", "20", "35", "50"), check=python_package("pillow_heif", "pillow-heif"),
        summary="HEIF = HEVC intra (x265) via pillow-heif; level = quality 0..100",
        options={"chroma": "420 (default), 422 or 444"}))
    register(CodecSpec(
        name="jxl", factory="cvb_pillow.jxl:JxlCodec", kind="traditional",
        levels=("0", "20", "50", "80"), check=python_package("pillow_jxl", "pillow-jxl-plugin"),
        summary="JPEG XL, libjxl via pillow-jxl-plugin; level = quality 0..100",
        options={"effort": "encoder effort 1..9 (default 7)"}))
