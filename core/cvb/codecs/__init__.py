"""The codec bases and the containers their bitstreams use.

``base`` (``compress()``: bpp from the bitstream; ``BaseCodec``), ``external`` (a codec run as a
command-line tool: ``ExternalCodec``), ``learned`` (a neural codec in this process:
``LearnedCodec``), ``yuv_reference`` (a reference video encoder reading planar Y'CbCr files:
``YuvReferenceCodec``), ``research`` (a research checkout run in its own environment:
``ResearchCodec``); ``yuv`` converts RGB to and from those files; the containers are
``framing`` (an 8-byte size header) and ``bitstream`` (a learned codec's strings and shapes).
See docs/codec-bases.md.
"""
