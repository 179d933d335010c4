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
        with contextlib.suppress(OSError):
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                buf = bytearray(CHUNK)
                while not self._stop.is_set() and self.bytes < self.limit:
                    n = os.preadv(fd, [buf], self.bytes)
                    if n <= 0:
                        break
                    self.bytes += n
            finally:
                os.close(fd)
