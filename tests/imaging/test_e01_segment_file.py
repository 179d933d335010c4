"""An E01 segment file: staged, aligned (direct) writes give exactly the bytes appended
and patched, at every sync, on a file system with O_DIRECT and on one without."""

from __future__ import annotations

import errno
import fcntl
import os
import random
from pathlib import Path

import pytest

from custodyd.daemon.imaging.ewf.segment_file import ALIGN, SegmentFile


def takes_o_direct(directory: Path) -> bool:
    probe = directory / f".probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
    except OSError:
        return False
    os.close(fd)
    probe.unlink()
    return True


@pytest.mark.parametrize("direct", [True, False])
def test_appends_patches_and_syncs_give_the_exact_bytes(
    tmp_path: Path, direct: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if direct and not takes_o_direct(tmp_path):
        pytest.skip(f"{tmp_path} does not take O_DIRECT")
    if not direct:  # a file system that refuses O_DIRECT (as FUSE ones may)
        real_open = os.open

        def refusing(path: str, flags: int, mode: int = 0o777) -> int:
            if flags & os.O_DIRECT:
                raise OSError(errno.EINVAL, "Invalid argument")
            return real_open(path, flags, mode)

        monkeypatch.setattr(os, "open", refusing)
    path = tmp_path / "image.E01.part"
    rng = random.Random(12)
    want = bytearray()
    out = SegmentFile(path, staging=4 * ALIGN)
    assert out.direct == direct
    try:
        for step in range(400):
            size = rng.choice([4, 76, 1000, 4093, 5000, 32768, 70000])
            data = rng.randbytes(size)
            out.append([data, memoryview(data)[: size // 2]])
            want += data + data[: size // 2]
            assert out.size == len(want)
            if step % 37 == 5:  # a descriptor written when its section closes
                at = rng.randrange(0, len(want) - 76)
                patch = rng.randbytes(76)
                out.patch(patch, at)
                want[at : at + 76] = patch
            if step % 53 == 7:  # the rescue map vouches for what is on disk now
                out.sync()
                assert path.read_bytes() == want
        tail = len(want) - 10  # a patch inside the staged, unwritten tail
        out.patch(b"T" * 10, tail)
        want[tail:] = b"T" * 10
        out.sync()
        assert path.stat().st_size == len(want)
        assert path.read_bytes() == want
    finally:
        out.close()


def test_a_patch_outside_the_file_is_refused(tmp_path: Path) -> None:
    out = SegmentFile(tmp_path / "x.part")
    try:
        out.append([b"abc"])
        with pytest.raises(ValueError):
            out.patch(b"xy", 2)
    finally:
        out.close()


def test_an_existing_file_is_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "x.part").write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        SegmentFile(tmp_path / "x.part")
    assert (tmp_path / "x.part").read_bytes() == b"keep"


def test_direct_writes_refused_after_open_fall_back_to_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some file systems take O_DIRECT at open and refuse it per write (EINVAL)."""
    if not takes_o_direct(tmp_path):
        pytest.skip(f"{tmp_path} does not take O_DIRECT")
    real_pwrite = os.pwrite
    refused: list[int] = []

    def refusing(fd: int, data: bytes | memoryview, offset: int) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(offset)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", refusing)
    path = tmp_path / "image.E01.part"
    out = SegmentFile(path, staging=4 * ALIGN)
    assert out.direct
    data = random.Random(3).randbytes(10 * ALIGN + 123)
    try:
        out.append([data])
        out.patch(b"P" * 76, 5)
        out.sync()
    finally:
        out.close()
    assert refused == [0]  # once, then every write went through the page cache
    assert not out.direct
    assert path.read_bytes() == data[:5] + b"P" * 76 + data[81:]
