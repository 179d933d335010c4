"""Read the start of a file into the page cache while the process is still starting.

``custodyd verify`` spends its first few hundred milliseconds importing the
database layer and opening the ledger before the first byte of the image is
read; a disk idle meanwhile is time the user waits for nothing. A
:class:`Prefetch` thread reads the image sequentially (``os.preadv`` releases the
GIL, so it runs beside the imports) until :meth:`stop` — called when the real
hashing pass begins — or ``limit`` bytes. The hashing pass then re-reads that
head from memory and continues from disk; every byte is still hashed from the
file, the prefetch only changes when the disk is busy.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

CHUNK = 4 * 1024 * 1024
DEFAULT_LIMIT = 1024 * 1024 * 1024  # never more than this much page cache


class Prefetch:
    def __init__(self, path: Path, *, limit: int = DEFAULT_LIMIT) -> None:
        self.path = path
        self.limit = limit
        self.bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="custodyd-prefetch", daemon=True)

    def start(self) -> Prefetch:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop reading (idempotent); returns once the thread is done with the file."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        # Best effort by design: any error just ends the prefetch; the hashing pass
        # opens the file itself and reports every error it meets.
        # Each chunk is asked of the kernel (WILLNEED: read-ahead into the page cache,
        # no copy to this process), then its last page is read, which waits until the
        # chunk has arrived: the disk stays busy at the pace it can go, at little CPU.
        with contextlib.suppress(OSError):
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                size = os.fstat(fd).st_size
                page = bytearray(4096)
                while not self._stop.is_set() and self.bytes < min(self.limit, size):
                    length = min(CHUNK, size - self.bytes)
                    os.posix_fadvise(fd, self.bytes, length, os.POSIX_FADV_WILLNEED)
                    os.preadv(fd, [page], self.bytes + length - 1)
                    self.bytes += length
            finally:
                os.close(fd)
