"""custodyd.daemon.durable: every byte, the exact mode, fsync of file and directory, errors."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from custodyd.daemon import durable
from tests.conftest import needs_root


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_write_atomic_replaces_with_exact_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    target.write_text("old")
    old_umask = os.umask(0o077)
    try:
        assert durable.write_atomic(target, b"new", mode=0o644)
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o644
    assert _leftovers(tmp_path) == []


def test_short_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
    durable.write_json_atomic(tmp_path / "x.json", {"key": "a value longer than three bytes"})
    assert '"a value longer than three bytes"' in (tmp_path / "x.json").read_text()


def test_a_write_without_progress_raises_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "x.json"
    target.write_text("old")
    monkeypatch.setattr(os, "write", lambda fd, data: 0)
    with pytest.raises(OSError) as info:
        durable.write_atomic(target, b"new")
    assert info.value.errno == errno.ENOSPC
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_fsync_failures_propagate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        durable.write_atomic(tmp_path / "x", b"data")
    with pytest.raises(OSError):
        durable.fsync_dir(tmp_path)
    assert _leftovers(tmp_path) == []


def test_directory_fsync_failure_after_the_rename_is_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real_fsync = os.fsync

    def second_fails(fd: int) -> None:  # the file's fsync passes, the directory's fails
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.EIO, "I/O error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", second_fails)
    with pytest.raises(OSError):
        durable.write_atomic(tmp_path / "x", b"data")
    assert len(calls) == 2


def test_create_once_keeps_the_first(tmp_path: Path) -> None:
    target = tmp_path / "key.pem"
    assert durable.write_atomic(target, b"first", mode=0o600, replace=False)
    assert not durable.write_atomic(target, b"second", mode=0o600, replace=False)
    assert target.read_bytes() == b"first"
    assert _leftovers(tmp_path) == []


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: a real filesystem that fills up."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@needs_root
def test_full_filesystem_raises_and_keeps_the_old_file(tiny_fs: Path) -> None:
    target = tiny_fs / "manifest.json"
    durable.write_atomic(target, b"old")
    with pytest.raises(OSError) as info:
        durable.write_atomic(target, b"x" * (256 * 1024))
    assert info.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"old"
    assert _leftovers(tiny_fs) == []
