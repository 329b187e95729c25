#!/usr/bin/python3
"""test_pyreader.py: the Python dataset reader (tools/animat_dataset.py) against the C reader on
valid and mutated files.

Usage: test_pyreader.py ANIMAT [READER_DIR]   (ctest: test_pyreader; READER_DIR default tools/)

Records three small datasets with `ANIMAT record --random` (reacher, chunks of 8 rows, episodes of
2 envs interleaving; and one --lossy with chunks of 70 rows, whose filters the writer chooses) and
takes tests/data/golden-v1.rollout (format 1.0), golden-v1.1-split.rollout (1.1: its index in 3
parts, the interrupted flag), golden-v1.2.rollout (1.2: every filter, lossy channels) and
golden-v1.3.rollout (1.3: channels predicted by models, chained, lossy) and golden-v1.4.rollout
(1.4: models with functions reading their own row), and recordings of 4-unit GRU and LSTM policies with
`--compact` (its gates modelled, and stored by their models: a wrong model would lose to the
plain filters), then makes several
hundred mutations: bit flips at many offsets, truncations at many lengths; edited index entries
(episodes that point at another episode's chunks, duplicate or missing entries, swapped chunks,
wrong step, row, flag and env fields) and header fields changed with every checksum recomputed,
so that only the reader's consistency checks can catch them (block types, codecs and sizes; chunk
prefixes; 1.2 filter tables with unknown or valid but different filters and bad references; lossy
flags; channel tables with unknown dtypes, big ndims, absurd shapes, duplicate names; metadata
counts; file versions); the index split into parts, with parts misnumbered, moved, damaged,
dropped or separated by another block, and the trailer's flags set; and damage the recovery must
resynchronise past (a flipped chunk, a broken block header, junk with fake block magics, a chunk
removed, written twice or cut) in files without their index and with it.

Each file is read by the C reader, through `ANIMAT export` (its refusal saying the file is damaged),
`ANIMAT export --allow-damaged` for a damaged file (what can still be read; the episodes lost) and
`ANIMAT verify` (recovered, interrupted, its problem counts, the damage lines), and by the Python
reader (open, every episode, verify, damage), and the verdicts must agree:
  - the Python reader raises nothing but DatasetError;
  - it opens exactly the files the C reader opens;
  - it reads the same episodes (ids, envs, steps, ends) with bit-identical arrays for every
    channel, and loses the same ones;
  - the same damaged / recovered / interrupted verdicts, the same verify problem counts (bad
    chunks, chunks not in the index, damaged byte ranges, dropped chunks) and the same damage
    lines (lost byte ranges and why; dropped chunks; what zstd said excepted).
Prints one line per disagreement and a summary; exits 1 on any disagreement.
"""
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import zstandard

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def put_bhdr(btype, codec, prefix, payload, raw, pcrc):
    h = b"AMBK" + struct.pack("<BBHIII", btype, codec, prefix, payload, raw, pcrc)
    return h + struct.pack("<I", zlib.crc32(h))


class Layout:
    """A dataset cut into its blocks (walking from offset 16), with the index decoded (every
    part), so that blocks can be edited and the file written again with every offset, size and
    CRC right."""

    def __init__(self, data):
        self.head = data[:16]
        # [type, codec, prefix bytes, body bytes, old offset, (old codec, body, stored body)]:
        # a block whose codec and body are not edited is written with its stored bytes again,
        # so that its size (and the index entries' stored sizes) stay right
        self.blocks = []
        off = 16
        end = len(data) - 24
        while off < end:
            t, codec, pre, payload, raw = struct.unpack_from("<BBHII", data, off + 4)
            p = data[off + 24:off + 24 + payload]
            body = p[pre:]
            if codec == 1:
                body = zstandard.ZstdDecompressor().decompress(body)
            self.blocks.append([t, codec, p[:pre], body, off, (codec, body, p[pre:])])
            off += 24 + payload
        assert self.blocks[-1][0] == 4, "the last block must be the index"
        self.entries, parts = [], []
        while self.blocks and self.blocks[-1][0] == 4:
            parts.insert(0, self.blocks.pop()[3])
        for body in parts:
            (n,) = struct.unpack_from("<I", body, 0)
            self.entries += [list(struct.unpack_from("<QQIIIIII", body, 8 + 40 * i)) for i in range(n)]
        # entries per INDEX block when the index is split (format 1.1), else None
        self.part = struct.unpack_from("<I", parts[0], 0)[0] if len(parts) > 1 else None
        self.flags = struct.unpack_from("<I", data, len(data) - 16)[0]  # trailer flags

    def chunk_blocks(self):
        return [b for b in self.blocks if b[0] == 3]

    def write(self, fix_offsets=True, part=-1, part_numbers=None, between=b""):
        """The file; part: entries per INDEX block (default the original's); part_numbers: what
        each part says it is (default 0, 1, ...); between: bytes written between the parts."""
        out = bytearray(self.head)
        moved, grown = {}, {}
        for t, codec, pre, body, old, *orig in self.blocks:
            moved[old] = len(out)
            if orig and orig[0][:2] == (codec, body):
                stored = orig[0][2]
            else:
                stored = zstandard.ZstdCompressor(write_content_size=True).compress(body) if codec == 1 else body
            p = pre + stored
            if orig:  # the payload size's change, for the entries (old stored size kept)
                grown[old] = len(p) - len(pre) - len(orig[0][2])
            out += put_bhdr(t, codec, len(pre), len(p), len(body), zlib.crc32(p)) + p
        index_off = len(out)

        def entry(e):
            if fix_offsets and e[0] in moved:
                e = [moved[e[0]]] + e[1:6] + [(e[6] + grown.get(e[0], 0)) % (1 << 32), e[7]]
            return struct.pack("<QQIIIIII", *e)
        ents = [entry(e) for e in self.entries]
        part = self.part if part == -1 else part
        per = part or max(1, len(ents))
        parts = [ents[i:i + per] for i in range(0, max(1, len(ents)), per)]
        for k, es in enumerate(parts):
            if k:
                out += between
            said = k if part_numbers is None else part_numbers[k]
            body = struct.pack("<II", len(es), said) + b"".join(es)
            stored = zstandard.ZstdCompressor(write_content_size=True).compress(body)
            out += put_bhdr(4, 1, 0, len(stored), len(body), zlib.crc32(stored)) + stored
        t = struct.pack("<QI", index_off, self.flags)
        out += t + struct.pack("<I", zlib.crc32(t)) + b"AMDSIDX\n"
        return bytes(out)


