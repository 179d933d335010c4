"""Live progress says how many areas failed to read so far (the console's acquisition page
shows it while the copy runs), from a real FUSE file failing with EIO."""

from __future__ import annotations

from pathlib import Path

import pytest

from custodyd.daemon.imaging.engine import image_source
from custodyd.daemon.imaging.progress import Progress
from tests.conftest import needs_root
from tests.imaging.conftest import MiB, fuse_mount, random_file

pytestmark = [needs_root, pytest.mark.root]


def test_progress_counts_read_errors_while_copying(tmp_path: Path) -> None:
    backing = random_file(tmp_path / "backing.img", 4 * MiB, seed=5)
    bad = [(1 * MiB, 4096), (3 * MiB, 512)]
    seen: list[Progress] = []
    (tmp_path / "out").mkdir()
    with fuse_mount(backing, tmp_path / "mnt", bad) as source:
        result = image_source(
            source,
            tmp_path / "out" / "image.raw",
            window=1 * MiB,
            block_size=256 * 1024,
            buffers=3,
            progress=seen.append,
        )
    copying = [p for p in seen if p.phase == "acquire"]
    assert copying and copying[0].read_errors == 0
    assert max(p.read_errors for p in copying) >= 1
    assert max(p.read_error_bytes for p in copying) >= 512
    assert len(result.errors.ranges) == 2
