import struct


def write_body(fd, shape, out_strings):
    fd.write(struct.pack(f">{len(shape) + 1}I", len(shape), *shape))
    for s in out_strings:
        fd.write(struct.pack(">I", len(s[0])) + s[0])
    return


def read_body(fd):
    (n,) = struct.unpack(">I", fd.read(4))
    shape = list(struct.unpack(f">{n}I", fd.read(4 * n)))
    strings = []
    while chunk := fd.read(4):
        (length,) = struct.unpack(">I", chunk)
        strings.append([fd.read(length)])
    return strings, shape
