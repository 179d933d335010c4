"""E01 chunk encoding: what each kind of data is stored as, judged by the standard zlib."""

from __future__ import annotations

import base64
import os
import struct
import zlib

import pytest
from isal import isal_zlib

from custodyd.daemon.imaging.ewf.chunks import encode, zero_stream
from custodyd.daemon.imaging.ewf.layout import CHUNK_SIZE

TEXT = b"".join(b"%08d custody log: item sealed, digest recorded\n" % i for i in range(700))


def kinds() -> dict[str, bytes]:
    rnd = os.urandom(CHUNK_SIZE)
    return {
        "zeros": bytes(CHUNK_SIZE),
        "random": rnd,
        "text": TEXT[:CHUNK_SIZE],
        "base64": base64.b64encode(os.urandom(CHUNK_SIZE))[:CHUNK_SIZE],
        "hex": os.urandom(CHUNK_SIZE // 2).hex().encode(),
        # a compressed file's tail, then the zero-filled rest of its cluster run
        "random then zeros": rnd[: CHUNK_SIZE // 2] + bytes(CHUNK_SIZE // 2),
        "zeros then random": bytes(CHUNK_SIZE // 4) + rnd[: 3 * CHUNK_SIZE // 4],
    }


def decode(parts: tuple[bytes | memoryview, ...], compressed: bool) -> bytes:
    stored = b"".join(bytes(p) for p in parts)
    if compressed:
        return zlib.decompress(stored)
    data, (adler,) = stored[:-4], struct.unpack("<I", stored[-4:])
    assert adler == zlib.adler32(data), "a raw chunk carries its Adler-32"
    return data


@pytest.mark.parametrize("compression", ["fast", "best"])
def test_each_kind_of_data_is_stored_as_expected(compression: str) -> None:
    level = {"fast": 1, "best": 3}[compression]
    data = kinds()
    batch = encode(memoryview(b"".join(data.values())), level, skip_random=compression == "fast")
    assert len(batch.chunks) == len(data)
    assert (
        batch.stored
        == sum(batch.sizes)
        == sum(sum(len(p) for p in parts) for parts in batch.chunks)
    )
    assert batch.deflated == sum(batch.compressed)
    for (name, want), parts, compressed in zip(
        data.items(), batch.chunks, batch.compressed, strict=True
    ):
        assert decode(parts, compressed) == want, name
        # only data that deflate cannot shrink is stored raw
        assert compressed == (name != "random"), name
    # a zero chunk is the very stream ISA-L gives for one, computed once
    assert batch.chunks[0] == (zero_stream(level),)
    assert zero_stream(level) == isal_zlib.compress(bytes(CHUNK_SIZE), level)


def test_random_looking_chunks_are_not_deflated_with_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """``fast`` does not spend a deflate on random data; ``best`` and ``none`` behave as
    before (every chunk tried / none tried)."""
    from custodyd.daemon.imaging.ewf import chunks

    calls: list[int] = []
    real = chunks.isal_zlib.compress
    zero_stream(1), zero_stream(3)  # cached before counting

    def counting(data: bytes | memoryview, level: int = 1) -> bytes:
        calls.append(len(data))
        return real(data, level)

    monkeypatch.setattr(chunks.isal_zlib, "compress", counting)
    random = memoryview(os.urandom(8 * CHUNK_SIZE))
    fast = encode(random, 1, skip_random=True)
    assert calls == [] and fast.deflated == 0
    best = encode(random, 3)
    assert len(calls) == 8 and best.deflated == 0
    calls.clear()
    none = encode(memoryview(bytes(2 * CHUNK_SIZE)), None)
    assert calls == [] and none.deflated == 0
    assert [decode(p, c) for p, c in zip(best.chunks, best.compressed, strict=True)] == [
        bytes(random[i : i + CHUNK_SIZE]) for i in range(0, len(random), CHUNK_SIZE)
    ]


def test_a_short_last_chunk() -> None:
    data = TEXT[: 5 * 512]
    batch = encode(memoryview(data), 1, skip_random=True)
    assert len(batch.chunks) == 1
    assert decode(batch.chunks[0], batch.compressed[0]) == data
