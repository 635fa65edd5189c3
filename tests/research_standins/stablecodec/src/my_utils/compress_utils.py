"""src/my_utils/compress_utils.py of StableCodec: write_body(fd, shape, out_strings) writes the
latent's two dimensions and the strings with 4-byte lengths; read_body(fd) reads them back."""

import struct


def write_body(fd, shape, out_strings):
    fd.write(struct.pack(">3I", shape[0], shape[1], len(out_strings)))
    for s in out_strings:
        fd.write(struct.pack(">I", len(s[0])) + s[0])


def read_body(fd):
    h, w, n = struct.unpack(">3I", fd.read(12))
    strings = []
    for _ in range(n):
        (length,) = struct.unpack(">I", fd.read(4))
        strings.append([fd.read(length)])
    return strings, (h, w)
