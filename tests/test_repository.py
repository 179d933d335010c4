"""The checkout itself: no merge left half-done in a tracked file.

A conflicted merge committed by mistake leaves ``<<<<<<<``/``>>>>>>>`` lines in
the README (the documented commands and guarantees) or in code; this fails the
run instead of shipping them.
"""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO

MARKER = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)


def test_no_tracked_file_holds_merge_conflict_markers() -> None:
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True
    )
    found = []
    for name in filter(None, listed.stdout.decode().split("\0")):
        path = REPO / name
        if not path.is_file() or path.suffix in {".png", ".pdf", ".E01", ".gz"}:
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        found += [f"{name}:{text.count(chr(10), 0, m.start()) + 1}" for m in MARKER.finditer(text)]
    assert not found, f"merge conflict markers committed: {found}"
