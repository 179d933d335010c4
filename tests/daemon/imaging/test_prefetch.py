"""The verify prefetch: bounded, stoppable, silent on a missing file; verify still judges."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from custodyd.daemon.imaging.prefetch import CHUNK, Prefetch

CLI = [sys.executable, "-c", "from custodyd.daemon.cli import main; main()"]


def test_reads_up_to_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "image.raw"
    path.write_bytes(os.urandom(3 * CHUNK))
    prefetch = Prefetch(path, limit=2 * CHUNK).start()
    prefetch._thread.join(timeout=30)
    assert prefetch.bytes == 2 * CHUNK
    whole = Prefetch(path).start()
    whole._thread.join(timeout=30)
    assert whole.bytes == 3 * CHUNK


def test_stop_ends_it_and_a_missing_file_is_no_error(tmp_path: Path) -> None:
    missing = Prefetch(tmp_path / "nope").start()
    missing.stop()
    assert missing.bytes == 0
    fifo = tmp_path / "fifo"  # a reader that would block forever without stop()
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        prefetch = Prefetch(fifo).start()
        os.write(writer, b"x" * 10)
        prefetch._stop.set()
        os.write(writer, b"y")  # wake the blocked read; the loop then sees the stop
        prefetch.stop()
        assert not prefetch._thread.is_alive()
    finally:
        os.close(writer)


@pytest.mark.usefixtures("home")
def test_verify_with_prefetch_still_detects_a_changed_image(tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(3 * CHUNK))
    done = subprocess.run([*CLI, "image", str(source), "--case", "PF", "--json"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    manifest = json.loads(done.stdout)
    ok = subprocess.run([*CLI, "verify", manifest["evidence_id"], "--json"],
                        capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0 and json.loads(ok.stdout)["match"] is True
    image = Path(manifest["image_path"])
    os.chmod(image.parent, 0o755)
    os.chmod(image, 0o644)
    with open(image, "r+b") as fh:
        fh.seek(CHUNK + 5)
        byte = fh.read(1)[0]
        fh.seek(CHUNK + 5)
        fh.write(bytes([byte ^ 0xFF]))
    bad = subprocess.run([*CLI, "verify", manifest["evidence_id"], "--json"],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 20, bad.stderr
