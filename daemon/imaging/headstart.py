"""Hash a raw image while the process is still starting, for ``custodyd verify``.

A whole ``custodyd verify`` process spends ~0.6 CPU s (more from a cold page cache)
importing the database layer and opening the ledger before it knows, from the
database, which file to hash. Reading 2 GiB takes the disk 1-2 s whatever the
process does meanwhile. So the command's entry point guesses the image's path
from the store layout (``<store>/<case>/<EVIDENCE_ID>/image.raw``) and a
:class:`HeadStart` thread hashes that file beside the imports: ``os.preadv`` and
BLAKE3's ``update`` release the GIL, so the two overlap on two cores.

Trust does not depend on the guess. The verification takes the head start's
digests (:meth:`HeadStart.result_for`) only for the very file the database names:
the same device and inode, and unchanged (size, mtime, ctime) from before the
first byte was read until the database named it, and not an E01 image (those are
decoded by the verification itself). Anything else (another path, a changed
file, a read error, a failure of any kind) yields ``None``
and the verification hashes the file itself as it always did. The digests are
then compared with the recorded ones, and ``evidence.verified`` ledgered, exactly
as without a head start.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

# Not `typing.TYPE_CHECKING`: importing typing costs ~13 ms from a cold cache, before
# the first byte of the image is asked for (type checkers treat this name the same).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from custodyd.daemon.imaging.progress import ProgressCallback
    from custodyd.daemon.imaging.rehash import HashResult

# While the head start runs, the main thread imports (pure Python, holding the GIL).
# The hashing thread needs the GIL after each read and each update; at the default
# 5 ms switch interval it would wait up to 10 ms per block, slower than the disk.
SWITCH_INTERVAL = 0.0005
# Asked of the disk the moment the file is open, before the hashing code is loaded.
PRIME_BYTES = 64 * 1024 * 1024
# One read and one BLAKE3 update per 4 MiB: each needs the GIL back from the importing
# main thread, and on a busy machine every hand-over waits for the scheduler, so
# fewer, larger steps (4 MiB costs no more CPU than 1 MiB; 16 MiB leaves L2 and does).
READ_BYTES = 4 * 1024 * 1024
THREAD_NAME = "custodyd-headstart"


def _identity(st: os.stat_result) -> tuple[int, ...]:
    """What must not change between hashing a file and using its digests."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class HeadStart:
    """BLAKE3 of one raw image file, computed on a thread (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bytes_done = 0
        self.size = 0
        self._stop = threading.Event()
        self._result: HashResult | None = None
        self._identity: tuple[int, ...] | None = None
        self._thread = threading.Thread()  # replaced by start(); never started if the open fails
        self._tools: tuple[Any, ...] = ()
        self._switch_interval = sys.getswitchinterval()

    def start(self) -> HeadStart:
        """Ask the disk for the file's start, load the hashing code, start the thread.

        The imports happen here, on the calling thread, and the thread imports nothing:
        two threads importing at once can be handed each other's half-initialised
        modules (CPython breaks import-lock cycles that way), and the main thread is
        about to import a great deal.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return self  # no thread, no result: the verification hashes the file itself
        try:
            os.posix_fadvise(fd, 0, PRIME_BYTES, os.POSIX_FADV_WILLNEED)
            before = os.fstat(fd)
            import mmap
            import time

            from custodyd.daemon.imaging.hashers import new_blake3
            from custodyd.daemon.imaging.reader import pread_into
            from custodyd.daemon.imaging.rehash import HashResult
        except BaseException:
            os.close(fd)
            raise
        self.size = before.st_size
        self._tools = (mmap.mmap, time.monotonic, new_blake3, pread_into, HashResult)
        self._thread = threading.Thread(
            target=self._run, args=(fd, _identity(before)), name=THREAD_NAME, daemon=True
        )
        sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL))
        self._thread.start()
        return self

    def stop(self) -> None:
        """Abandon the head start (idempotent); returns once its thread is done."""
        self._stop.set()
        self._finish()

    def result_for(
        self,
        path: Path,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> HashResult | None:
        """The digests of ``path`` if they are this head start's file, unchanged; else None.

        Waits for the thread, passing its progress on (phase ``verify``). A ``cancel``
        set meanwhile stops it and yields None (the caller's own pass then reports
        the cancellation).
        """
        from custodyd.daemon.imaging.progress import ProgressMeter

        meter = ProgressMeter(self.size, progress, phase="verify")
        while self._thread.is_alive() and not (cancel is not None and cancel.is_set()):
            self._thread.join(timeout=0.1)
            meter.total = self.size
            meter.update(self.bytes_done)
        if cancel is not None and cancel.is_set():
            self.stop()
            return None
        self._finish()
        if self._result is None or self._identity is None:
            return None
        try:
            now = _identity(os.stat(path))
        except OSError:
            return None
        return self._result if now == self._identity else None

    def _finish(self) -> None:
        if self._thread.is_alive():
            self._thread.join()

    def _run(self, fd: int, before: tuple[int, ...]) -> None:
        # Best effort by design: whatever goes wrong leaves no result, and the
        # verification then hashes the file itself and reports what it meets.
        try:
            self._hash(fd, before)
        except Exception:  # no result is the whole report: the verification hashes itself
            pass
        finally:
            os.close(fd)
            sys.setswitchinterval(self._switch_interval)

    def _hash(self, fd: int, before: tuple[int, ...]) -> None:
        new_mmap, monotonic, new_blake3, pread_into, hash_result = self._tools
        started = monotonic()
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        digest = new_blake3(threads=1)
        buf = new_mmap(-1, READ_BYTES)
        view = memoryview(buf)
        try:
            while self.bytes_done < self.size:
                if self._stop.is_set():
                    return
                # A read error raises: no result, and the verification's own pass
                # re-reads the image sector by sector and reports it.
                n = pread_into(fd, view[: min(READ_BYTES, self.size - self.bytes_done)],
                               self.bytes_done)  # fmt: skip
                if n == 0:
                    break
                with view[:n] as chunk:
                    digest.update(chunk)
                self.bytes_done += n
        finally:
            view.release()
            buf.close()
        if self.bytes_done != self.size or _identity(os.fstat(fd)) != before:
            return
        self._identity = before
        self._result = hash_result(
            bytes=self.bytes_done,
            blake3=digest.hexdigest(),
            piecewise=[],
            read_errors=[],
            seconds=monotonic() - started,
        )
