#!/usr/bin/python3
"""animat_dataset.py: read animat datasets (.rollout files) into NumPy arrays.

An independent reader of the format in docs/dataset-format.md, versions 1.0 to 1.4 (numpy and
zstandard, both in Debian: apt install python3-numpy python3-zstandard) that follows the C reader
(sim/dataset_read.c) exactly: it checks magic and version, every block header and payload CRC,
block sizes against the file's length and the format's limits before anything is allocated, zstd
frame sizes, the metadata and channel table (known dtypes, ndim <= 4, shapes within the row limit,
unique channel names), the trailer and every index part (part numbers 0, 1, ... running
consecutively up to the trailer; entries in file order, between the channel table and the index),
the index entries against the chunks they point at (episode, env, first step, rows, flags, body
size) and each episode's continuity (FIRST chunk at step 0, each next chunk where the previous
ended, nothing after LAST: with the index, a gap is an error). The trailer's INTERRUPTED flag is
`interrupted`. A file without a usable index is recovered as the C reader recovers it
(`recovered`, `note`): every block after the channel table is walked, a bad block with a good
header is skipped by its size, at a bad header the walk resynchronises on the next valid block
header, and `damage` lists the byte ranges lost and the chunks dropped because their episode lost
an earlier chunk (am_ds_get_damage). verify() is am_ds_verify: every chunk, and the index against
the blocks in the file. Every problem raises DatasetError (a ValueError) naming the file and the
field or offset; no other exception escapes for a bad file. 1.2's filters (predictors none, sub,
subz, xor, ref; byte or bit layouts) and lossy channels (Channel.lossy: f32 stored as float16, f64
as float32, returned widened) are decoded as the C reader decodes them.

The file is read as needed, not loaded: opening reads the header, metadata, channel table and
index (or, to recover, walks the blocks one at a time); episode(), read(), chunks() and steps()
read one chunk at a time, so memory is bounded by what they return (an episode), by one chunk
(chunks()), or by one chunk plus one step (steps()).

    from animat_dataset import Dataset, DatasetError
    with Dataset("a.rollout") as ds:
        ds.meta["task.name"], [c.name for c in ds.channels], len(ds.episodes)
        ep = ds.episode(0)              # dict: channel name -> array (steps, *shape)
        qpos = ds.read(0, "qpos")       # one channel of the episode with index 0
        for i, first, rows in ds.chunks(["qpos"]):  # chunk by chunk: episode index, first step,
            ...                                     # {name: array (rows in the chunk, *shape)}
        for t, row in ds.steps(0, ["qpos", "action"]):  # step by step, one chunk in memory
            ...
        ds.recovered, ds.damage.lines(), ds.interrupted
        tr = ds.trials()                # the trial table: {column: array} (runs `animat trials`)
    meta = export_meta("a_npy")         # an export directory's meta.json, its trial table too

Command line: python3 animat_dataset.py FILE [--sum CHANNEL]  (verifies the file, prints a summary;
exit status 1 with the error on a bad or recovered file, listing what a recovery lost; used by the
tests)
"""
import math
import os
import struct
import sys
import zlib

import numpy as np
import zstandard

FILE_MAGIC = b"\x89AMDS\r\n\x1a"
BLOCK_MAGIC = b"AMBK"
TRAILER_MAGIC = b"AMDSIDX\n"
FILE_HDR, BLOCK_HDR, TRAILER, CHUNK_PREFIX, INDEX_ENTRY = 16, 24, 24, 32, 40
META, CHANNELS, CHUNK, INDEX, MODELS = 1, 2, 3, 4, 5
BLOCK_NAMES = {META: "metadata", CHANNELS: "channel table", CHUNK: "chunk", INDEX: "index",
               MODELS: "models"}
CODEC_RAW, CODEC_ZSTD = 0, 1
DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 4: "u1", 5: "<u4", 6: "<i8"}
CH_DELTA, CH_LOSSY = 1, 2
PRED_NONE, PRED_SUB, PRED_SUBZ, PRED_XOR, PRED_REF, PRED_MODEL = range(6)  # 1.2 filters; 1.3 MODEL
MODEL_ENTRY, MODEL_TERM, MODEL_NO_SRC = 32, 24, 0xFFFF
LAYOUT_BYTE, LAYOUT_BIT = 0, 1
FILTER_ENTRY = 4
LOSSY_STORED = {"<f4": "<f2", "<f8": "<f4"}
FIRST, LAST, TERMINATED, TRUNCATED = 1, 2, 4, 8
MAX_PAYLOAD = 64 << 20     # block payload and body
MAX_ROW_BYTES = 16 << 20   # sum of the channels' row sizes
MAX_META = 65536
MAX_CHANNELS = 1024
MAX_DIMS = 4
MAX_INIT = 1 << 24
TRAILER_INTERRUPTED = 1    # trailer flags (1.1): the recording stopped early
I64_MAX = (1 << 63) - 1


def _f32_to_f16(u):
    """binary32 bits (uint32 array) to binary16 bits, as the format's lossy form (rounding to
    nearest even; a NaN keeps its sign and the top 9 bits of its payload, quiet bit set)."""
    with np.errstate(all="ignore"):
        h = u.view("<f4").astype("<f2").view("<u2").copy()
    nan = (u & 0x7fffffff) > 0x7f800000
    h[nan] = ((u[nan] >> 16) & 0x8000) | 0x7e00 | ((u[nan] >> 13) & 0x1ff)
    return h


def _unzig(u):
    """The zigzag code undone (0, 1, 2, 3 ... -> 0, -1, 1, -2 ..., modulo 2^(8 w))."""
    return (u >> 1) ^ (np.zeros_like(u) - (u & 1))


def _top(u):
    """The sign bit of u's unsigned dtype."""
    return u.dtype.type(1 << (8 * u.dtype.itemsize - 1))


def _mono(u):
    """PRED_MODEL's order-preserving integers of float bits u (unsigned); _unmono: back."""
    top = _top(u)
    return np.where(u & top, ~u, u | top).astype(u.dtype)


def _unmono(m):
    top = _top(m)
    return np.where(m & top, m & ~top, ~m).astype(m.dtype)


def _term_steps(term_lists):
    """Terms of a model's entries by position: for each position j, the entries that have a j-th
    term grouped by the channels and lags it reads, [((src, lag, src2, lag2), entry indices,
    elements, coefficients, second elements)], so that each entry's sum adds its terms in order."""
    steps = []
    for j in range(max((len(t) for t in term_lists), default=0)):
        groups = {}
        for i, terms in enumerate(term_lists):
            if j < len(terms):
                src, lag, se, coef, src2, lag2, se2 = terms[j]
                groups.setdefault((src, lag, src2, lag2), []).append((i, se, coef, se2))
        steps.append([(key, np.array([g[0] for g in gs]), np.array([g[1] for g in gs]),
                       np.array([g[2] for g in gs], np.float64), np.array([g[3] for g in gs]))
                      for key, gs in groups.items()])
    return steps


_EXP_C = [1.0 / math.factorial(n) for n in range(14)]  # 1/n!, each rounded once


