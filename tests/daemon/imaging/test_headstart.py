"""The verify head start: its digests stand only for the very file it hashed, unchanged.

The verification must never trust a head start for another file, or for a file
changed since it was hashed; a tampered image is still detected, and named by
window, whether the head start hashed it or not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from custodyd.daemon.acquisition import acquire, get_manifest, verify_evidence
from custodyd.daemon.context import AppContext
from custodyd.daemon.imaging import verify as verify_module
from custodyd.daemon.imaging.headstart import HeadStart
from tests.imaging.conftest import MiB, chmod_writable, random_file

ACTOR = "user:alice"


def flip_byte(path: Path, offset: int) -> None:
    chmod_writable(path)
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([byte ^ 0xFF]))


def finished(head_start: HeadStart) -> HeadStart:
    head_start._thread.join(timeout=60)
    assert not head_start._thread.is_alive()
    return head_start


def test_digest_is_b3sums(tmp_path: Path) -> None:
    path = random_file(tmp_path / "image.raw", 5 * MiB + 3)
    got = HeadStart(path).start().result_for(path)
    assert got is not None and got.bytes == 5 * MiB + 3 and got.read_errors == []
    b3sum = subprocess.run(["b3sum", "--no-mmap", str(path)], capture_output=True, text=True)
    assert got.blake3 == b3sum.stdout.split()[0]


# Run in a fresh interpreter: the hook sees every import, on which thread it happens.
NO_IMPORTS_ON_THE_THREAD = """
import sys, threading
from pathlib import Path
seen = []
def hook(event, args):
    if event == "import" and threading.current_thread().name == "custodyd-headstart":
        seen.append(args[0])
sys.addaudithook(hook)
from custodyd.daemon.imaging.headstart import HeadStart
path = Path(sys.argv[1])
head_start = HeadStart(path).start()
import custodyd.daemon.acquisition  # what the main thread does meanwhile
assert head_start.result_for(path) is not None
print(seen)
"""


def test_the_thread_imports_nothing(tmp_path: Path) -> None:
    # Two threads importing at once can be handed each other's half-initialised
    # modules (seen here: "partially initialized module 'typing'"), so every import
    # happens in start(), on the caller's thread.
    path = random_file(tmp_path / "image.raw", 64 * MiB)
    done = subprocess.run(
        [sys.executable, "-c", NO_IMPORTS_ON_THE_THREAD, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_nothing_for_another_file_with_the_same_bytes(tmp_path: Path) -> None:
    path = random_file(tmp_path / "image.raw", 2 * MiB)
    other = tmp_path / "copy.raw"
    shutil.copyfile(path, other)
    head_start = finished(HeadStart(path).start())
    assert head_start.result_for(other) is None
    assert head_start.result_for(path) is not None


def test_nothing_once_the_file_changed(tmp_path: Path) -> None:
    path = random_file(tmp_path / "image.raw", 2 * MiB)
    head_start = finished(HeadStart(path).start())
    flip_byte(path, MiB)
    assert head_start.result_for(path) is None


def test_nothing_for_a_file_written_while_it_was_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custodyd.daemon.imaging import reader

    path = random_file(tmp_path / "image.raw", 9 * MiB)
    real = reader.pread_into
    reads: list[int] = []

    def written_meanwhile(fd: int, view: memoryview, offset: int) -> int:
        n = real(fd, view, offset)
        reads.append(offset)
        if len(reads) == 1:  # after the first block was read, the end of the file changes
            flip_byte(path, 9 * MiB - 1)
        return n

    monkeypatch.setattr(reader, "pread_into", written_meanwhile)
    head_start = finished(HeadStart(path).start())
    assert len(reads) > 1 and head_start.bytes_done == 9 * MiB
    assert head_start._result is None
    assert head_start.result_for(path) is None


def test_nothing_after_a_read_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from custodyd.daemon.imaging import reader

    path = random_file(tmp_path / "image.raw", 2 * MiB)

    def failing(fd: int, view: memoryview, offset: int) -> int:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(reader, "pread_into", failing)
    assert HeadStart(path).start().result_for(path) is None


def test_nothing_for_a_missing_file_and_stop_is_idempotent(tmp_path: Path) -> None:
    missing = tmp_path / "nope.raw"
    head_start = HeadStart(missing).start()
    assert head_start.result_for(missing) is None
    head_start.stop()
    head_start.stop()


def test_cancel_stops_it(tmp_path: Path) -> None:
    import threading

    path = random_file(tmp_path / "image.raw", 4 * MiB)
    cancel = threading.Event()
    cancel.set()
    head_start = HeadStart(path).start()
    assert head_start.result_for(path, cancel=cancel) is None
    assert not head_start._thread.is_alive()


@pytest.fixture
def sealed(ictx: AppContext, source_file: Path) -> tuple[str, Path]:
    manifest = acquire(ictx, source_file, "HS", actor=ACTOR, verify=False)
    return manifest["evidence_id"], Path(manifest["image_path"])


def test_an_intact_image_verifies_from_the_head_start_alone(
    ictx: AppContext, sealed: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    eid, image = sealed
    head_start = HeadStart(image).start()

    def no_second_read(*_a: object, **_k: object) -> None:
        raise AssertionError("the image was read again although the head start hashed it")

    monkeypatch.setattr(verify_module, "hash_image", no_second_read)
    report = verify_evidence(ictx, eid, actor=ACTOR, head_start=head_start)
    assert report["match"] is True and report["blake3"] == report["expected"]
    entries = [e for e in ictx.ledger.history(eid) if e.action == "evidence.verified"]
    assert [e.payload["match"] for e in entries] == [True]


def test_a_tampered_image_hashed_by_the_head_start_is_detected_and_named(
    ictx: AppContext, sealed: tuple[str, Path]
) -> None:
    eid, image = sealed
    flip_byte(image, 2 * MiB + 9)  # window 2 of 1 MiB windows
    report = verify_evidence(ictx, eid, actor=ACTOR, head_start=HeadStart(image).start())
    assert report["match"] is False
    assert [w["index"] for w in report["mismatched_windows"]] == [2]
    assert get_manifest(ictx, eid)["status"] == "mismatch"
    entries = [e for e in ictx.ledger.history(eid) if e.action == "evidence.verified"]
    assert entries[-1].payload["match"] is False
    assert entries[-1].payload["mismatched_windows"] == [2]


def test_a_head_start_on_an_intact_decoy_does_not_hide_a_tampered_image(
    ictx: AppContext, sealed: tuple[str, Path], tmp_path: Path
) -> None:
    eid, image = sealed
    decoy = tmp_path / "decoy.raw"
    shutil.copyfile(image, decoy)  # the recorded bytes, at a path the database does not name
    flip_byte(image, 1 * MiB + 1)
    report = verify_evidence(ictx, eid, actor=ACTOR, head_start=HeadStart(decoy).start())
    assert report["match"] is False
    assert [w["index"] for w in report["mismatched_windows"]] == [1]


def test_an_image_changed_after_the_head_start_hashed_it_is_detected(
    ictx: AppContext, sealed: tuple[str, Path]
) -> None:
    eid, image = sealed
    head_start = finished(HeadStart(image).start())  # hashed while the image was intact
    flip_byte(image, 3 * MiB + 17)
    os.utime(image)  # as any write would; the identity check must see the change
    report = verify_evidence(ictx, eid, actor=ACTOR, head_start=head_start)
    assert report["match"] is False
    assert [w["index"] for w in report["mismatched_windows"]] == [3]