def set_prefix(block, **kw):
    """Rewrites fields of a chunk block's 32-byte prefix."""
    f = dict(zip(("episode", "env", "first", "rows", "flags", "n_init", "reserved"),
                 struct.unpack("<qIIIIII", block[2])))
    f.update(kw)
    block[2] = struct.pack("<qIIIIII", *f.values())


def channel_table(body):
    """[(dtype, ndim, reserved, flags, shape, [name, group, units, labels])], n_init."""
    n, n_init = struct.unpack_from("<II", body, 0)
    o, out = 8, []
    for _ in range(n):
        dt, nd, res, fl = struct.unpack_from("<BBHI", body, o)
        o += 8
        shape = list(struct.unpack_from("<%dI" % nd, body, o))
        o += 4 * nd
        s = []
        for _ in range(4):
            (k,) = struct.unpack_from("<H", body, o)
            s.append(body[o + 2:o + 2 + k])
            o += 2 + k
        out.append([dt, nd, res, fl, shape, s])
    return out, n_init


def put_channel_table(chs, n_init, count=None):
    b = struct.pack("<II", len(chs) if count is None else count, n_init)
    for dt, nd, res, fl, shape, s in chs:
        b += struct.pack("<BBHI", dt, nd, res, fl) + struct.pack("<%dI" % len(shape), *shape)
        for x in s:
            b += struct.pack("<H", len(x)) + x
    return b


def mutations(name, data, rng, edits=True, noise=True, split=True, resync=True):
    """(label, bytes) pairs: the valid file and its mutations: with noise, bit flips and
    truncations; with edits, the consistent-looking edits; with split, the index split into
    parts (format 1.1) and its parts and the trailer flags edited; with resync, damage that the
    recovery must skip (resynchronising) in a file without its index, and in one with it."""
    yield name + ": valid", data
    L = Layout(data)
    if noise:
        yield from noise_mutations(name, data, L, rng)
    if edits:
        yield from edit_mutations(name, data, L)
    if split:
        yield from split_mutations(name, data, L)
    if resync:
        yield from resync_mutations(name, data, L)


def blocks_of(data):
    """[(offset, type)] of the blocks of a file that has its trailer."""
    out, off, end = [], 16, len(data) - 24
    while off < end:
        out.append((off, data[off + 4]))
        off += 24 + struct.unpack_from("<I", data, off + 8)[0]
    return out


def set_trailer(data, offset=None, flags=None):
    """data with the trailer's index offset and/or flags replaced (its CRC recomputed)."""
    m = bytearray(data)
    n = len(m)
    if offset is not None:
        struct.pack_into("<Q", m, n - 24, offset)
    if flags is not None:
        struct.pack_into("<I", m, n - 16, flags)
    struct.pack_into("<I", m, n - 12, zlib.crc32(m[n - 24:n - 12]))
    return bytes(m)