def _model_exp(x):
    """The models' exp (docs/dataset-format.md, "The prediction"), elementwise on binary64, the
    same operations as the C reader."""
    x = np.minimum(np.maximum(x, -708.0), 709.0)  # NaN stays NaN
    k = np.floor(x * 1.4426950408889634 + 0.5)
    r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
    p = np.full_like(r, _EXP_C[13])
    for n in range(12, -1, -1):
        p = p * r + _EXP_C[n]
    k = np.where(np.isnan(k), 0.0, k).astype(np.int64)
    return p * ((k + 1023) << 52).astype(np.uint64).view(np.float64)


def _model_func(s, func):
    """Each entry's function (1.4: 1 logistic, 2 tanh) applied to its sums s (entries, rows)."""
    if not func.any():
        return s
    lg, th = func == 1, func == 2
    s = s.copy()
    s[lg] = 1.0 / (1.0 + _model_exp(-s[lg]))
    s[th] = 1.0 - 2.0 / (_model_exp(2.0 * s[th]) + 1.0)
    on = lg | th  # a NaN through a function: the one quiet NaN 0x7FF8000000000000
    s[on] = np.where(np.isnan(s[on]), np.uint64(0x7FF8000000000000).view(np.float64), s[on])
    return s


class DatasetError(ValueError):
    """A file that is not a valid dataset (or cannot be read); the message names the file and
    the field or offset."""


class Channel:
    def __init__(self, name, group, units, labels, dtype, shape, flags):
        self.name, self.group, self.units = name, group, units
        self.labels = labels.split(",") if labels else []
        self.dtype, self.shape, self.flags = np.dtype(dtype), tuple(shape), flags
        self.lossy = bool(flags & CH_LOSSY)  # stored with half the bits (format 1.2)
        self.stored = np.dtype(LOSSY_STORED[dtype]) if self.lossy else self.dtype
        self.elems = 1
        for s in shape:
            self.elems *= s
        self.row_bytes = self.elems * self.dtype.itemsize

    def __repr__(self):
        return "Channel(%s %s%s %s)" % (self.name, self.dtype, list(self.shape), self.group)


class Chunk:
    """A chunk as listed by the index (or found by the recovery scan)."""
    __slots__ = ("offset", "episode", "env", "first", "rows", "flags")

    def __init__(self, offset, episode, env, first, rows, flags):
        self.offset, self.episode, self.env = offset, episode, env
        self.first, self.rows, self.flags = first, rows, flags

    def key(self):
        return (self.episode, self.first, self.offset)


class Damage:
    """What a recovery could not keep, as the C reader's am_ds_get_damage: gaps, the byte ranges
    [(start, end, why)] that held no valid block (a bad chunk, a cut-off block...), and dropped,
    the good chunks [(offset, episode, first step, end step, why)] left out of their episode
    because it lost an earlier chunk or its first one. Empty for a file read through its index
    (verify() finds damage there)."""

    def __init__(self):
        self.gaps, self.dropped = [], []

    @property
    def gap_bytes(self):
        return sum(b - a for a, b, _ in self.gaps)

    def __bool__(self):
        return bool(self.gaps or self.dropped)

    def _gap(self, path, start, end, why):
        if why.startswith(path + ": "):  # messages start with the file's name
            why = why[len(path) + 2:]
        self.gaps.append((start, end, why))

    def lines(self):
        """One line per gap, then per dropped chunk, worded as the C reader's (animat verify and
        export print them after "lost: ")."""
        return (["bytes %d..%d (%d bytes): %s" % (a, b, b - a, why) for a, b, why in self.gaps]
                + ["chunk at offset %d (episode %d, steps %d..%d) dropped: %s" % d for d in self.dropped])


class Episode:
    def __init__(self, id, env):
        self.id, self.env, self.steps, self.chunks = id, env, 0, []
        self.complete = self.terminated = self.truncated = False


class _Cursor:
    """A bounded reader over a decoded body: every read past its end raises DatasetError."""

    def __init__(self, body, what):
        self.b, self.o, self.what = body, 0, what

    def take(self, n, field):
        if n > len(self.b) - self.o:
            raise DatasetError("%s: %s overruns its block (%d bytes at %d, body is %d bytes)"
                               % (self.what, field, n, self.o, len(self.b)))
        p = self.b[self.o:self.o + n]
        self.o += n
        return p

    def u(self, fmt, field):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), field))

    def text(self, len_fmt, field):
        (n,) = self.u(len_fmt, field)
        return self.take(n, field)


def _text(b):
    """Bytes as str; bytes that are not UTF-8 keep their values (surrogate escapes)."""
    return b.decode("utf-8", "surrogateescape")


