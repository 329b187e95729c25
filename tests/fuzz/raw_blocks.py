#!/usr/bin/python3
"""raw_blocks.py IN OUT: rewrites a closed dataset with every block stored raw (codec 0), the index
fixed up: fuzz seeds whose filter tables and bit planes the fuzzer mutates directly (a mutated
zstd frame rarely decodes)."""
import struct, sys, zlib, zstandard
d = open(sys.argv[1], "rb").read()
out = bytearray(d[:16]); off = 16; end = len(d) - 24; moved = {}; index = []
def bhdr(t, codec, pre, payload, raw, crc):
    h = b"AMBK" + struct.pack("<BBHIII", t, codec, pre, payload, raw, crc)
    return h + struct.pack("<I", zlib.crc32(h))
while off < end:
    t, codec, pre, payload, raw = struct.unpack_from("<BBHII", d, off + 4)
    p = d[off + 24:off + 24 + payload]
    body = p[pre:]
    if codec == 1: body = zstandard.ZstdDecompressor().decompress(body)
    if t == 4:
        index.append(body)
    else:
        moved[off] = (len(out), pre + len(body))
        np_ = p[:pre] + body
        out += bhdr(t, 0, pre, len(np_), len(body), zlib.crc32(np_)) + np_
    off += 24 + payload
ix_off = len(out)
for k, body in enumerate(index):
    b = bytearray(body); n = struct.unpack_from("<I", b)[0]
    for i in range(n):
        o = 8 + 40 * i
        e = list(struct.unpack_from("<QQIIIIII", b, o))
        e[0], e[6] = moved[e[0]]
        struct.pack_into("<QQIIIIII", b, o, *e)
    out += bhdr(4, 0, 0, len(b), len(b), zlib.crc32(bytes(b))) + b
t = struct.pack("<QI", ix_off, struct.unpack_from("<I", d, len(d) - 16)[0])
out += t + struct.pack("<I", zlib.crc32(t)) + b"AMDSIDX\n"
open(sys.argv[2], "wb").write(out)