def split_mutations(name, data, L):
    """The index in several INDEX blocks (format 1.1) and the trailer flags."""
    part = L.part or 2  # a file with one index block is split here in parts of 2 entries
    n_parts = (len(L.entries) + part - 1) // part

    def lay():
        return Layout(data)
    if not L.part:
        for k in (1, 3):
            yield "%s: index split in parts of %d entries" % (name, k), lay().write(part=k)
    split = lay().write(part=part)
    yield "%s: index in %d parts, written again" % (name, n_parts), split
    idx = [o for o, t in blocks_of(split) if t == 4]
    if n_parts > 1:
        yield ("%s: index parts numbered 1, 0, ..." % name,
               lay().write(part=part, part_numbers=[1, 0] + list(range(2, n_parts))))
        yield ("%s: index part %d says it is part %d" % (name, n_parts - 1, n_parts),
               lay().write(part=part, part_numbers=list(range(n_parts - 1)) + [n_parts]))
        yield ("%s: every index part says it is part 0" % name,
               lay().write(part=part, part_numbers=[0] * n_parts))
        # an unknown block between two parts: the parts no longer run up to the trailer
        yield ("%s: a block between two index parts" % name,
               lay().write(part=part, between=put_bhdr(42, 0, 0, 6, 6, zlib.crc32(b"future")) + b"future"))
        yield "%s: trailer points at index part 1" % name, set_trailer(split, offset=idx[1])
        yield "%s: trailer points at the last index part" % name, set_trailer(split, offset=idx[-1])

        def last_part_dropped(l):
            del l.entries[(n_parts - 1) * part:]
        lay2 = lay()
        last_part_dropped(lay2)
        yield "%s: the last index part dropped" % name, lay2.write(part=part)
        # the last part cut out of the file, the trailer moved up to the part before it
        yield ("%s: the last index part's block removed" % name,
               split[:idx[-1]] + split[-24:])
        m = bytearray(split)
        struct.pack_into("<H", m, 10, 0)
        yield "%s: split index, file header minor version 0" % name, bytes(m)
    for k, o in enumerate(idx):  # each part's header and payload damaged, the file cut in it
        size = struct.unpack_from("<I", split, o + 8)[0]
        for at, what in ((o + 1, "magic"), (o + 9, "payload size"), (o + 24 + size // 2, "payload")):
            m = bytearray(split)
            m[at] ^= 0x04
            yield "%s: index part %d: %s byte %d flipped" % (name, k, what, at), bytes(m)
        yield "%s: truncated in index part %d" % (name, k), split[:o + 24 + size // 2]
    for label, f in (("interrupted", 1), ("interrupted cleared", 0), ("0xfffffffe", 0xFFFFFFFE),
                     ("0xffffffff", 0xFFFFFFFF)):
        yield "%s: trailer flags %s (CRC recomputed)" % (name, label), set_trailer(split, flags=f)


def resync_mutations(name, data, L):
    """Damage the recovery must resynchronise past: in the file cut before its index (as a
    killed writer leaves it) and, for some, in the file with its index."""
    blocks = blocks_of(data)
    chunks = [o for o, t in blocks if t == 3]
    index_off = struct.unpack_from("<Q", data, len(data) - 24)[0]
    cut = data[:index_off]
    yield "%s: index and trailer cut off" % name, cut
    ks = sorted({0, len(chunks) // 2, len(chunks) - 1})
    ends = {o: o + 24 + struct.unpack_from("<I", data, o + 8)[0] for o in chunks}

    def flip(d, at):
        return d[:at] + bytes([d[at] ^ 0x10]) + d[at + 1:]
    junk = b"\x00junk AMBK AMBK" + bytes(range(40)) + b"AMBK" + bytes(8)
    for k in ks:
        o = chunks[k]
        mid = (o + 24 + ends[o]) // 2
        for base, where in ((cut, "no index"), (data, "indexed")):
            yield "%s (%s): chunk %d: payload byte %d flipped" % (name, where, k, mid), flip(base, mid)
            yield "%s (%s): chunk %d: block magic flipped" % (name, where, k), flip(base, o + 1)
        yield "%s (no index): chunk %d: payload size field flipped" % (name, k), flip(cut, o + 9)
        yield ("%s (no index): chunk %d: %d junk bytes (with fake magics) before it" % (name, k, len(junk)),
               cut[:o] + junk + cut[o:])
        yield "%s (no index): chunk %d removed" % (name, k), cut[:o] + cut[ends[o]:]
        yield "%s (no index): chunk %d written twice" % (name, k), cut[:ends[o]] + cut[o:]
        yield "%s (no index): cut in chunk %d, another chunk after it" % (name, k), cut[:mid] + cut[o:ends[o]]
        yield ("%s (indexed): chunk %d: block header replaced by junk" % (name, k),
               data[:o] + junk[:24] + data[o + 24:])
    # the index lost (a bad trailer) with a flipped chunk too: two kinds of damage at once
    o = chunks[ks[1]]
    yield ("%s: trailer CRC and chunk %d both flipped" % (name, ks[1]),
           flip(flip(data, len(data) - 12), (o + ends[o]) // 2))


def noise_mutations(name, data, L, rng):
    n = len(data)
    # bit flips: in the file header, in the fields of the first blocks' headers, in the trailer,
    # then at random offsets
    offs = {0, 7, 8, 9, 11, 12, n - 1, n - 8, n - 12, n - 16, n - 24}
    for b in L.blocks[:4]:
        offs |= {b[4] + k for k in (0, 4, 5, 6, 8, 12, 16, 20, 24, 40)}
    offs |= set(rng.sample(range(n), min(n, 15)))
    for o in sorted(x for x in offs if 0 <= x < n):
        bit = rng.randrange(8)
        yield "%s: bit %d of byte %d flipped" % (name, bit, o), data[:o] + bytes([data[o] ^ (1 << bit)]) + data[o + 1:]
    # truncations: at block boundaries (+-1) and at spread lengths
    lens = {0, 7, 16, 17, 40, n - 1, n - 23, n - 24, n - 25}
    for b in L.blocks[:4] + L.blocks[-1:]:
        lens |= {b[4] - 1, b[4], b[4] + 1, b[4] + 24}
    lens |= set(rng.sample(range(n), min(n, 10)))
    for k in sorted(x for x in lens if 0 <= x < n):
        yield "%s: truncated to %d bytes" % (name, k), data[:k]


def filter_mutations(edit, chs):
    """1.2: a chunk's filter table edited (the body recompressed, every checksum right): unknown
    predictors and layouts, bad references, and valid filters that decode the stored bytes into
    other values (both readers must agree on them)."""
    n = len(chs)

    def ft(k, label, **kw):
        def f(l):
            b = l.chunk_blocks()[1]
            body = bytearray(b[3])
            pred, lay, ref = struct.unpack_from("<BBH", body, 4 * k)
            f = dict(pred=pred, lay=lay, ref=ref)
            f.update(kw)
            struct.pack_into("<BBH", body, 4 * k, f["pred"], f["lay"], f["ref"])
            b[3] = bytes(body)
        return edit("chunk 1: filter of channel %d: %s" % (k, label), f)
    yield ft(0, "predictor 9", pred=9)
    yield ft(0, "layout 2", lay=2)
    yield ft(0, "ref to itself", pred=4, ref=0)
    yield ft(1, "ref 0 without the ref predictor", ref=1)
    yield ft(n - 1, "ref to channel 0", pred=4, ref=0)
    for p in range(4):
        yield ft(0, "predictor %d" % p, pred=p)
        yield ft(n - 1, "predictor %d" % p, pred=p)
    yield ft(0, "layout 1", lay=1)
    yield ft(n - 1, "layout flipped", lay=1)
    yield ft(0, "predictor 5 (model)", pred=5)
    yield ft(n - 1, "predictor 5 (model)", pred=5)


def model_mutations(edit, L):
    """1.3: the MODELS block edited (recompressed, every checksum right): refused structures
    (a model of its own channel, an element out of range, a cycle, a reserved field set, bytes
    cut or added) and valid models that predict other values (both readers must agree)."""
    k = next((i for i, b in enumerate(L.blocks) if b[0] == 5), None)
    if k is None:
        return
    body = L.blocks[k][3]
    (nm,) = struct.unpack_from("<I", body, 0)
    first = struct.unpack_from("<HHI", body, 4) if nm else None

    def mb(label, fn):
        def f(l):
            l.blocks[k][3] = bytes(fn(bytearray(l.blocks[k][3])))
        return edit("models block: " + label, f)
    yield mb("cut by 8 bytes", lambda b: b[:-8])
    yield mb("4 bytes added", lambda b: b + b"\0\0\0\0")
    yield mb("count + 1", lambda b: (struct.pack_into("<I", b, 0, nm + 1), b)[1])
    if not first or not first[2]:
        return
    e0 = 12  # the first model's first entry; its first term after it
    ch, _, ne = first
    yield mb("first model's channel 0", lambda b: (struct.pack_into("<H", b, 4, 0), b)[1])
    yield mb("reserved field set", lambda b: (struct.pack_into("<H", b, e0 + 6, 1), b)[1])
    yield mb("element out of range", lambda b: (struct.pack_into("<I", b, e0, 1 << 20), b)[1])
    yield mb("bias changed", lambda b: (struct.pack_into("<d", b, e0 + 8, 1.5), b)[1])
    yield mb("entry function 3 (unknown)", lambda b: (struct.pack_into("<H", b, e0 + 6, 3), b)[1])
    yield mb("entry function tanh", lambda b: (struct.pack_into("<H", b, e0 + 6, 2), b)[1])
    yield mb("hi below lo", lambda b: (struct.pack_into("<dd", b, e0 + 16, 1.0, -1.0), b)[1])
    # signed zeros: every reader broadcasts -0.0 as -0.0 (not 0.0 + -0.0)
    yield mb("clamped to -0.0", lambda b: (struct.pack_into("<dd", b, e0 + 16, -0.0, -0.0), b)[1])
    (nt,) = struct.unpack_from("<H", body, e0 + 4)
    if nt:
        t0 = e0 + 32  # a term: u16 src, u8 lag, u8 lag2, u32 elem, u16 src2, u16 0, u32 elem2, f64
        yield mb("term reads its own channel's same row",
                 lambda b: (struct.pack_into("<HB", b, t0, ch, 0), b)[1])
        yield mb("term reads its own channel's row before",
                 lambda b: (struct.pack_into("<HB", b, t0, ch, 1), b)[1])
        yield mb("term lag 2", lambda b: (struct.pack_into("<B", b, t0 + 2, 2), b)[1])
        yield mb("term source element out of range", lambda b: (struct.pack_into("<I", b, t0 + 4, 1 << 20), b)[1])
        yield mb("second factor's lag without a second factor", lambda b: (struct.pack_into("<B", b, t0 + 3, 1), b)[1])
        yield mb("second factor: channel 1, element 0",
                 lambda b: (struct.pack_into("<H", b, t0 + 8, 1), struct.pack_into("<I", b, t0 + 12, 0), b)[2])
        yield mb("second factor out of range", lambda b: (struct.pack_into("<H", b, t0 + 8, 999), b)[1])
        yield mb("term reserved field set", lambda b: (struct.pack_into("<H", b, t0 + 10, 1), b)[1])
        yield mb("coefficient NaN", lambda b: (struct.pack_into("<d", b, t0 + 16, float("nan")), b)[1])
        yield mb("bias and coefficient -0.0", lambda b: (struct.pack_into("<d", b, e0 + 8, -0.0),
                                                           struct.pack_into("<d", b, t0 + 16, -0.0), b)[2])
        yield mb("term lag flipped", lambda b: (struct.pack_into("<B", b, t0 + 2, 1 - b[t0 + 2]), b)[1])
        if nm > 1:  # the first model reads the second's channel (golden-v1.3: a cycle)
            o = 12
            for _ in range(ne):  # skip the first model's entries and terms
                (n_t,) = struct.unpack_from("<H", body, o + 4)
                o += 32 + 24 * n_t
            (ch2,) = struct.unpack_from("<H", body, o)
            yield mb("first model reads the second model's channel", lambda b: (struct.pack_into("<H", b, t0, ch2), b)[1])


def edit_mutations(name, data, L):
    n = len(data)

    def edit(label, fn, fix_offsets=True):
        lay = Layout(data)
        fn(lay)
        return "%s: %s" % (name, label), lay.write(fix_offsets)

    eps = sorted({e[1] for e in L.entries})
    by_ep = {ep: [i for i, e in enumerate(L.entries) if e[1] == ep] for ep in eps}
    ep0, ep_m = eps[0], max(eps, key=lambda ep: len(by_ep[ep]))  # the one with most chunks

    # -- the index, rewritten with its checksums right --
    yield edit("index rewritten unchanged", lambda l: None)

    def copies_of_first(l):  # every episode's entries point at episode 0's chunks
        first = [e for e in l.entries if e[1] == ep0]
        for ep in eps[1:]:
            for k, i in enumerate(by_ep[ep]):
                src = first[min(k, len(first) - 1)]
                l.entries[i][0], l.entries[i][2:] = src[0], src[2:]
    yield edit("every episode's entries point at episode %d's chunks" % ep0, copies_of_first)

    def dup_episode(l):  # the first episode listed twice: its entries copied under a new id
        new = max(eps) + 1
        l.entries += [[e[0], new] + e[2:] for e in l.entries if e[1] == ep0]
    yield edit("episode %d's entries duplicated under a new id" % ep0, dup_episode)
    yield edit("an entry listed twice", lambda l: l.entries.insert(1, list(l.entries[0])))
    i0, i1, i2 = by_ep[ep_m][0], by_ep[ep_m][1 % len(by_ep[ep_m])], by_ep[ep_m][-1]

    def swap_offsets(l):
        l.entries[i1][0], l.entries[i2][0] = l.entries[i2][0], l.entries[i1][0]
    yield edit("two chunks of episode %d swapped (offsets)" % ep_m, swap_offsets)

    def swap_steps(l):
        l.entries[i1][3], l.entries[i2][3] = l.entries[i2][3], l.entries[i1][3]
    yield edit("two chunks of episode %d swapped (first steps)" % ep_m, swap_steps)
    yield edit("entries in reverse order", lambda l: l.entries.reverse())
    yield edit("a middle chunk's entry removed (gap)", lambda l: l.entries.pop(i1))
    yield edit("a first chunk's entry removed", lambda l: l.entries.pop(i0))
    yield edit("the last entry removed", lambda l: l.entries.pop())
    yield edit("all entries removed", lambda l: l.entries.clear())
    for field, col, deltas in (("offset", 0, (1, -1, 24)), ("episode", 1, (1, 1 << 63)),
                               ("env", 2, (1,)), ("first step", 3, (1, -1 & 0xFFFFFFFF)),
                               ("rows", 4, (1, -1 & 0xFFFFFFFF, 1 << 20)), ("flags", 5, (1, 2, 4, 16)),
                               ("stored size", 6, (1 << 30,)), ("body size", 7, (1,))):
        for d in deltas:
            def f(l, col=col, d=d):
                e = l.entries[i1]
                e[col] = (e[col] + d) % (1 << (64 if col < 2 else 32)) if col != 5 else e[col] ^ d
            yield edit("entry %d: %s changed by %d" % (i1, field, d), f, fix_offsets=col != 0)
    yield edit("entry 0 points at the metadata block", lambda l: l.entries[0].__setitem__(0, 16), fix_offsets=False)

    def steps_shifted(l):  # episode's steps all +1: consistent with each other, not with chunks
        for i in by_ep[ep_m]:
            l.entries[i][3] += 1
    yield edit("episode %d's first steps all +1" % ep_m, steps_shifted)

    def rows_moved(l):  # rows moved from one chunk to the next: the total stays right
        l.entries[i0][4] -= 1
        l.entries[i1][4] += 1
        l.entries[i1][3] -= 1
    yield edit("a row moved between two entries of episode %d" % ep_m, rows_moved)

    def renumber(l):  # episode renumbered in the index only
        for i in by_ep[ep_m]:
            l.entries[i][1] = 1000
    yield edit("episode %d renumbered in the index only" % ep_m, renumber)

    # -- chunk prefixes changed (payload and header CRCs recomputed) --
    def chunk_edit(k, **kw):
        def f(l):
            set_prefix(l.chunk_blocks()[k], **kw)
        return f
    def rows_plus_one(l):
        b = l.chunk_blocks()[1]
        set_prefix(b, rows=struct.unpack_from("<I", b[2], 16)[0] + 1)
    yield edit("chunk 1: prefix rows +1", rows_plus_one)
    yield edit("chunk 1: prefix episode 77", chunk_edit(1, episode=77))
    yield edit("chunk 1: prefix episode -1", chunk_edit(1, episode=-1))
    yield edit("chunk 1: prefix env 9", chunk_edit(1, env=9))
    yield edit("chunk 1: prefix first step 3", chunk_edit(1, first=3))
    yield edit("chunk 0: prefix flags without FIRST", chunk_edit(0, flags=0, n_init=0))
    yield edit("chunk 0: prefix n_init 0", chunk_edit(0, n_init=0))

    def chunk_body_shorter(l):
        b = l.chunk_blocks()[1]
        b[3] = b[3][:-1]
    yield edit("chunk 1: body one byte short", chunk_body_shorter)

    def chunk_type(l, t):
        l.chunk_blocks()[1][0] = t
    yield edit("chunk 1: block type 9 (unknown)", lambda l: chunk_type(l, 9))
    yield edit("chunk 1: block type 1 (metadata)", lambda l: chunk_type(l, 1))

    def chunk_raw(l):
        l.chunk_blocks()[1][1] = 0
    yield edit("chunk 1: stored raw (codec 0)", chunk_raw)

    # -- channel table and metadata re-encoded (every offset after them moves) --
    chs, n_init = channel_table(L.blocks[1][3])

    def ct(label, fn, count=None):
        def f(l):
            c, ni = channel_table(l.blocks[1][3])
            ni = fn(c, ni)
            l.blocks[1][3] = put_channel_table(c, ni, count)
        return edit("channel table: " + label, f)
    yield ct("unchanged", lambda c, ni: ni)
    yield ct("dtype 7", lambda c, ni: (c[0].__setitem__(0, 7), ni)[1])
    yield ct("dtype 0", lambda c, ni: (c[1].__setitem__(0, 0), ni)[1])
    yield ct("ndim 5", lambda c, ni: (c[1].__setitem__(1, 5), c[1][4].extend([1] * (5 - len(c[1][4]))), ni)[2])
    yield ct("shape 2^20 x 2^20", lambda c, ni: (c[1].__setitem__(1, 2), c[1].__setitem__(4, [1 << 20, 1 << 20]), ni)[2])
    yield ct("rows of 20 MB", lambda c, ni: (c[1].__setitem__(1, 1), c[1].__setitem__(4, [5 << 20]), ni)[2])
    yield ct("duplicate channel name", lambda c, ni: (c[1][5].__setitem__(0, c[0][5][0]), ni)[1])
    yield ct("channel name not UTF-8", lambda c, ni: (c[1][5].__setitem__(0, b"\xff\xfename"), ni)[1])
    yield ct("n_init + 1", lambda c, ni: ni + 1)
    yield ct("n_init 2^25", lambda c, ni: 1 << 25)
    yield ct("a channel dropped", lambda c, ni: (c.pop(), ni)[1])
    yield ct("count 0", lambda c, ni: ni, count=0)
    yield ct("count + 1", lambda c, ni: ni, count=len(chs) + 1)
    yield ct("count 5000", lambda c, ni: ni, count=5000)
    yield ct("channel 0 delta flag toggled", lambda c, ni: (c[0].__setitem__(3, c[0][3] ^ 1), ni)[1])
    ints = [k for k, c in enumerate(chs) if c[0] not in (1, 2)]
    floats = [k for k, c in enumerate(chs) if c[0] in (1, 2)]
    if ints:
        yield ct("lossy flag on an integer channel", lambda c, ni: (c[ints[0]].__setitem__(3, c[ints[0]][3] | 2), ni)[1])
    if floats:  # a 1.0/1.1 file: refused; a 1.2 file: the chunks no longer have the sizes it says
        yield ct("lossy flag toggled on a float channel",
                 lambda c, ni: (c[floats[0]].__setitem__(3, c[floats[0]][3] ^ 2), ni)[1])
    if struct.unpack_from("<H", data, 10)[0] >= 2:
        yield from filter_mutations(edit, chs)
    if struct.unpack_from("<H", data, 10)[0] >= 3:
        yield from model_mutations(edit, L)

    def meta(label, fn):
        def f(l):
            l.blocks[0][3] = fn(l.blocks[0][3])
        return edit("metadata: " + label, f)
    yield meta("count + 1", lambda b: struct.pack("<I", struct.unpack_from("<I", b)[0] + 1) + b[4:])
    yield meta("count 2^20", lambda b: struct.pack("<I", 1 << 20) + b[4:])
    yield meta("count 0", lambda b: struct.pack("<I", 0) + b[4:])
    yield meta("last byte cut", lambda b: b[:-1])
    yield meta("a key not UTF-8", lambda b: b[:6] + b"\xff" + b[7:])
    yield meta("empty", lambda b: b"")

    def swap_first_blocks(l):
        l.blocks[0], l.blocks[1] = l.blocks[1], l.blocks[0]
    yield edit("metadata and channel table swapped", swap_first_blocks)

    def extra_block(l):  # an unknown block type between chunks: readers skip it
        l.blocks.insert(3, [42, 0, b"", b"future", -1])
    yield edit("unknown block type inserted", extra_block)
    # -- block header fields changed, header CRC recomputed --
    for off in [b[4] for b in L.blocks[:3]] + [struct.unpack_from("<Q", data, n - 24)[0]]:
        for field, pos, fmt, vals in (("type", 4, "<B", (3, 9)), ("codec", 5, "<B", (0, 2)),
                                      ("prefix", 6, "<H", (32,)), ("payload", 8, "<I", (1, 1 << 27)),
                                      ("raw", 12, "<I", (1,))):
            (cur,) = struct.unpack_from(fmt, data, off + pos)
            for v in vals:
                v = cur + 1 if v == 1 else v
                if v == cur:
                    continue
                m = bytearray(data)
                struct.pack_into(fmt, m, off + pos, v)
                struct.pack_into("<I", m, off + 20, zlib.crc32(m[off:off + 20]))
                yield "%s: block at %d: %s %d (header CRC recomputed)" % (name, off, field, v), bytes(m)
    # -- trailer and file header fields --
    for label, v in (("index offset 0", 0), ("index offset + 1", None), ("index offset 2^60", 1 << 60)):
        m = bytearray(data)
        (cur,) = struct.unpack_from("<Q", m, n - 24)
        struct.pack_into("<Q", m, n - 24, cur + 1 if v is None else v)
        struct.pack_into("<I", m, n - 12, zlib.crc32(m[n - 24:n - 12]))
        yield "%s: trailer %s (CRC recomputed)" % (name, label), bytes(m)
    for label, pos, v in (("major version 0", 8, 0), ("major version 2", 8, 2),
                          ("minor version 9", 10, 9), ("flags 0xffff", 12, 0xFFFF)):
        m = bytearray(data)
        struct.pack_into("<H", m, pos, v)
        yield "%s: file header %s" % (name, label), bytes(m)
    yield name + ": two copies concatenated", data + data
    yield name + ": 100 zero bytes appended", data + bytes(100)


PROBLEMS = re.compile(r"(\d+) problem\(s\): (\d+) bad chunk\(s\), (\d+) chunk\(s\) not in the index, "
                      r"(\d+) damaged byte range\(s\), (\d+) chunk\(s\) dropped")


def problems(text):
    """(bad chunks, unindexed chunks, damaged ranges, dropped chunks) of a verify message."""
    m = PROBLEMS.search(text)
    return tuple(int(x) for x in m.groups()[1:]) if m else (0, 0, 0, 0)


def lost_line(line):
    """A damage line without what zstd said (its wording differs between the two libraries)."""
    return line.split(": zstd: ")[0]


class Verdict:
    """What a reader made of a file. opened: it opened the file (else error says why); then
    eps: {episode id: (env, steps, end, {channel: array})} of the episodes it read, lost: the ids
    of those it could not read, damaged: recovered or an episode lost, recovered, interrupted,
    problems: verify's counts, lines: the damage lines (the C reader keeps the first 32)."""
    opened, error, eps, lost = False, "", None, ()
    damaged = recovered = interrupted = False
    problems, lines, verify_failed = (0, 0, 0, 0), [], False


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, errors="replace")


def read_export(out):
    eps = {}
    with open(os.path.join(out, "episodes.csv")) as f:
        for line in f.read().split("\n")[1:]:
            if line:
                i, env, steps, end = line.split(",")
                d = os.path.join(out, "episode_%06d" % int(i))
                eps[int(i)] = (int(env) & 0xFFFFFFFF, int(steps), end,
                               {fn[:-4]: np.load(os.path.join(d, fn)) for fn in os.listdir(d)})
    return eps


def c_verdict(animat, path, tmp):
    """The C reader's verdict: `export` (its refusal says the file is damaged), then, for a
    damaged file, `export --allow-damaged` (what can still be read, and what was lost), and
    `verify` (recovered, interrupted, its problem counts and the damage lines)."""
    v = Verdict()
    out = os.path.join(tmp, "export")
    shutil.rmtree(out, ignore_errors=True)
    p = run([animat, "export", path, "--out", out])
    msg = (p.stderr or p.stdout).strip()
    v.damaged = p.returncode != 0 and "--allow-damaged" in msg
    if p.returncode and not v.damaged and "holds no episodes" not in msg:
        v.error = msg  # the file cannot be opened
        return v
    v.opened, v.lost = True, []
    if v.damaged:
        p = run([animat, "export", path, "--out", out, "--allow-damaged"])
        v.lost = sorted(int(x) for x in re.findall(r"^export: lost: episode (\d+) ", p.stderr, re.M))
        if p.returncode and "holds no episodes" not in p.stderr:
            v.error = "export --allow-damaged failed: " + p.stderr.strip()
            return v
    v.eps = read_export(out) if p.returncode == 0 else {}
    r = run([animat, "verify", path])
    v.recovered = "DAMAGED: index missing or damaged" in r.stdout
    v.interrupted = "the recording was interrupted" in r.stdout
    v.problems = problems(r.stdout)
    v.lines = [lost_line(x[len("  lost: "):]) for x in r.stdout.split("\n") if x.startswith("  lost: ")]
    v.verify_failed = r.returncode != 0
    return v


def py_verdict(mod, path):
    """The Python reader's verdict (as c_verdict's); raises what the reader raises other than its
    DatasetError."""
    v = Verdict()
    try:
        ds = mod.Dataset(path)
    except mod.DatasetError as e:
        v.error = str(e)
        return v
    v.opened, v.eps, v.lost = True, {}, []
    for i, e in enumerate(ds.episodes):
        try:
            arrays = ds.episode(i)
        except mod.DatasetError:
            v.lost.append(e.id)
            continue
        end = "incomplete" if not e.complete else "terminated" if e.terminated else "truncated"
        v.eps[e.id] = (e.env, e.steps, end, {k.replace("/", "."): a for k, a in arrays.items()})
    v.recovered, v.interrupted = ds.recovered, ds.interrupted
    v.damaged = ds.recovered or bool(v.lost)
    v.lost.sort()
    try:
        ds.verify()
    except mod.DatasetError as e:
        v.problems = problems(str(e))
        v.verify_failed = True
        if v.problems == (0, 0, 0, 0):
            raise AssertionError("verify: a message without its counts: %s" % e) from None
    v.verify_failed = v.verify_failed or ds.recovered
    v.lines = [lost_line(x) for x in ds.damage.lines()][:32]
    return v


def judge(c, p):
    """None when the two verdicts agree, else what differs."""
    if p.opened is None:
        return "the Python reader raised %s" % p.error
    if not c.opened or not p.opened:
        if c.opened != p.opened:
            return "opened: C %s (%s), Python %s (%s)" % (c.opened, c.error, p.opened, p.error)
        return None
    if c.error:
        return "C: " + c.error
    for what in ("damaged", "recovered", "interrupted", "problems", "verify_failed", "lost", "lines"):
        a, b = getattr(c, what), getattr(p, what)
        if a != b:
            return "%s: C %s, Python %s" % (what, a, b)
    if set(c.eps) != set(p.eps):
        return "episodes: C %s, Python %s" % (sorted(c.eps), sorted(p.eps))
    for i in c.eps:
        ce, pe = c.eps[i], p.eps[i]
        if ce[:3] != pe[:3]:
            return "episode %d: (env, steps, end) C %s, Python %s" % (i, ce[:3], pe[:3])
        if set(ce[3]) != set(pe[3]):
            return "episode %d: channels C %s, Python %s" % (i, sorted(ce[3]), sorted(pe[3]))
        for k, a in ce[3].items():
            b = pe[3][k]
            if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
                return "episode %d channel %s: arrays differ" % (i, k)
    return None


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    animat = os.path.abspath(argv[1])
    sys.path.insert(0, argv[2] if len(argv) > 2 else os.path.join(ROOT, "tools"))
    import animat_dataset as mod
    assert issubclass(mod.DatasetError, ValueError)
    rng = random.Random(12)
    tmp = tempfile.mkdtemp(prefix="test_pyreader.")
    try:
        cases = []
        for label, args in (("reacher", ["--episodes", "3", "--envs", "2", "--chunk-rows", "8"]),
                            ("reacher-1env", ["--episodes", "2", "--envs", "1", "--chunk-rows", "7"]),
                            # chunks of 70 rows: the writer chooses the filters; lossy obs
                            ("reacher-lossy", ["--episodes", "1", "--envs", "1", "--chunk-rows", "70",
                                               "--lossy", "--task-param", "episode_steps=90"])):
            path = os.path.join(tmp, label + ".rollout")
            subprocess.run([animat, "record", "--random", "--task", "reacher", "--threads", "1", "--quiet",
                            "--task-param", "episode_steps=20", "--out", path] + args,
                           check=True, capture_output=True)
            with open(path, "rb") as f:
                one = label == "reacher"
                cases += mutations(label, f.read(), rng, noise=one, split=one, resync=one,
                                   edits=label != "reacher-1env")
        # format 1.0, and 1.1 with its index in 3 parts and the interrupted flag (the C writer
        # splits an index only through a test hook, am_ds_set_index_part)
        for label, kw in (("golden-v1", dict(noise=False, edits=False, split=False)),
                          ("golden-v1.1-split", dict(noise=False, resync=False)),
                          ("golden-v1.2", dict(noise=False, split=False, resync=False)),
                          ("golden-v1.3", dict(noise=False, split=False, resync=False)),
                          ("golden-v1.4", dict(noise=False, split=False, resync=False))):
            with open(os.path.join(ROOT, "tests", "data", label + ".rollout"), "rb") as f:
                cases += mutations(label, f.read(), rng, **kw)
        # GRU and LSTM policies' gates modelled (--compact), from the fuzz corpus's 4-unit checkpoints
        for cell in ("gru", "lstm"):
            path = os.path.join(tmp, "compact-%s.rollout" % cell)
            subprocess.run([animat, "record", os.path.join(ROOT, "tests", "fuzz", "corpus", "ckpt", "seed-reacher-%s.ckpt" % cell),
                            "--compact", "--episodes", "2", "--envs", "2", "--chunk-rows", "64", "--threads", "1",
                            "--quiet", "--task-param", "episode_steps=80", "--out", path], check=True, capture_output=True)
            # the gate models predict well enough that the writer keeps them (a wrong weight or
            # input mapping would lose to the plain filters)
            shown = subprocess.run([animat, "inspect", path], check=True, capture_output=True, text=True).stdout
            for gates in ("core/gates", "motor/gates"):
                line = next(ln for ln in shown.splitlines() if ln.split()[:1] == [gates])
                if " model/" not in line:
                    print("FAIL: %s of a --compact %s recording is not stored by its model: %s" % (gates, cell, line))
                    return 1
            with open(path, "rb") as f:
                cases += mutations("reacher-compact-" + cell, f.read(), rng, noise=False, split=False, resync=False)

        def work(k):
            d = os.path.join(tmp, "w%d" % k)
            os.mkdir(d)
            path = os.path.join(d, "case.rollout")
            with open(path, "wb") as f:
                f.write(cases[k][1])
            c = c_verdict(animat, path, d)
            try:
                p = py_verdict(mod, path)
            except Exception as e:  # noqa: BLE001: anything but DatasetError is a failure
                p = Verdict()
                p.opened, p.error = None, "%s: %s" % (type(e).__name__, e)
            shutil.rmtree(d, ignore_errors=True)
            return c, p

        stats = dict(cases=len(cases), read=0, damaged=0, recovered=0, refused=0, bad=0)
        verbose = os.environ.get("TEST_PYREADER_VERBOSE")
        with ThreadPoolExecutor(max_workers=2) as pool:
            for (label, _), (c, p) in zip(cases, pool.map(work, range(len(cases)))):
                why = judge(c, p)
                if why:
                    stats["bad"] += 1
                    print("MISMATCH %s: %s" % (label, why))
                elif c.opened:
                    stats["read"] += 1
                    stats["damaged"] += c.damaged
                    stats["recovered"] += c.recovered
                else:
                    stats["refused"] += 1
                if verbose:
                    print("%s: C: %s | Python: %s" % (label, c.error or "%d episodes%s" % (
                        len(c.eps), ", damaged" if c.damaged else ""), p.error or "%d episodes" % len(p.eps)))
        print("test_pyreader: %(cases)d files: %(read)d read alike by both readers (%(damaged)d of "
              "them damaged, %(recovered)d recovered without their index), %(refused)d refused by "
              "both, %(bad)d disagreements" % stats)
        return 1 if stats["bad"] or not stats["read"] or not stats["damaged"] or not stats["refused"] else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
