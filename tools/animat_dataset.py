#!/usr/bin/python3
"""animat_dataset.py: read animat datasets (.rollout files) into NumPy arrays.

An independent reader of the format in docs/dataset-format.md (numpy and zstandard, both in
Debian: apt install python3-numpy python3-zstandard). Checks every checksum; recovers a file
whose writer was killed (no index) by scanning its chunks, as the C reader does.

    from animat_dataset import Dataset
    ds = Dataset("a.rollout")
    ds.meta["task.name"], [c.name for c in ds.channels], len(ds.episodes)
    ep = ds.episode(0)              # dict: channel name -> array (steps, *shape)
    qpos = ds.read(0, "qpos")       # one channel of the episode with index 0

Command line: python3 animat_dataset.py FILE [--sum CHANNEL]  (a summary; used by the tests)
"""
import struct
import sys
import zlib

import numpy as np
import zstandard

FILE_MAGIC = b"\x89AMDS\r\n\x1a"
BLOCK_MAGIC = b"AMBK"
TRAILER_MAGIC = b"AMDSIDX\n"
META, CHANNELS, CHUNK, INDEX = 1, 2, 3, 4
DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 4: "u1", 5: "<u4", 6: "<i8"}
CH_DELTA = 1
FIRST, LAST, TERMINATED, TRUNCATED = 1, 2, 4, 8
MAX_PAYLOAD = 64 << 20


class DatasetError(Exception):
    pass


class Channel:
    def __init__(self, name, group, units, labels, dtype, shape, flags):
        self.name, self.group, self.units = name, group, units
        self.labels = labels.split(",") if labels else []
        self.dtype, self.shape, self.flags = np.dtype(dtype), tuple(shape), flags
        self.elems = int(np.prod(shape)) if shape else 1
        self.row_bytes = self.elems * self.dtype.itemsize

    def __repr__(self):
        return "Channel(%s %s%s %s)" % (self.name, self.dtype, list(self.shape), self.group)


class Episode:
    def __init__(self, id, env):
        self.id, self.env, self.steps, self.chunks = id, env, 0, []
        self.complete = self.terminated = self.truncated = False


