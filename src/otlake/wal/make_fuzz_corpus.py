#!/usr/bin/env python3
"""Writes the seed corpus of test/fuzz/wal_reader_fuzz (one WAL segment per file).

An independent implementation of the segment format from docs/wal.md (CRC32C, masking, blocks,
fragments, the record header), so the corpus also cross-checks the spec against the C++ reader.
Run with the project venv (it needs `zstandard`):
    .venv/bin/python src/otlake/wal/make_fuzz_corpus.py test/fuzz/wal_reader_corpus
"""
import os
import struct
import sys

import zstandard

BLOCK = 32 * 1024
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _crc_table():
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for x in data:
        c = (c >> 8) ^ TABLE[(c ^ x) & 0xFF]
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def physical(rtype: int, frag: bytes, crc_delta: int = 0) -> bytes:
    crc = (mask(crc32c(bytes([rtype]) + frag)) + crc_delta) & 0xFFFFFFFF
    return struct.pack("<IHB", crc, len(frag), rtype) + frag


def record(lsn: int, payload: bytes, flags: int = 0) -> bytes:
    return struct.pack("<QB", lsn, flags) + payload


class Segment:
    """Frames logical records into blocks exactly as the C++ Framer does."""

    def __init__(self):
        self.out = bytearray()

    def add(self, rec: bytes):
        first = True
        while True:
            left = BLOCK - len(self.out) % BLOCK
            if left < HEADER:
                self.out += b"\0" * left
                continue
            n = min(left - HEADER, len(rec))
            last = n == len(rec)
            rtype = FULL if first and last else FIRST if first else LAST if last else MIDDLE
            self.out += physical(rtype, rec[:n])
            rec = rec[n:]
            first = False
            if last:
                return self

    def raw(self, data: bytes):
        self.out += data
        return self

    def bytes(self) -> bytes:
        return bytes(self.out)


def text(n: int, seed: int = 0) -> bytes:
    words = [b"service.name", b"checkout", b"http.route", b"/api/v1/orders", b"trace_id"]
    out = bytearray()
    i = seed
    while len(out) < n:
        out += words[i % len(words)] + b" "
        i = i * 31 + 7
    return bytes(out[:n])


def seeds():
    z = zstandard.ZstdCompressor(level=1, write_content_size=True)
    s = {}
    s["empty.wal"] = b""
    s["one-small.wal"] = Segment().add(record(1, b"hello")).bytes()
    s["zero-payload.wal"] = Segment().add(record(1, b"")).add(record(2, b"x")).add(
        record(3, b"ccc")).bytes()
    s["fragmented.wal"] = Segment().add(record(1, text(40000))).add(record(2, b"end")).bytes()
    first = BLOCK - 3 - HEADER - 9
    s["trailer.wal"] = Segment().add(record(1, text(first))).add(record(2, b"next")).bytes()
    s["compressed.wal"] = Segment().add(record(1, z.compress(text(3000)), flags=1)).add(
        record(2, b"plain")).bytes()
    s["bad-zstd.wal"] = Segment().add(record(1, b"\x28\xb5\x2f\xfd garbage", flags=1)).add(
        record(2, b"ok")).bytes()
    s["oversized-zstd.wal"] = Segment().add(record(1, z.compress(b"\0" * (2 << 20)), flags=1)).bytes()
    s["unknown-flags.wal"] = Segment().add(record(1, b"x", flags=0x80)).add(record(2, b"y")).bytes()
    s["torn-header.wal"] = Segment().add(record(1, b"kept")).raw(physical(FULL, record(2, b"lost"))[:4]).bytes()
    s["torn-fragment.wal"] = Segment().add(record(1, b"kept")).raw(
        physical(FULL, record(2, text(100)))[:30]).bytes()
    # Block 1: good, bad CRC, a record spilling into block 2 (its LAST is then an orphan), good.
    seg = Segment().add(record(1, b"good")).raw(physical(FULL, record(2, b"bad crc"), crc_delta=1))
    seg.add(record(3, text(BLOCK)))
    s["bad-crc-then-resync.wal"] = seg.add(record(4, b"after")).bytes()
    s["zero-block.wal"] = Segment().raw(b"\0" * BLOCK).add(record(2, b"after zeros")).bytes()
    s["duplicate-lsn-and-gap.wal"] = Segment().add(record(1, b"a")).add(record(2, b"b")).add(
        record(2, b"b again")).add(record(5, b"e")).bytes()
    s["orphan-middle.wal"] = Segment().raw(physical(MIDDLE, b"orphan")).add(record(1, b"a")).bytes()
    s["short-record.wal"] = Segment().raw(physical(FULL, b"abc")).add(record(1, b"a")).bytes()
    s["huge-lsn.wal"] = Segment().add(record(2**63 - 1, b"x")).add(record(1, b"a")).bytes()
    # The largest valid LSN: no LSN is left for a record after it.
    s["max-lsn.wal"] = Segment().add(record(1, b"a")).add(record(2**62, b"last")).bytes()
    s["length-past-block.wal"] = Segment().raw(struct.pack("<IHB", 0, 40000, FULL)).raw(b"x" * 100).bytes()
    # Framed inputs (first byte 0xF5): the fuzz harness adds the CRCs; see wal_reader_fuzz.cc.
    def framed(*frags):
        return b"\xf5" + b"".join(struct.pack("<BH", t, len(f)) + f for t, f in frags)

    s["framed-records.wal"] = framed((FULL, record(1, b"a")), (FIRST, record(2, b"bb")),
                                     (MIDDLE, b"cc"), (LAST, b"dd"), (FULL, record(3, b"")))
    s["framed-zstd.wal"] = framed((FULL, record(1, z.compress(text(500)), flags=1)),
                                  (FULL, record(2, b"x")))
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "test/fuzz/wal_reader_corpus"
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