class Dataset:
    def __init__(self, path):
        self.path = str(path)
        self._f = None
        try:
            self._f = open(path, "rb")
            self.size = os.fstat(self._f.fileno()).st_size
        except OSError as e:
            raise DatasetError("cannot open %s: %s" % (self.path, e.strerror or e)) from None
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def close(self):
        """Closes the file (the reader cannot read chunks after this)."""
        if self._f is not None:
            self._f.close()
            self._f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _read(self, off, n):
        """n bytes at offset off (the caller has checked that they lie inside the file)."""
        if self._f is None:
            raise DatasetError("%s: the dataset was closed" % self.path)
        try:
            self._f.seek(off)
            b = self._f.read(n)
        except OSError as e:
            raise DatasetError("%s: cannot read %d bytes at offset %d: %s" % (self.path, n, off, e)) from None
        if len(b) != n:
            raise DatasetError("%s: cannot read %d bytes at offset %d (the file shrank?)" % (self.path, n, off))
        return b

    def _find(self, pat, start, end):
        """The first offset in [start, end) where pat begins and ends by end, or -1; read in
        windows of 1 MiB."""
        step = 1 << 20
        while start < end:
            n = min(step + len(pat) - 1, end - start)
            at = self._read(start, n).find(pat)
            if at >= 0:
                return start + at
            if n < len(pat):
                return -1
            start += n - len(pat) + 1
        return -1

    def _open(self):
        self.recovered = self.interrupted = False
        self.note = ""
        self.damage = Damage()
        if self.size < FILE_HDR:
            raise DatasetError("%s: not an animat dataset (only %d bytes, header needs %d)"
                               % (self.path, self.size, FILE_HDR))
        b = self._read(0, FILE_HDR)
        if b[:8] != FILE_MAGIC:
            raise DatasetError("%s: not an animat dataset (wrong magic number)" % self.path)
        self.version = struct.unpack_from("<HH", b, 8)
        if self.version[0] != 1:
            raise DatasetError("%s: format version %d.%d is not supported (this reader reads 1.x)"
                               % (self.path, *self.version))
        off = FILE_HDR
        h = self._header(off, "metadata block")
        if h[0] != META:
            raise DatasetError("%s: first block is a %s (type %d), expected metadata"
                               % (self.path, BLOCK_NAMES.get(h[0], "block"), h[0]))
        self._parse_meta(self._body(off, h, "metadata block")[1])
        off += BLOCK_HDR + h[3]
        h = self._header(off, "channel table")
        if h[0] != CHANNELS:
            raise DatasetError("%s: second block is a %s (type %d), expected the channel table"
                               % (self.path, BLOCK_NAMES.get(h[0], "block"), h[0]))
        self._parse_channels(self._body(off, h, "channel table")[1])
        off += BLOCK_HDR + h[3]
        self.models, self.model_order = {}, []
        if (self.version[1] >= 3 and off + BLOCK_HDR <= self.size
                and self._read(off, 5) == BLOCK_MAGIC + bytes([MODELS])):
            h = self._header(off, "models block")
            self._parse_models(self._body(off, h, "models block")[1])
            off += BLOCK_HDR + h[3]
        self.data_start = off
        try:
            chunks = self._read_index()
        except DatasetError as e:
            chunks = self._scan(str(e))
        self._build(chunks)

    # -- blocks --
    def _header(self, off, what):
        """Checks the block header at off; returns (type, codec, prefix, payload, raw, crc)."""
        p, size = self.path, self.size
        if off + BLOCK_HDR > size:
            raise DatasetError("%s: %s at offset %d: truncated block header (file is %d bytes)"
                               % (p, what, off, size))
        b = self._read(off, BLOCK_HDR)
        if b[:4] != BLOCK_MAGIC:
            raise DatasetError("%s: %s at offset %d: bad block magic" % (p, what, off))
        btype, codec, prefix, payload, raw, crc, hcrc = struct.unpack_from("<BBHIIII", b, 4)
        if zlib.crc32(b[:20]) != hcrc:
            raise DatasetError("%s: %s at offset %d: block header checksum mismatch" % (p, what, off))
        if codec not in (CODEC_RAW, CODEC_ZSTD):
            raise DatasetError("%s: %s at offset %d: unknown codec %d" % (p, what, off, codec))
        if payload > MAX_PAYLOAD or raw > MAX_PAYLOAD or prefix > payload:
            raise DatasetError("%s: %s at offset %d: absurd sizes (payload %d, raw %d, prefix %d)"
                               % (p, what, off, payload, raw, prefix))
        if codec == CODEC_RAW and raw != payload - prefix:
            raise DatasetError("%s: %s at offset %d: raw body size %d != stored %d"
                               % (p, what, off, raw, payload - prefix))
        if off + BLOCK_HDR + payload > size:
            raise DatasetError("%s: %s at offset %d: truncated (needs %d payload bytes, %d left)"
                               % (p, what, off, payload, size - off - BLOCK_HDR))
        return btype, codec, prefix, payload, raw, crc

    def _payload(self, off, h, what):
        """The payload of a checked header, its CRC checked."""
        p = self._read(off + BLOCK_HDR, h[3])
        if zlib.crc32(p) != h[5]:
            raise DatasetError("%s: %s at offset %d: payload checksum mismatch (data corrupted)"
                               % (self.path, what, off))
        return p

    def _body(self, off, h, what, payload=None):
        """(prefix, body) of a checked header: CRC, zstd frame size and decoded size checked."""
        btype, codec, prefix, size, raw, crc = h
        p = self._payload(off, h, what) if payload is None else payload
        body = p[prefix:]
        if codec == CODEC_ZSTD:
            try:
                fcs = zstandard.frame_content_size(body)
            except zstandard.ZstdError:
                fcs = -2
            if fcs != raw:
                raise DatasetError("%s: %s at offset %d: zstd frame size %d != declared %d"
                                   % (self.path, what, off, fcs, raw))
            # the stored body must decode to exactly raw bytes; like ZSTD_decompressDCtx in the
            # C reader, frames after the first (empty or skippable ones) are decoded too
            parts, n, rest = [], 0, body
            try:
                while rest:
                    d = zstandard.ZstdDecompressor().decompressobj()
                    parts.append(d.decompress(rest))  # the first frame: raw bytes, it says so
                    n += len(parts[-1])
                    if not d.eof or n > raw:
                        raise DatasetError("%s: %s at offset %d: zstd: the body is not %d bytes of complete frames"
                                           % (self.path, what, off, raw))
                    rest = d.unused_data
            except zstandard.ZstdError as e:
                raise DatasetError("%s: %s at offset %d: zstd: %s" % (self.path, what, off, e)) from None
            body = b"".join(parts)
        if len(body) != raw:
            raise DatasetError("%s: %s at offset %d: body is %d bytes, expected %d"
                               % (self.path, what, off, len(body), raw))
        return p[:prefix], body

    def _parse_meta(self, body):
        c = _Cursor(body, "%s: metadata" % self.path)
        (n,) = c.u("<I", "entry count")
        if n > MAX_META or n > len(body) // 6:
            raise DatasetError("%s: metadata: absurd entry count %d" % (self.path, n))
        self.meta = {}
        for i in range(n):
            key = _text(c.text("<H", "entry %d" % i))
            val = c.text("<I", "entry %d" % i)
            try:
                self.meta[key] = val.decode()
            except UnicodeDecodeError:
                self.meta[key] = val  # binary values (model.mjb...) stay bytes

    def _parse_channels(self, body):
        p = self.path
        c = _Cursor(body, "%s: channel table" % p)
        n, self.n_init = c.u("<II", "header")
        if n == 0 or n > MAX_CHANNELS or n > len(body) // 16:
            raise DatasetError("%s: channel table: absurd channel count %d" % (p, n))
        if self.n_init > MAX_INIT:
            raise DatasetError("%s: channel table: absurd initial-state size %d" % (p, self.n_init))
        self.channels, self.by_name, self.row_bytes, seen = [], {}, 0, {}
        for i in range(n):
            field = "channel %d" % i
            dt, ndim, _, flags = c.u("<BBHI", field)
            if dt not in DTYPES:
                raise DatasetError("%s: channel %d: unknown dtype %d" % (p, i, dt))
            if flags & CH_LOSSY and (self.version[1] < 2 or DTYPES[dt] not in LOSSY_STORED):
                raise DatasetError("%s: channel %d: lossy flag on a %s channel of a %d.%d file"
                                   % (p, i, np.dtype(DTYPES[dt]).name, *self.version))
            if ndim > MAX_DIMS:
                raise DatasetError("%s: channel %d: ndim %d > %d" % (p, i, ndim, MAX_DIMS))
            shape = c.u("<%dI" % ndim, field)
            elems = 1
            for s in shape:
                elems *= s
                if elems > MAX_ROW_BYTES:
                    raise DatasetError("%s: channel %d: absurd shape %s" % (p, i, list(shape)))
            self.row_bytes += elems * np.dtype(DTYPES[dt]).itemsize
            if self.row_bytes > MAX_ROW_BYTES:
                raise DatasetError("%s: channel %d: rows larger than %d bytes" % (p, i, MAX_ROW_BYTES))
            name, group, units, labels = (_text(c.text("<H", field)) for _ in range(4))
            cut = name.split("\0")[0]  # compared as the C reader compares them (up to a NUL)
            if cut in seen:
                raise DatasetError("%s: channel table: channels %d and %d are both named '%s'"
                                   % (p, seen[cut], i, name))
            seen[cut] = self.by_name[name] = i
            self.channels.append(Channel(name, group, units, labels, DTYPES[dt], shape, flags))

    def _parse_models(self, body):
        """The MODELS block (1.3, 1.4): {channel: [(elem, bias, lo, hi, [(src, lag, src_elem, coef,
        src2, lag2, src_elem2)], func)]}, checked against the channel table, and an order in
        which every model comes after the models of its sources."""
        p = self.path
        c = _Cursor(body, "%s: models block" % p)
        (n,) = c.u("<I", "header")
        if n > MAX_CHANNELS:
            raise DatasetError("%s: models block: %d models (at most one per channel)" % (p, n))
        floats = ("<f4", "<f8")
        for i in range(n):
            ch, zero, ne = c.u("<HHI", "model %d" % i)
            if zero:
                raise DatasetError("%s: models block: a reserved field is not 0" % p)
            if ch >= len(self.channels):
                raise DatasetError("%s: models block: model %d predicts channel %d of %d" % (p, i, ch, len(self.channels)))
            x = self.channels[ch]
            if x.dtype.str not in floats:
                raise DatasetError("%s: models block: model of channel %d: only f32 and f64 channels have models" % (p, ch))
            if ch in self.models:
                raise DatasetError("%s: models block: channel %d has two models" % (p, ch))
            entries, last = [], -1
            for _ in range(ne):
                elem, nt, func, bias, lo, hi = c.u("<IHHddd", "model %d" % i)
                if func > 2 or (func and self.version[1] < 4):
                    raise DatasetError("%s: models block: model of channel %d, element %d: function %d unknown in %d.%d"
                                       % (p, ch, elem, func, *self.version))
                if elem >= x.elems or elem <= last:
                    raise DatasetError("%s: models block: model of channel %d: element %d out of order or range (%d)"
                                       % (p, ch, elem, x.elems))
                last = elem
                terms = []
                for _ in range(nt):
                    src, lag, lag2, se, src2, zero, se2, coef = c.u("<HBBIHHId", "model %d" % i)
                    if zero:
                        raise DatasetError("%s: models block: a reserved field is not 0" % p)
                    if src2 == MODEL_NO_SRC and (lag2 or se2):
                        raise DatasetError("%s: models block: model of channel %d, element %d: a term without a second factor names its lag or element"
                                           % (p, ch, elem))
                    for s_, l_, e_ in ((src, lag, se), (src2, lag2, se2)):
                        if s_ == MODEL_NO_SRC and (s_, l_, e_) == (src2, lag2, se2):
                            continue
                        own_ok = l_ == 1 or (self.version[1] >= 4 and e_ < elem)
                        if (s_ >= len(self.channels) or l_ > 1 or (s_ == ch and not own_ok)
                                or self.channels[s_].dtype.str not in floats or e_ >= self.channels[s_].elems):
                            raise DatasetError("%s: models block: model of channel %d, element %d: bad source (channel %d, element %d, lag %d)"
                                               % (p, ch, elem, s_, e_, l_))
                    terms.append((src, lag, se, coef, src2, lag2, se2))
                entries.append((elem, bias, lo, hi, terms, func))
            self.models[ch] = entries
        if c.o != len(body):
            raise DatasetError("%s: models block has %d bytes after its last model" % (p, len(body) - c.o))
        placed, order = set(), []
        while len(order) < len(self.models):
            ready = [ch for ch, es in self.models.items() if ch not in placed and all(
                x not in self.models or x in placed or x == ch for e in es for t in e[4] for x in (t[0], t[4]))]
            if not ready:
                raise DatasetError("%s: models block: the channel models form a cycle" % p)
            placed.add(ready[0])
            order.append(ready[0])
        self.model_order = order

    def _model_plan(self, ch_index):
        """Model ch_index as arrays (elements, bias, lo, hi) and its terms by position (_term_steps):
        the terms summed over a whole chunk at once, and (for a model reading its own channel) the
        rest, from each entry's first term on its own channel, which wait for the row before;
        cached."""
        plans = self.__dict__.setdefault("_plans", {})
        if ch_index not in plans:
            entries = self.models[ch_index]
            first = [next((j for j, t in enumerate(e[4]) if ch_index in (t[0], t[4])), len(e[4]))
                     for e in entries]
            plans[ch_index] = (np.array([e[0] for e in entries], np.int64),
                               np.array([e[1] for e in entries], np.float64),
                               np.array([e[2] for e in entries], np.float64),
                               np.array([e[3] for e in entries], np.float64),
                               _term_steps([e[4][:f] for e, f in zip(entries, first)]),
                               _term_steps([e[4][f:] for e, f in zip(entries, first)]),
                               np.array([e[5] for e in entries], np.int64))
        return plans[ch_index]

    def _model_reads(self, ch_index):
        """Model ch_index's source channels, and how it reads its own: 0 not at all, 1 in the same
        row only, 2 in the row before (and maybe the same row); cached."""
        reads = self.__dict__.setdefault("_reads", {})
        if ch_index not in reads:
            terms = [t for e in self.models[ch_index] for t in e[4]]
            srcs = {x for t in terms for x in (t[0], t[4]) if x != MODEL_NO_SRC}
            before = any((t[0] == ch_index and t[1]) or (t[4] == ch_index and t[5]) for t in terms)
            reads[ch_index] = (srcs, 2 if before else 1 if ch_index in srcs else 0)
        return reads[ch_index]

    def _model_waves(self, ch_index):
        """A model that reads its own channel in the same row (1.4), as waves of consecutive
        entries, each reading only its own row's elements decoded before it: [(entry indices,
        their term steps, the steps of their terms from the first on its own channel on)];
        cached."""
        waves_of = self.__dict__.setdefault("_waves", {})
        if ch_index not in waves_of:
            entries, waves, cur = self.models[ch_index], [], []
            for i, e in enumerate(entries):
                mine = {entries[j][0] for j in cur}
                if any((t[0] == ch_index and t[2] in mine) or (t[4] == ch_index and t[6] in mine)
                       for t in e[4]):
                    waves.append(cur)
                    cur = []
                cur.append(i)
            if cur:
                waves.append(cur)
            first = [next((j for j, t in enumerate(e[4]) if ch_index in (t[0], t[4])), len(e[4]))
                     for e in entries]
            waves_of[ch_index] = [(np.array(w, np.int64), _term_steps([entries[i][4] for i in w]),
                                   _term_steps([entries[i][4][first[i]:] for i in w])) for w in waves]
        return waves_of[ch_index]

    def _model_sums(self, ch_index, vals, rows, bias=None, steps=None):
        """Each entry's bias plus its terms that do not wait for the row before, over the chunk's
        rows (entries, rows), the terms added in their order, vectorised over the entries (or the
        sums of the entries with these biases and term steps)."""
        if steps is None:
            _, bias, _, _, steps, _, _ = self._model_plan(ch_index)
        s = np.repeat(bias[:, None], rows, axis=1)
        for groups in steps:
            for (src, lag, src2, lag2), ii, se, coef, se2 in groups:
                t = coef[:, None] * self._block_values(vals, src, lag, se, rows, src != ch_index)
                if src2 != MODEL_NO_SRC:
                    t = t * self._block_values(vals, src2, lag2, se2, rows, src2 != ch_index)
                s[ii] = s[ii] + t
        return s

    def _model_bits(self, ch_index, vals, rows):
        """Model ch_index's prediction for a chunk of rows (a model that does not read its own
        channel): unsigned integers of the channel's stored width (rows, elems), and the mask of
        the elements it predicts (docs/dataset-format.md, Models). vals[c]: channel c's decoded
        values."""
        ch = self.channels[ch_index]
        elem_idx, _, lo, hi, _, _, func = self._model_plan(ch_index)
        pred = np.zeros((rows, ch.elems), "<u%d" % ch.stored.itemsize)
        mask = np.zeros(ch.elems, bool)
        mask[elem_idx] = True
        with np.errstate(all="ignore"):
            pred[:, elem_idx] = self._pred_bits(ch, self._model_sums(ch_index, vals, rows), func, lo, hi)
        return pred, mask

    def _pred_bits(self, ch, s, func, lo, hi):
        """Sums s (entries, rows) through their entries' functions and clamps, in channel ch's
        stored form: unsigned integers (rows, entries)."""
        s = _model_func(s, func)
        s = np.where(s < lo[:, None], lo[:, None], s)
        s = np.where(s > hi[:, None], hi[:, None], s)
        return self._stored_bits(ch, np.ascontiguousarray(s.T)).reshape(s.shape[1], -1)

    def _block_values(self, vals, src, lag, se, rows, cache=True):
        """Elements se (an array) of channel src in rows -lag .. rows - 1 - lag, as binary64
        (len(se), rows); 0.0 before the chunk's first row. The channel's binary64 rows are kept
        for the chunk (cache; not for a channel still being decoded)."""
        x = self._f64.get((src, lag)) if cache else None
        if x is None:
            elems = self.channels[src].elems
            x = np.asarray(vals[src]).reshape(-1, elems).astype(np.float64).T
            if lag:
                x = np.concatenate([np.zeros((elems, lag)), x[:, :rows - lag]], axis=1)[:, :rows]
            if cache:
                self._f64[(src, lag)] = x
        return x[se]

    # -- chunks --
    def _filters(self, body):
        """A 1.2 chunk's filter table (decoded body): [(predictor, layout, ref)] per channel,
        checked; raises DatasetError with the reason."""
        out = []
        for k, ch in enumerate(self.channels):
            pred, lay, ref = struct.unpack_from("<BBH", body, FILTER_ENTRY * k)
            if pred > (PRED_MODEL if self.models else PRED_REF) or lay > LAYOUT_BIT:
                raise DatasetError("channel '%s': unknown filter (predictor %d, layout %d)" % (ch.name, pred, lay))
            if pred == PRED_MODEL and k not in self.models:
                raise DatasetError("channel '%s': model predictor, but the file has no model for it" % ch.name)
            if pred != PRED_REF:
                if ref:
                    raise DatasetError("channel '%s': reference %d without the reference predictor" % (ch.name, ref))
            else:
                if ref >= k:
                    raise DatasetError("channel '%s' refers to channel %d, not an earlier one" % (ch.name, ref))
                x = self.channels[ref]
                same = x.dtype == ch.dtype
                ok = (x.lossy and ch.lossy and same) if (x.lossy or ch.lossy) else (
                    same or (x.dtype == np.dtype("<f4") and ch.dtype == np.dtype("<f8")))
                if x.elems != ch.elems or not ok:
                    raise DatasetError("channel '%s' cannot refer to channel '%s' (lossy, shape or dtype)"
                                       % (ch.name, x.name))
                if body[FILTER_ENTRY * ref] in (PRED_REF, PRED_MODEL):
                    raise DatasetError("channel '%s' refers to '%s', which is itself predicted from others"
                                       % (ch.name, x.name))
            out.append((pred, lay, ref))
        return out

    @staticmethod
    def _laid(count, sw, layout):
        return sw * 8 * ((count + 7) // 8) if layout == LAYOUT_BIT else count * sw

    def _check_prefix(self, pre, h, body=None):
        """The Chunk a chunk block's prefix describes, checked against the channel table and the
        block's body size (1.2: the decoded body, whose filter table sets the columns' sizes);
        raises DatasetError with the reason (the caller adds where)."""
        ep, env, first, rows, flags, n_init, _ = struct.unpack_from("<qIIIIII", pre, 0)
        if ep < 0:
            raise DatasetError("negative episode id")
        want = self.n_init if flags & FIRST else 0
        if n_init != want:
            raise DatasetError("initial state of %d values, expected %d" % (n_init, want))
        if flags & FIRST and first:
            raise DatasetError("first chunk of its episode starts at step %d" % first)
        if self.version[1] < 2:
            if rows * self.row_bytes + 8 * n_init != h[4]:
                raise DatasetError("%d rows x %d bytes + %d initial values != body size %d"
                                   % (rows, self.row_bytes, n_init, h[4]))
        else:
            want = FILTER_ENTRY * len(self.channels) + 8 * n_init
            if h[4] < want:
                raise DatasetError("body of %d bytes has no room for the filter table" % h[4])
            for ch, (_, lay, _) in zip(self.channels, self._filters(body)):
                want += self._laid(rows * ch.elems, ch.stored.itemsize, lay)
            if want != h[4]:
                raise DatasetError("%d rows of the channels as filtered + %d initial values + filter "
                                   "table = %d bytes != body size %d" % (rows, n_init, want, h[4]))
        return Chunk(None, ep, env, first, rows, flags)

    def _read_index(self):
        """The chunks the index lists, read through the trailer: the INDEX blocks from the
        trailer's offset up to the trailer, one after the other, part k saying k (format 1.1; a
        1.0 file has one part). Raises DatasetError (the file is then recovered) when the
        trailer, an index block, a part number or an entry is bad; sets interrupted."""
        size = self.size
        if size < self.data_start + TRAILER:
            raise DatasetError("no trailer (file ends at %d bytes)" % size)
        t = self._read(size - TRAILER, TRAILER)
        if t[16:] != TRAILER_MAGIC:
            raise DatasetError("no trailer (the writer did not finish: killed, or it failed)")
        if zlib.crc32(t[:12]) != struct.unpack_from("<I", t, 12)[0]:
            raise DatasetError("trailer checksum mismatch")
        off, flags = struct.unpack_from("<QI", t, 0)
        end = size - TRAILER
        if off < self.data_start or off >= end:
            raise DatasetError("trailer: index offset %d out of range" % off)
        self.index_start = off
        out, prev_end, part = [], self.data_start, 0  # entries in file order, blocks apart
        while off < end:
            h = self._header(off, "index")
            if h[0] != INDEX or off + BLOCK_HDR + h[3] > end:
                raise DatasetError("index part %d at offset %d: not an index block ending by the trailer"
                                   % (part, off))
            body = self._body(off, h, "index")[1]
            if len(body) < 8:
                raise DatasetError("index part %d: too short" % part)
            n, said = struct.unpack_from("<II", body, 0)
            if 8 + INDEX_ENTRY * n != len(body):
                raise DatasetError("index part %d: %d entries do not fill its %d bytes" % (part, n, len(body)))
            if said != part:
                raise DatasetError("index part %d says it is part %d" % (part, said))
            for i in range(n):
                o, ep, env, first, rows, fl, stored, _ = struct.unpack_from("<QQIIIIII", body, 8 + INDEX_ENTRY * i)
                if (o < prev_end or o >= self.index_start or ep > I64_MAX
                        or rows * self.row_bytes > MAX_PAYLOAD or stored > MAX_PAYLOAD
                        or o + BLOCK_HDR + stored > self.index_start):
                    raise DatasetError("index part %d entry %d: bad offset, size or episode" % (part, i))
                prev_end = o + BLOCK_HDR + stored
                out.append(Chunk(o, ep, env, first, rows, fl))
            off += BLOCK_HDR + h[3]
            part += 1
        self.interrupted = bool(flags & TRAILER_INTERRUPTED)
        return out

    def _block_at(self, off, end):
        """The checked header of a block at off that must also end by end; DatasetError else."""
        h = self._header(off, "block")
        if off + BLOCK_HDR + h[3] > end:
            raise DatasetError("%s: block at offset %d runs past offset %d" % (self.path, off, end))
        return h

    def _find_block(self, start, end):
        """Resynchronisation: the first offset in [start, end) holding a valid block header
        (magic and header CRC) whose block ends by end; end when there is none."""
        at = self._find(BLOCK_MAGIC, start, end)
        while at >= 0:
            try:
                self._block_at(at, end)
                return at
            except DatasetError:
                at = self._find(BLOCK_MAGIC, at + 1, end)
        return end

    def _walk(self, start, end, damage, skip=()):
        """The good chunks of the blocks in [start, end). A bad block does not stop the walk: a
        block whose header is good is skipped by its size, a bad header by searching for the next
        valid one (_find_block); the bytes skipped go to damage as gaps. Chunk blocks at the
        offsets in skip are passed over unread (verify checks those through the index)."""
        out, off = [], start
        while off < end:
            try:
                h = self._block_at(off, end)
            except DatasetError as e:
                nxt = self._find_block(off + 1, end)
                damage._gap(self.path, off, nxt, str(e))
                off = nxt
                continue
            nxt = off + BLOCK_HDR + h[3]
            if h[0] == CHUNK and off not in skip:
                try:
                    if h[2] != CHUNK_PREFIX:
                        raise DatasetError("chunk at offset %d: bad prefix size %d" % (off, h[2]))
                    pre, body = self._body(off, h, "chunk")
                    try:
                        c = self._check_prefix(pre, h, body)
                    except DatasetError as e:
                        raise DatasetError("chunk at offset %d: %s" % (off, e)) from None
                    c.offset = off
                    out.append(c)
                except DatasetError as e:
                    damage._gap(self.path, off, nxt, str(e))
            off = nxt
        return out

    def _scan(self, why):
        """Recovery: the good chunks of every block from after the channel table to the end of
        the file, past any damaged ones (self.damage lists the byte ranges skipped)."""
        self.recovered = True
        self.index_start = 0
        self.damage = Damage()
        out = self._walk(self.data_start, self.size, self.damage)
        d = self.damage
        self.note = "%s; recovered %d chunks by scanning to the end of the file" % (why, len(out))
        self.note += ("; %d damaged byte range(s) skipped (%d bytes)" % (len(d.gaps), d.gap_bytes) if d.gaps
                      else "; every byte after the channel table is in a whole block")
        return out

    def _build(self, chunks):
        """Groups the chunks into episodes (sorted by id), checking continuity: with the index a
        gap is an error; in recovery the episode is cut there and the chunks after the gap are
        dropped (self.damage.dropped)."""
        chunks.sort(key=Chunk.key)
        self.episodes = []
        e = None
        for c in chunks:
            if e is not None and e.id == c.episode:
                if c.first != e.steps or e.complete or c.flags & FIRST:
                    if not self.recovered:
                        raise DatasetError("%s: index: episode %d has a chunk at step %d (offset %d), expected step %d"
                                           % (self.path, c.episode, c.first, c.offset, e.steps))
                    self.damage.dropped.append(
                        (c.offset, c.episode, c.first, c.first + c.rows, "its episode ends at step %d (%s)"
                         % (e.steps, "complete" if e.complete else "a chunk before it was lost")))
                    continue
            else:
                if not c.flags & FIRST or c.first:
                    if not self.recovered:
                        raise DatasetError("%s: index: episode %d does not start with its first chunk"
                                           % (self.path, c.episode))
                    self.damage.dropped.append((c.offset, c.episode, c.first, c.first + c.rows,
                                                "the episode's first chunk was lost"))
                    continue
                e = Episode(c.episode, c.env)
                self.episodes.append(e)
            e.chunks.append(c)
            e.steps += c.rows
            if c.flags & LAST:
                e.complete = True
                e.terminated = bool(c.flags & TERMINATED)
                e.truncated = bool(c.flags & TRUNCATED)
        self.ids = {e.id: i for i, e in enumerate(self.episodes)}

    def _load_chunk(self, k, c, decode):
        """Checks chunk k of an episode against its index entry (header, prefix, payload CRC);
        with decode, also returns its decoded body."""
        what = "episode %d, its chunk %d (step %d)" % (c.episode, k, c.first)
        h = self._header(c.offset, what)
        if h[0] != CHUNK or h[2] != CHUNK_PREFIX:
            raise DatasetError("%s: %s at offset %d: not a chunk block" % (self.path, what, c.offset))
        p = self._payload(c.offset, h, what)
        v12 = self.version[1] >= 2
        body = self._body(c.offset, h, what, p)[1] if decode or v12 else None
        try:
            got = self._check_prefix(p, h, body)
        except DatasetError as e:
            raise DatasetError("%s: %s at offset %d: %s" % (self.path, what, c.offset, e)) from None
        if (got.episode, got.env, got.first, got.rows, got.flags) != (c.episode, c.env, c.first, c.rows, c.flags):
            raise DatasetError("%s: %s at offset %d: does not match the index (the chunk holds episode %d, env %d, step %d, %d rows, flags %d)"
                               % (self.path, what, c.offset, got.episode, got.env, got.first, got.rows, got.flags))
        return body if decode else None

    # -- data --
    def _names(self, channels):
        names = [c.name for c in self.channels] if channels is None else list(channels)
        for n in names:
            if n not in self.by_name:
                raise KeyError("%s: no channel '%s'" % (self.path, n))
        return names

    def _decode_chunk(self, c, body, names):
        """The rows of chunk c (its decoded body) of the channels named, {name: array (rows,
        *shape)}, and the initial state (None unless FIRST). 1.0/1.1: each channel {sub or none,
        byte} from its DELTA flag; 1.2: the chunk's filter table."""
        v12 = self.version[1] >= 2
        n_ch = len(self.channels)
        self._f64 = {}  # _block_values' binary64 rows of this chunk's channels
        filters = (self._filters(body) if v12 else
                   [(PRED_SUB if ch.flags & CH_DELTA else PRED_NONE, LAYOUT_BYTE, 0) for ch in self.channels])
        o = FILTER_ENTRY * n_ch if v12 else 0
        init = None
        if c.flags & FIRST:
            init = np.frombuffer(body, "<f8", self.n_init, o).copy()
            o += 8 * self.n_init
        want = {self.by_name[n] for n in names}
        grown = True
        while grown:  # and what those are predicted from (a reference, a model's sources)
            grown = False
            for k in list(want):
                more = ({filters[k][2]} if filters[k][0] == PRED_REF else
                        self._model_reads(k)[0] if filters[k][0] == PRED_MODEL else set())
                if more - want:
                    want |= more
                    grown = True
        at = []
        for k, ch in enumerate(self.channels):
            at.append(o)
            o += self._laid(c.rows * ch.elems, ch.stored.itemsize, filters[k][1])
        at.append(o)
        vals, out = {}, {}
        order = [k for k in range(n_ch) if filters[k][0] != PRED_MODEL] + [
            k for k in self.model_order if filters[k][0] == PRED_MODEL]
        for k in order:
            if k not in want:
                continue
            ch = self.channels[k]
            pred, lay, ref = filters[k]
            if pred == PRED_MODEL and self._model_reads(k)[1]:
                vals[k] = (self._unfilter_self if self._model_reads(k)[1] == 2 else self._unfilter_own_row)(
                    body[at[k]:at[k + 1]], c, ch, k, lay, vals)
            else:
                aux = (self._ref_bits(vals[ref], self.channels[ref], ch) if pred == PRED_REF else
                       self._model_bits(k, vals, c.rows) if pred == PRED_MODEL else None)
                vals[k] = self._unfilter(body[at[k]:at[k + 1]], c, ch, pred, lay, aux)
            if ch.name in names:
                out[ch.name] = vals[k]
        return out, init

    @staticmethod
    def _ref_bits(x, xc, ch):
        """The prediction of channel ch by the decoded values x of channel xc: unsigned integers
        of ch's stored width (xc's stored form when both are lossy; f32 -> f64 bits)."""
        if xc.lossy:
            x = x.astype(xc.stored)
        elif xc.dtype != ch.dtype:
            x = x.astype(ch.dtype)
        w = ch.stored.itemsize
        return np.ascontiguousarray(x).view("<u%d" % w).reshape(-1, ch.elems)

    def _stored_bits(self, ch, s):
        """Binary64 sums s (clamped) in channel ch's stored form, as unsigned integers."""
        if ch.dtype.str == "<f8" and not ch.lossy:
            return s.view("<u8")
        if ch.dtype.str == "<f8" or not ch.lossy:
            return s.astype("<f4").view("<u4")
        return _f32_to_f16(s.astype("<f4").view("<u4"))

    def _unfilter_self(self, b, c, ch, k, lay, vals):
        """PRED_MODEL for a model that reads its own channel's row before: each entry's terms up
        to the first on its own channel are summed over all rows at once, the rest row by row
        (vectorised over the entries of each wave, _model_waves), as each row needs the one before
        decoded and (1.4) each wave the earlier elements of its row."""
        rows = c.rows
        u = self._residuals(b, c, ch, lay)
        d = _unzig(u)
        own = np.zeros((rows, ch.elems), ch.dtype)
        vals[k] = own
        elem_idx, _, lo, hi, _, _, func = self._model_plan(k)
        rest_e = np.setdiff1d(np.arange(ch.elems), elem_idx)
        waves = self._model_waves(k)
        with np.errstate(all="ignore"):
            prefix = self._model_sums(k, vals, rows)
            prev = np.full(ch.elems, _top(u), u.dtype)  # the order-preserving integers of the row before
            for r in range(rows):
                m = prev.copy()
                m[rest_e] = d[r, rest_e] + prev[rest_e]
                own[r, rest_e] = _unmono(m[rest_e]).view(ch.stored)
                for ii, _, rest in waves:
                    s = prefix[ii, r].copy()
                    for groups in rest:
                        for (src, lag, src2, lag2), jj, se, coef, se2 in groups:
                            t = coef * self._row_values(vals, src, r - lag, se)
                            if src2 != MODEL_NO_SRC:
                                t = t * self._row_values(vals, src2, r - lag2, se2)
                            s[jj] = s[jj] + t
                    pbits = self._pred_bits(ch, s[:, None], func[ii], lo[ii], hi[ii])[0]
                    e = elem_idx[ii]
                    m[e] = d[r, e] + _mono(pbits)
                    own[r, e] = _unmono(m[e]).view(ch.stored)
                prev = m
        return own.reshape((rows,) + ch.shape)

    def _unfilter_own_row(self, b, c, ch, k, lay, vals):
        """PRED_MODEL for a model that reads earlier elements of its own row (1.4): the elements
        without an entry first (each from its row before), then the entries wave by wave
        (_model_waves), each wave's sums over all rows at once."""
        rows = c.rows
        u = self._residuals(b, c, ch, lay)
        d = _unzig(u)
        elem_idx, bias, lo, hi, _, _, func = self._model_plan(k)
        own = np.zeros((rows, ch.elems), ch.dtype)
        vals[k] = own
        rest = np.setdiff1d(np.arange(ch.elems), elem_idx)
        if len(rest):  # o(x_r) = o(x_(r-1)) + residual, from o(0) = top before the first row
            m = (np.cumsum(d[:, rest], axis=0, dtype=u.dtype) + _top(u)).astype(u.dtype)
            own[:, rest] = _unmono(m).view(ch.stored)
        with np.errstate(all="ignore"):
            for ii, steps, _ in self._model_waves(k):
                s = self._model_sums(k, vals, rows, bias[ii], steps)
                pbits = self._pred_bits(ch, s, func[ii], lo[ii], hi[ii])
                e = elem_idx[ii]
                own[:, e] = _unmono((d[:, e] + _mono(pbits)).astype(u.dtype)).view(ch.stored)
        return own.reshape((rows,) + ch.shape)

    def _row_values(self, vals, src, r, se):
        """Elements se (an array) of row r of channel src, as binary64; zeros when r < 0."""
        if r < 0:
            return np.zeros(len(se))
        return np.asarray(vals[src]).reshape(-1, self.channels[src].elems)[r, se].astype(np.float64)

    def _residuals(self, b, c, ch, lay):
        """A chunk column's stored residuals as unsigned integers (rows, elems), out of its layout."""
        rows, w, count = c.rows, ch.stored.itemsize, c.rows * ch.elems
        a = np.frombuffer(b, np.uint8)
        if lay == LAYOUT_BIT:
            nb = (count + 7) // 8
            bits = np.unpackbits(a.reshape(8 * w, nb), axis=1, bitorder="little")
            if bits[:, count:].any():
                raise DatasetError("%s: chunk at offset %d: channel '%s': bit-plane padding is not zero"
                                   % (self.path, c.offset, ch.name))
            a = np.packbits(bits[:, :count].reshape(w, 8, count).transpose(2, 0, 1), axis=2,
                            bitorder="little").reshape(count, w)
        elif w > 1:
            a = a.reshape(w, count).T  # un-shuffle: byte planes back into values
        return np.ascontiguousarray(a).view(np.dtype("<u%d" % w) if w > 1 else np.uint8).reshape((rows, ch.elems))

    def _unfilter(self, b, c, ch, pred, lay, ref):
        rows = c.rows
        u = self._residuals(b, c, ch, lay)
        if pred == PRED_SUBZ:
            u = _unzig(u)
        if pred in (PRED_SUB, PRED_SUBZ):
            u = np.cumsum(u, axis=0, dtype=u.dtype)  # wraps modulo 2^(8w), like the writer
        elif pred == PRED_XOR:
            u = np.bitwise_xor.accumulate(u, axis=0)
        elif pred == PRED_REF:
            u = u ^ ref
        elif pred == PRED_MODEL:  # order-preserving integers: the model's where it predicts, else
            p, mask = ref         # the row before (a running sum), wrapping modulo 2^(8w)
            d = _unzig(u)
            m = np.where(mask, d + _mono(p), np.cumsum(d, axis=0, dtype=u.dtype) + _top(u)).astype(u.dtype)
            u = _unmono(m)
        v = u.view(ch.stored)
        if ch.lossy:
            v = v.astype(ch.dtype)
        return v.reshape((rows,) + ch.shape)

    def episode(self, i, channels=None, init=False):
        """Channels of the episode with index i as {name: array (steps, *shape)}; with
        init=True also "__init__": the initial state (init.layout in the metadata)."""
        if not 0 <= i < len(self.episodes):
            raise DatasetError("%s: no episode index %d (%d episodes)" % (self.path, i, len(self.episodes)))
        e = self.episodes[i]
        names = self._names(channels)
        # every chunk is checked against its entry before the arrays are allocated, so that
        # their size is backed by the file's bytes
        for k, c in enumerate(e.chunks):
            self._load_chunk(k, c, False)
        out = {n: np.empty((e.steps,) + self.channels[self.by_name[n]].shape,
                           self.channels[self.by_name[n]].dtype) for n in names}
        for k, c in enumerate(e.chunks):
            part, first = self._decode_chunk(c, self._load_chunk(k, c, True), names)
            if first is not None and init:
                out["__init__"] = first
            for n in names:
                out[n][c.first:c.first + c.rows] = part[n]
        return out

    def chunks(self, channels=None, episodes=None):
        """Streams the data chunk by chunk: yields (episode index, first step, {name: array
        (rows, *shape)}) for every chunk of every episode (or of the episode indices given), in
        episode order; only one chunk is in memory at a time."""
        names = self._names(channels)
        for i in range(len(self.episodes)) if episodes is None else episodes:
            if not 0 <= i < len(self.episodes):
                raise DatasetError("%s: no episode index %d (%d episodes)" % (self.path, i, len(self.episodes)))
            for k, c in enumerate(self.episodes[i].chunks):
                yield i, c.first, self._decode_chunk(c, self._load_chunk(k, c, True), names)[0]

    def steps(self, i, channels=None):
        """Streams episode i step by step: yields (step, {name: array (*shape)}), reading one
        chunk at a time."""
        for _, first, part in self.chunks(channels, [i]):
            rows = len(next(iter(part.values()))) if part else 0
            for t in range(rows):
                yield first + t, {n: a[t] for n, a in part.items()}

    def read(self, i, name):
        return self.episode(i, [name])[name]

    def trials(self, animat=None, onset_frac=None):
        """The trial table (docs/analysis.md: one row per trial, its condition, events, outcome
        and kinematics) as {column: numpy array}, computed by `animat trials` (the one
        implementation; this module does not re-implement it). animat: the animat binary (default:
        $ANIMAT, else build/animat beside this file's tools/ folder, else `animat` on PATH)."""
        return trials(self.path, animat=animat, onset_frac=onset_frac)

    def verify(self):
        """Checks the file as `animat verify` (am_ds_verify) does: every chunk (header, CRCs,
        prefix against the index, zstd frame and size; 1.2: its filter table, and its columns
        decoded); with the index, also the blocks between
        the channel table and the index (every chunk there indexed, no bytes outside whole
        blocks); in a recovered file, what the recovery lost (self.damage). Raises DatasetError
        counting the problems of each kind and naming the first; returns None when there is none
        (a recovered file that lost nothing included: self.recovered says it had no index)."""
        bad, first = 0, None
        for e in self.episodes:
            for k, c in enumerate(e.chunks):
                try:
                    body = self._load_chunk(k, c, True)
                    if self.version[1] >= 2:  # 1.2: decoded too (bit-layout padding checked)
                        self._decode_chunk(c, body, [ch.name for ch in self.channels])
                except DatasetError as x:
                    bad += 1
                    first = first or str(x)
        d, unindexed = self.damage, []
        if not self.recovered:
            d = Damage()
            indexed = {c.offset for e in self.episodes for c in e.chunks}
            unindexed = self._walk(self.data_start, self.index_start, d, indexed)
            if unindexed and not first:
                c = unindexed[0]
                first = ("%s: chunk at offset %d (episode %d, steps %d..%d) is not in the index"
                         % (self.path, c.offset, c.episode, c.first, c.first + c.rows))
        if not first and d:
            first = "%s: %s" % (self.path, d.lines()[0])
        problems = bad + len(unindexed) + len(d.gaps) + len(d.dropped)
        if problems:
            raise DatasetError("%d problem(s): %d bad chunk(s), %d chunk(s) not in the index, %d damaged "
                               "byte range(s), %d chunk(s) dropped from their episode; first: %s"
                               % (problems, bad, len(unindexed), len(d.gaps), len(d.dropped), first))


def _animat_binary(animat=None):
    if animat:
        return animat
    if os.environ.get("ANIMAT"):
        return os.environ["ANIMAT"]
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "animat")
    return here if os.access(here, os.X_OK) else "animat"