class Dataset:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.buf = f.read()
        self.path = path
        self.recovered = False
        self.note = ""
        b = self.buf
        if len(b) < 16 or b[:8] != FILE_MAGIC:
            raise DatasetError("%s: not an animat dataset (wrong magic number)" % path)
        self.version = struct.unpack_from("<HH", b, 8)
        if self.version[0] != 1:
            raise DatasetError("%s: format version %d.%d is not supported" % (path, *self.version))
        off = 16
        h = self._header(off, "metadata block")
        if h[0] != META:
            raise DatasetError("%s: first block is not metadata" % path)
        self._parse_meta(self._body(off, h, "metadata block")[1])
        off += 24 + h[3]
        h = self._header(off, "channel table")
        if h[0] != CHANNELS:
            raise DatasetError("%s: second block is not the channel table" % path)
        self._parse_channels(self._body(off, h, "channel table")[1])
        off += 24 + h[3]
        self.data_start = off
        self.row_bytes = sum(c.row_bytes for c in self.channels)
        try:
            chunks = self._read_index()
        except DatasetError as e:
            chunks = self._scan(str(e))
        self._build(chunks)

    # -- blocks --
    def _header(self, off, what):
        b = self.buf
        if off + 24 > len(b):
            raise DatasetError("%s: %s at offset %d: truncated block header" % (self.path, what, off))
        if b[off:off + 4] != BLOCK_MAGIC:
            raise DatasetError("%s: %s at offset %d: bad block magic" % (self.path, what, off))
        btype, codec, prefix, payload, raw, crc, hcrc = struct.unpack_from("<BBHIIII", b, off + 4)
        if zlib.crc32(b[off:off + 20]) != hcrc:
            raise DatasetError("%s: %s at offset %d: block header checksum mismatch" % (self.path, what, off))
        if codec not in (0, 1) or payload > MAX_PAYLOAD or raw > MAX_PAYLOAD or prefix > payload:
            raise DatasetError("%s: %s at offset %d: bad codec or sizes" % (self.path, what, off))
        if off + 24 + payload > len(b):
            raise DatasetError("%s: %s at offset %d: truncated payload" % (self.path, what, off))
        return btype, codec, prefix, payload, raw, crc

    def _body(self, off, h, what):
        btype, codec, prefix, payload, raw, crc = h
        p = self.buf[off + 24:off + 24 + payload]
        if zlib.crc32(p) != crc:
            raise DatasetError("%s: %s at offset %d: payload checksum mismatch" % (self.path, what, off))
        body = p[prefix:]
        if codec == 1:
            try:
                body = zstandard.ZstdDecompressor().decompress(body, max_output_size=raw)
            except zstandard.ZstdError as e:
                raise DatasetError("%s: %s at offset %d: zstd: %s" % (self.path, what, off, e))
        if len(body) != raw:
            raise DatasetError("%s: %s at offset %d: body is %d bytes, expected %d" % (self.path, what, off, len(body), raw))
        return p[:prefix], body

    def _parse_meta(self, body):
        self.meta = {}
        (n,) = struct.unpack_from("<I", body, 0)
        o = 4
        for _ in range(n):
            (kl,) = struct.unpack_from("<H", body, o)
            key = body[o + 2:o + 2 + kl].decode()
            o += 2 + kl
            (vl,) = struct.unpack_from("<I", body, o)
            val = body[o + 4:o + 4 + vl]
            if len(val) != vl:
                raise DatasetError("%s: metadata overruns its block" % self.path)
            o += 4 + vl
            try:
                self.meta[key] = val.decode()
            except UnicodeDecodeError:
                self.meta[key] = val

    def _parse_channels(self, body):
        n, self.n_init = struct.unpack_from("<II", body, 0)
        o = 8
        self.channels = []
        for i in range(n):
            dt, ndim, _, flags = struct.unpack_from("<BBHI", body, o)
            o += 8
            if dt not in DTYPES or ndim > 4:
                raise DatasetError("%s: channel %d: bad dtype %d or ndim %d" % (self.path, i, dt, ndim))
            shape = struct.unpack_from("<%dI" % ndim, body, o)
            o += 4 * ndim
            s = []
            for _ in range(4):
                (l,) = struct.unpack_from("<H", body, o)
                s.append(body[o + 2:o + 2 + l].decode())
                o += 2 + l
            self.channels.append(Channel(s[0], s[1], s[2], s[3], DTYPES[dt], shape, flags))
        self.by_name = {c.name: i for i, c in enumerate(self.channels)}

    def _read_index(self):
        b = self.buf
        if len(b) < self.data_start + 24 or b[-8:] != TRAILER_MAGIC:
            raise DatasetError("no trailer (writer did not finish)")
        t = b[-24:]
        if zlib.crc32(t[:12]) != struct.unpack_from("<I", t, 12)[0]:
            raise DatasetError("trailer checksum mismatch")
        (off,) = struct.unpack_from("<Q", t, 0)
        h = self._header(off, "index")
        if h[0] != INDEX:
            raise DatasetError("trailer does not point at an index block")
        body = self._body(off, h, "index")[1]
        (n,) = struct.unpack_from("<I", body, 0)
        if 8 + 40 * n != len(body):
            raise DatasetError("index: bad size")
        out = []
        for i in range(n):
            o, ep, env, first, rows, flags, _, _ = struct.unpack_from("<QQIIIIII", body, 8 + 40 * i)
            out.append((ep, first, o, env, rows, flags))
        return out

    def _scan(self, why):
        self.recovered = True
        out, off = [], self.data_start
        stop = "reached the end of the file"
        while off < len(self.buf):
            try:
                h = self._header(off, "block")
                if h[0] == CHUNK:
                    pre, body = self._body(off, h, "chunk")
                    ep, env, first, rows, flags, n_init, _ = struct.unpack_from("<QIIIIII", pre, 0)
                    if len(body) != rows * self.row_bytes + 8 * n_init:
                        raise DatasetError("chunk at offset %d: bad size" % off)
                    out.append((ep, first, off, env, rows, flags))
            except DatasetError as e:
                stop = str(e)
                break
            off += 24 + h[3]
        self.note = "%s; recovered %d chunks by scanning; stopped at offset %d: %s" % (why, len(out), off, stop)
        return out

    def _build(self, chunks):
        chunks.sort()
        self.episodes = []
        for ep, first, off, env, rows, flags in chunks:
            e = self.episodes[-1] if self.episodes and self.episodes[-1].id == ep else None
            if e is None:
                if not flags & FIRST or first != 0:
                    continue
                e = Episode(ep, env)
                self.episodes.append(e)
            elif first != e.steps or e.complete:
                continue
            e.chunks.append((off, first, rows, flags))
            e.steps += rows
            if flags & LAST:
                e.complete = True
                e.terminated = bool(flags & TERMINATED)
                e.truncated = bool(flags & TRUNCATED)
        self.ids = {e.id: i for i, e in enumerate(self.episodes)}

    # -- data --
    def episode(self, i, channels=None, init=False):
        """Channels of the episode with index i as {name: array (steps, *shape)}; with
        init=True also "__init__": the initial state (time, qpos, qvel, act)."""
        e = self.episodes[i]
        names = channels if channels is not None else [c.name for c in self.channels]
        out = {n: np.empty((e.steps,) + self.channels[self.by_name[n]].shape,
                           self.channels[self.by_name[n]].dtype) for n in names}
        for off, first, rows, flags in e.chunks:
            h = self._header(off, "chunk")
            pre, body = self._body(off, h, "chunk")
            o = 0
            if flags & FIRST:
                if init:
                    out["__init__"] = np.frombuffer(body, "<f8", self.n_init).copy()
                o = 8 * self.n_init
            for c in self.channels:
                n = rows * c.row_bytes
                if c.name in out:
                    out[c.name][first:first + rows] = self._unfilter(body[o:o + n], rows, c)
                o += n
        return out

    def read(self, i, name):
        return self.episode(i, [name])[name]

    @staticmethod
    def _unfilter(b, rows, c):
        w = c.dtype.itemsize
        count = rows * c.elems
        a = np.frombuffer(b, np.uint8)
        if w > 1:
            a = a.reshape(w, count).T.copy()  # un-shuffle: byte planes back into values
        u = a.view(np.dtype("<u%d" % w) if w > 1 else np.uint8).reshape((rows, c.elems))
        if c.flags & CH_DELTA:
            u = np.cumsum(u, axis=0, dtype=u.dtype)  # wraps modulo 2^(8w), like the writer
        return u.view(c.dtype).reshape((rows,) + c.shape)


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    try:
        ds = Dataset(argv[1])
    except DatasetError as e:
        print("error:", e, file=sys.stderr)
        return 1
    steps = sum(e.steps for e in ds.episodes)
    print("episodes %d steps %d channels %d recovered %d" % (len(ds.episodes), steps, len(ds.channels), ds.recovered))
    if len(argv) >= 4 and argv[2] == "--sum":
        total = 0.0
        for i in range(len(ds.episodes)):
            total += float(np.sum(ds.read(i, argv[3]).astype(np.float64)))
        print("sum %s %.17g" % (argv[3], total))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
