"""A FUSE filesystem exposing one file, ``disk.img``, whose reads fail with EIO in chosen
byte ranges: a real failing source for the bad-sector tests (run as a separate process).

Usage: python -m tests.imaging.faulty_fuse BACKING MOUNTPOINT START:LENGTH[,...] [DELAY]
       [FAIL_AFTER]

DELAY (seconds, optional) slows every read down: a source that takes long enough
for a test to interrupt the acquisition. FAIL_AFTER (optional): after that many
successful reads every read fails, like a disk that dies during the acquisition.

Mounted with ``direct_io`` so every read reaches this process with the caller's
offset and size (no page-cache rounding): a 512-byte read of a good sector next to
a bad one succeeds, exactly like a disk.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import time
from typing import Any

from mfusepy import FUSE, FuseOSError, Operations

NAME = "/disk.img"


class FaultyFile(Operations):  # type: ignore[misc]
    use_ns = True

    def __init__(
        self,
        backing: str,
        bad: list[tuple[int, int]],
        delay: float = 0.0,
        fail_after: int | None = None,
    ) -> None:
        self.delay = delay
        self.reads_left = fail_after
        self.fd = os.open(backing, os.O_RDONLY)
        self.size = os.fstat(self.fd).st_size
        self.bad = bad

    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        if path == "/":
            return {"st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2}
        if path == NAME:
            return {"st_mode": stat.S_IFREG | 0o444, "st_nlink": 1, "st_size": self.size}
        raise FuseOSError(errno.ENOENT)

    def readdir(self, path: str, fh: Any) -> list[str]:
        return [".", "..", NAME[1:]]

    def open(self, path: str, flags: int) -> int:
        if path != NAME:
            raise FuseOSError(errno.ENOENT)
        if flags & os.O_ACCMODE != os.O_RDONLY:
            raise FuseOSError(errno.EROFS)
        return 0

    def read(self, path: str, size: int, offset: int, fh: Any) -> bytes:
        if self.delay:
            time.sleep(self.delay)
        end = min(offset + size, self.size)
        if self.reads_left is not None:
            if self.reads_left <= 0:
                raise FuseOSError(errno.EIO)
            self.reads_left -= 1
        for start, length in self.bad:
            if offset < start + length and start < end:
                raise FuseOSError(errno.EIO)
        return os.pread(self.fd, end - offset, offset) if end > offset else b""


def main() -> None:
    backing, mountpoint, spec = sys.argv[1], sys.argv[2], sys.argv[3]
    bad = [(int(a), int(b)) for a, b in (part.split(":") for part in spec.split(",") if part)]
    delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    fail_after = int(sys.argv[5]) if len(sys.argv) > 5 else None
    FUSE(
        FaultyFile(backing, bad, delay, fail_after),
        mountpoint,
        foreground=True,
        ro=True,
        direct_io=True,
        nothreads=True,  # one request at a time: DELAY adds up predictably
        allow_other=True,
    )


if __name__ == "__main__":
    main()
