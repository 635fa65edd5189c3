"""One bytestring from what a CompressAI-style ``model.compress`` returns, and back.

Used by ``cvb.codecs.learned.LearnedCodec`` (and so by every learned codec built on it). ``compress``
gives ``{"strings": [[bytes], ...], "shape": ...}`` where shape is a
``torch.Size`` or, for latent-codec models such as ELIC, a nested dict/list of them. The
file is a 1-byte magic, the level code (one byte: the quality, or the level's index), the
original width and height, then that tree in a
compact tagged form (unsigned LEB128 varints for lengths and sizes). The overhead is a few
dozen bytes per image and is counted in the bpp like every other header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cvb.errors import CodecError

MAGIC = 0xC5
_LIST, _TUPLE, _DICT, _BYTES, _INT = b"L", b"T", b"D", b"B", b"I"


def _varint(n: int) -> bytes:
    if n < 0:
        raise ValueError(f"cannot encode negative integer {n}")
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise CodecError("learned-codec bitstream is truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def varint(self) -> int:
        shift = value = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7


def _dump(obj: Any, out: bytearray) -> None:
    if isinstance(obj, (bytes, bytearray)):
        out += _BYTES + _varint(len(obj)) + bytes(obj)
    elif isinstance(obj, bool):
        raise TypeError("booleans are not part of learned-codec bitstreams")
    elif isinstance(obj, int):
        out += _INT + _varint(obj)
    elif isinstance(obj, dict):
        out += _DICT + _varint(len(obj))
        for key, value in obj.items():
            raw = str(key).encode("utf-8")
            out += _varint(len(raw)) + raw
            _dump(value, out)
    elif isinstance(obj, list):
        out += _LIST + _varint(len(obj))
        for item in obj:
            _dump(item, out)
    elif isinstance(obj, tuple):  # torch.Size is a tuple subclass
        out += _TUPLE + _varint(len(obj))
        for item in obj:
            _dump(item, out)
    else:
        raise TypeError(f"cannot serialise {type(obj).__name__} in a learned-codec bitstream")


def _load(reader: _Reader) -> Any:
    tag = reader.take(1)
    if tag == _BYTES:
        return reader.take(reader.varint())
    if tag == _INT:
        return reader.varint()
    if tag == _DICT:
        result = {}
        for _ in range(reader.varint()):
            key = reader.take(reader.varint()).decode("utf-8")
            result[key] = _load(reader)
        return result
    if tag in (_LIST, _TUPLE):
        items = [_load(reader) for _ in range(reader.varint())]
        return items if tag == _LIST else tuple(items)
    raise CodecError(f"learned-codec bitstream: unknown tag {tag!r}")


@dataclass(frozen=True)
class Packet:
    """``quality``: the level code, 0..255 (see ``LearnedCodec.level_code``)."""

    quality: int
    width: int
    height: int
    strings: Any
    shape: Any


def pack(packet: Packet) -> bytes:
    if not 0 <= packet.quality <= 255:
        raise CodecError(f"level code {packet.quality} does not fit the one-byte header (0..255)")
    out = bytearray([MAGIC, packet.quality])
    out += _varint(packet.width) + _varint(packet.height)
    _dump(packet.strings, out)
    _dump(packet.shape, out)
    return bytes(out)


def unpack(data: bytes) -> Packet:
    if len(data) < 4 or data[0] != MAGIC:
        raise CodecError("not a cvb learned-codec bitstream (bad magic byte)")
    reader = _Reader(data)
    reader.take(1)
    quality = reader.take(1)[0]
    width, height = reader.varint(), reader.varint()
    strings = _load(reader)
    shape = _load(reader)
    if reader.pos != len(data):
        raise CodecError(f"learned-codec bitstream has {len(data) - reader.pos} trailing bytes")
    return Packet(quality, width, height, strings, shape)