def table_columns(tab):
    """A {"columns": [...], "data": [[...], ...]} table (animat trials --out X.json, the "trials"
    of an export's meta.json) as {column: numpy array}: numbers as float64 (missing: NaN), text
    columns (outcome) as str arrays."""
    cols, data = tab["columns"], tab["data"]
    out = {}
    for k, name in enumerate(cols):
        vals = [row[k] for row in data]
        if any(isinstance(v, str) for v in vals):
            out[name] = np.array(["" if v is None else v for v in vals], dtype=str)
        else:
            out[name] = np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
    return out


def trials(path, animat=None, onset_frac=None):
    """The trial table of the dataset at path (see Dataset.trials)."""
    import json
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "trials.json")
        cmd = [_animat_binary(animat), "trials", path, "--out", out, "--quiet"]
        if onset_frac is not None:
            cmd += ["--onset-frac", str(onset_frac)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise DatasetError("%s: animat trials failed: %s" % (path, (r.stderr or r.stdout).strip()))
        with open(out) as f:
            return table_columns(json.load(f))


def export_meta(directory):
    """An export directory's meta.json (animat export; docs/datasets.md) as a dict, its "trials"
    as {column: numpy array}."""
    import json
    with open(os.path.join(directory, "meta.json")) as f:
        meta = json.load(f)
    if meta.get("trials"):
        meta["trials"] = table_columns(meta["trials"])
    return meta


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    try:
        ds = Dataset(argv[1])
        if ds.recovered:
            print("%s: DAMAGED: index missing or damaged; %s" % (argv[1], ds.note), file=sys.stderr)
            for line in ds.damage.lines():
                print("  lost:", line, file=sys.stderr)
        ds.verify()
        steps = sum(e.steps for e in ds.episodes)
        print("episodes %d steps %d channels %d recovered %d interrupted %d"
              % (len(ds.episodes), steps, len(ds.channels), ds.recovered, ds.interrupted))
        if len(argv) >= 4 and argv[2] == "--sum":
            if argv[3] not in ds.by_name:
                raise DatasetError("%s: no channel '%s'" % (argv[1], argv[3]))
            total = 0.0
            for i in range(len(ds.episodes)):
                total += float(np.sum(ds.read(i, argv[3]).astype(np.float64)))
            print("sum %s %.17g" % (argv[3], total))
    except DatasetError as e:
        print("error:", e, file=sys.stderr)
        return 1
    return 1 if ds.recovered else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
