"""O_DIRECT image writes and read-back: whole aligned blocks bypass the page cache, the
rest (unaligned tails, unaligned memory) is written and read buffered, and the bytes on
disk are exactly the bytes given, whichever way they went."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import pytest

from custodyd.daemon.imaging.readback import DiskReader
from custodyd.daemon.imaging.writer import DIRECT_ALIGN, ImageWriter

MiB = 1024 * 1024


def blocks(data: bytes, size: int) -> list[memoryview]:
    """``data`` in page-aligned buffers of ``size`` bytes, as the pipeline hands them over."""
    out = []
    for pos in range(0, len(data), size):
        buf = mmap.mmap(-1, size)
        piece = data[pos : pos + size]
        buf[: len(piece)] = piece
        out.append(memoryview(buf)[: len(piece)])
    return out


def test_aligned_blocks_go_direct_and_the_tail_buffered(tmp_path: Path) -> None:
    data = os.urandom(3 * MiB + 123_457)
    writer = ImageWriter(tmp_path / "image.raw")
    if writer.direct_fd is None:
        pytest.skip(f"environment: {tmp_path} refuses O_DIRECT")
    for view in blocks(data, MiB):
        writer.write(view)
    assert writer.direct_fd is not None, "aligned page-aligned blocks were refused"
    assert writer.written == len(data)
    path = writer.finish()
    assert path.read_bytes() == data


def test_unaligned_memory_falls_back_to_buffered_writes(tmp_path: Path) -> None:
    data = os.urandom(2 * MiB)
    writer = ImageWriter(tmp_path / "image.raw")
    odd = bytearray(len(data) + 1)
    odd[1:] = data
    writer.write(memoryview(odd)[1 : 1 + MiB])  # not aligned in memory: EINVAL, then buffered
    writer.write(memoryview(odd)[1 + MiB :])
    assert writer.direct_fd is None
    assert writer.finish().read_bytes() == data


@pytest.mark.parametrize("size", [4 * MiB, 4 * MiB + 1, DIRECT_ALIGN - 1, 0])
def test_disk_reader_reads_every_byte(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "image.raw"
    path.write_bytes(data)
    reader = DiskReader(path)
    try:
        got = bytearray()
        buf = mmap.mmap(-1, MiB)
        view = memoryview(buf)
        offset = 0
        while offset < size:
            n = reader.read(view[: min(MiB, size - offset)], offset)
            assert n > 0
            got += view[:n]
            offset += n
        view.release()
        buf.close()
    finally:
        reader.close()
    assert bytes(got) == data


def test_a_failed_ahead_write_is_never_vouched_for(tmp_path: Path) -> None:
    """The copying pass marks a chunk finished before its O_DIRECT write is done; a
    write that then fails puts the chunk back to non-tried before the error surfaces,
    so no map saved afterwards claims it."""
    from custodyd.daemon.errors import DestinationError
    from custodyd.daemon.imaging import mapfile
    from custodyd.daemon.imaging.mapfile import RescueMap
    from custodyd.daemon.imaging.rescue import MapKeeper, _AheadWriter

    image = tmp_path / "image.raw"
    image.write_bytes(bytes(2 * MiB))
    read_only = os.open(image, os.O_RDONLY)  # every write to it fails (EBADF)
    keeper = MapKeeper(RescueMap.new(2 * MiB), None)
    ahead = _AheadWriter(read_only, read_only, keeper, MiB)
    try:
        ahead.buffer()[:MiB] = os.urandom(MiB)
        ahead.submit(MiB, MiB)
        keeper.set(MiB, MiB, mapfile.FINISHED)  # as the copying pass does
        with pytest.raises(DestinationError):
            ahead.drain()
    finally:
        ahead.close()
        os.close(read_only)
    assert keeper.map.bytes_in(mapfile.FINISHED) == 0


def test_head_read_back_then_the_rest_equals_one_read_back(tmp_path: Path) -> None:
    """The settled head is read back while the rescue passes still write after it; the
    digests once the rest is read equal those of the finished file read in one go."""
    import blake3

    from custodyd.daemon.imaging.engine import hash_consumers
    from custodyd.daemon.imaging.readback import HeadReadBack, rehash

    size, window = 9 * MiB + 777, MiB
    data = bytearray(os.urandom(size))
    image = tmp_path / "image.raw"
    image.write_bytes(bytes(data[: 5 * MiB]) + bytes(size - 5 * MiB))  # zeros: not yet rescued
    head = HeadReadBack(
        image, hash_consumers([], window), 3 * MiB + 100, block_size=MiB, buffers=3
    ).start()
    with open(image, "r+b") as fh:  # a later pass fills the rest in place
        fh.seek(5 * MiB)
        fh.write(data[5 * MiB :])
    digests, piecewise = head.finish(size, progress=None, cancel=None)
    whole, windows = rehash(
        image,
        hash_consumers([], window),
        size,
        block_size=MiB,
        buffers=3,
        progress=None,
        cancel=None,
    )
    assert digests["blake3"].hexdigest() == blake3.blake3(bytes(data)).hexdigest()
    assert digests["blake3"].hexdigest() == whole["blake3"].hexdigest()
    assert piecewise.finish() == windows.finish()
