"""The output picture size of an HEVC bitstream, read from its sequence parameter set.

HM's decoder writes a headerless .yuv of the conformance-window size, so reading it back
needs that size: it is in the SPS (H.265 section 7.3.2.2), no side channel required.
"""

from __future__ import annotations

from dataclasses import dataclass

SPS_NAL_TYPE = 33


@dataclass(frozen=True)
class SpsInfo:
    chroma_format_idc: int  # 0 mono, 1 4:2:0, 2 4:2:2, 3 4:4:4
    coded_width: int
    coded_height: int
    width: int  # after the conformance window: what a decoder outputs
    height: int
    bit_depth_luma: int
    bit_depth_chroma: int


class _Bits:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise ValueError("SPS ends early")
            value = (value << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code in SPS")
        return (1 << zeros) - 1 + self.u(zeros)


def nal_units(stream: bytes) -> list[bytes]:
    """The NAL units of an Annex-B byte stream (start codes and zero padding removed)."""
    starts, i = [], stream.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i + 3)
        i = stream.find(b"\x00\x00\x01", i + 3)
    ends = [s - 3 for s in starts[1:]] + [len(stream)]
    return [stream[a:b].rstrip(b"\x00") for a, b in zip(starts, ends)]


def _rbsp(nal: bytes) -> bytes:
    """Drop emulation-prevention bytes (00 00 03 -> 00 00)."""
    out, zeros = bytearray(), 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _skip_profile_tier_level(bits: _Bits, max_sub_layers_minus1: int) -> None:
    bits.u(88)  # general profile: space, tier, idc, 32 compat flags, 4 source flags, 44 bits
    bits.u(8)  # general_level_idc
    profile_present, level_present = [], []
    for _ in range(max_sub_layers_minus1):
        profile_present.append(bits.u(1))
        level_present.append(bits.u(1))
    if max_sub_layers_minus1 > 0:
        for _ in range(max_sub_layers_minus1, 8):
            bits.u(2)
    for i in range(max_sub_layers_minus1):
        if profile_present[i]:
            bits.u(88)
        if level_present[i]:
            bits.u(8)


def parse_sps(stream: bytes) -> SpsInfo:
    for nal in nal_units(stream):
        if len(nal) > 2 and (nal[0] >> 1) & 0x3F == SPS_NAL_TYPE:
            bits = _Bits(_rbsp(nal[2:]))
            bits.u(4)  # sps_video_parameter_set_id
            max_sub_layers_minus1 = bits.u(3)
            bits.u(1)  # temporal_id_nesting
            _skip_profile_tier_level(bits, max_sub_layers_minus1)
            bits.ue()  # sps_seq_parameter_set_id
            chroma = bits.ue()
            separate_planes = bits.u(1) if chroma == 3 else 0
            coded_w, coded_h = bits.ue(), bits.ue()
            left = right = top = bottom = 0
            if bits.u(1):  # conformance_window_flag
                left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
            sub_w = 2 if chroma in (1, 2) and not separate_planes else 1
            sub_h = 2 if chroma == 1 and not separate_planes else 1
            depth_luma, depth_chroma = bits.ue() + 8, bits.ue() + 8
            return SpsInfo(chroma, coded_w, coded_h, coded_w - sub_w * (left + right),
                           coded_h - sub_h * (top + bottom), depth_luma, depth_chroma)
    raise ValueError("no sequence parameter set in the HEVC stream")
