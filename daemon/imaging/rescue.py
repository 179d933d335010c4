"""Reading a failing source the way GNU ddrescue does: good data first, bad areas last.

A dying disk may not survive long, and hammering one bad area sector by sector can
kill it sooner. So, like ddrescue (its manual, "Algorithm"):

1. **Copying** (pass 1, inside the streaming pipeline): large reads; when one fails,
   its clusters are retried, the first failing cluster is marked *non-trimmed* and the
   reader *skips ahead* (64 KiB, doubling while errors continue, reset by a good read),
   leaving the skipped bytes *non-tried*. Unread bytes are zero-filled in the image.
2. **Copying non-tried** areas cluster by cluster (a failing cluster: non-trimmed).
3. **Trimming**: each non-trimmed area is read one sector at a time from its start
   forward and from its end backward up to the first failure; failures are *bad
   sectors*, what lies between is *non-scraped*.
4. **Scraping**: every non-scraped sector is read once: finished or bad sector.
5. **Retrying** (``retries`` passes, 0 by default as in ddrescue): bad sectors again.

Passes 2-5 write what they recover into the image in place (``pwrite``), so the image
is positional throughout and the map (:mod:`.mapfile`, GNU format) says exactly which
bytes are evidence. Digests streamed during pass 1 do not cover bytes recovered
later: when any pass after the first ran, the caller re-hashes the finished image.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from custodyd.daemon.errors import Cancelled, DestinationError, DestinationFull, SourceError
from custodyd.daemon.imaging import mapfile
from custodyd.daemon.imaging.mapfile import RescueMap
from custodyd.daemon.imaging.progress import ProgressCallback, ProgressMeter
from custodyd.daemon.imaging.reader import (
    BLKGETSIZE64,
    MEDIA_ERRNOS,
    READ_CHUNK,
    SourceInfo,
    SourceReader,
    pread_into,
)
from custodyd.daemon.imaging.writer import DIRECT_ALIGN

CLUSTER = 64 * 1024  # ddrescue's default cluster: 128 sectors of 512 bytes
SKIP_MIN = 64 * 1024  # ddrescue's default initial skip size
SKIP_MAX = 1024 * 1024 * 1024
SAVE_EVERY = 5.0  # seconds between map snapshots during pass 1 (ddrescue: 30 s)

Log = Callable[[str], None]


@dataclass
class RescueStats:
    """What the passes after the first did (for the log and the manifest)."""

    passes: list[dict[str, int | str]]

    @property
    def ran(self) -> bool:
        return bool(self.passes)


class MapKeeper:
    """The rescue map shared by the reader thread and the image writer's thread.

    During pass 1 the reader marks bytes as it reads them, but they reach the image
    later (the writer is another consumer). A snapshot saved to disk therefore
    trusts only what the writer has written *and synced*: beyond that, everything is
    non-tried again, so a resume never believes in bytes a power cut took away.
    """

    def __init__(self, rmap: RescueMap, path: Path | None, command: str = "") -> None:
        self.map = rmap
        self.path = path
        self.command = command
        self.lock = threading.Lock()
        self._saved_at = time.monotonic()

    def set(self, pos: int, size: int, status: str) -> None:
        with self.lock:
            self.map.set(pos, size, status)

    def save(self, *, durable_upto: int | None = None) -> None:
        """Write the map (atomically); with ``durable_upto``, bytes beyond it as non-tried."""
        if self.path is None:
            return
        with self.lock:
            snapshot = RescueMap(
                self.map.size,
                [mapfile.Block(b.pos, b.size, b.status) for b in self.map.blocks],
                self.map.current_pos,
                self.map.current_status,
                self.map.current_pass,
            )
        if durable_upto is not None and durable_upto < snapshot.size:
            snapshot.set(durable_upto, snapshot.size - durable_upto, mapfile.NON_TRIED)
            snapshot.current_pos = min(snapshot.current_pos, durable_upto)
        snapshot.write(self.path, command=self.command)
        self._saved_at = time.monotonic()

    def settled(self, pos: int, end: int) -> bool:
        """``[pos, end)`` is read whole: no rescue pass will write into it (a sink that
        cannot patch what it has sent, an upload, holds back what is not settled)."""
        with self.lock:
            return self.map.all_finished(pos, end)

    def due(self) -> bool:
        return self.path is not None and time.monotonic() - self._saved_at >= SAVE_EVERY


class CopyReader(SourceReader):
    """Pass 1: the pipeline's block reader. Never fails for a media error: the failed
    and skipped bytes are zero-filled and left to the later passes in the map."""

    def __init__(
        self,
        fd: int,
        info: SourceInfo,
        keeper: MapKeeper,
        *,
        cancel: threading.Event | None = None,
    ) -> None:
        super().__init__(fd, info, cancel=cancel)
        self.keeper = keeper
        self._skip = SKIP_MIN
        self._skip_until = 0  # bytes before this are being skipped (non-tried)
        self.errors_seen = 0

    def read(self, view: memoryview, offset: int) -> int:
        length = len(view)
        done = 0
        self.keeper.map.current_pos = offset
        while done < length:
            pos = offset + done
            if pos < self._skip_until:  # inside a skip: leave for pass 2
                step = min(self._skip_until - pos, length - done)
                view[done : done + step] = bytes(step)
                self.keeper.set(pos, step, mapfile.NON_TRIED)
                done += step
                continue
            fast = self.errors_seen == 0
            size = min(READ_CHUNK if fast else CLUSTER - pos % CLUSTER, length - done)
            n = self._read_once(view[done : done + size], pos)
            if n is None and fast:  # somewhere in this chunk: find it cluster by cluster
                self.errors_seen = 1
                continue
            if n is None:  # media error: this cluster waits for trimming; skip ahead
                view[done : done + size] = bytes(size)
                self.keeper.set(pos, size, mapfile.NON_TRIMMED)
                self.errors_seen += 1
                self._skip_until = pos + size + self._skip
                self._skip = min(self._skip * 2, SKIP_MAX, max(SKIP_MIN, self.info.size // 100))
                done += size
                continue
            if n == 0:
                return done
            self.keeper.set(pos, n, mapfile.FINISHED)
            self._skip = SKIP_MIN
            if not fast and (pos + n) % READ_CHUNK == 0:
                self.errors_seen = 0  # good up to a chunk boundary: full speed again
            done += n
        return done

    def _read_once(self, chunk: memoryview, offset: int) -> int | None:
        """Bytes read into ``chunk`` (short only at end of source); None on a media error."""
        try:
            return os.preadv(self.fd, [chunk], offset)
        except OSError as exc:
            if exc.errno in MEDIA_ERRNOS:
                check_present(self.fd, self.info)
                return None
            raise SourceError(f"reading source at byte {offset}: {exc.strerror}") from exc


def check_present(fd: int, info: SourceInfo) -> None:
    """A read error from a medium that is gone (pulled, detached loop) is not a bad
    sector: raise instead of zero-filling and scraping the rest of a missing disk."""
    if not info.is_device:
        return
    try:
        size = struct.unpack("Q", fcntl.ioctl(fd, BLKGETSIZE64, b"\0" * 8))[0]
    except OSError:
        size = 0
    if size != info.size:
        raise SourceError(
            f"source {info.path} is gone (now {size} bytes of {info.size}): pulled or detached"
        )


class Rescuer:
    """Passes 2-5 over an open source and the image being written (positional)."""

    def __init__(
        self,
        reader: SourceReader,
        image_fd: int,
        keeper: MapKeeper,
        *,
        retries: int = 0,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        log: Log | None = None,
        direct_fd: int | None = None,
    ) -> None:
        """``direct_fd``: the image opened ``O_DIRECT`` (see :class:`.writer.ImageWriter`):
        aligned whole chunks of the copying pass go there, without a page-cache copy
        and its write-back; sector writes of trimming and scraping stay buffered."""
        self.reader = reader
        self.image_fd = image_fd
        self.keeper = keeper
        self.map = keeper.map
        self.sector = reader.sector_size
        self.retries = retries
        self.progress = progress
        self.cancel = cancel
        self.say = log or (lambda _msg: None)
        self._buf = bytearray(max(READ_CHUNK, self.sector))
        self._ahead = (
            _AheadWriter(direct_fd, image_fd, keeper, READ_CHUNK) if direct_fd is not None else None
        )

    def run(self) -> RescueStats:
        try:
            return self._run()
        finally:
            if self._ahead is not None:
                self._ahead.close()

    def _run(self) -> RescueStats:
        stats = RescueStats([])
        steps: list[tuple[str, str, Callable[[mapfile.Block, ProgressMeter, int], int]]] = [
            ("copying non-tried", mapfile.COPYING, self._copy_area),
            ("trimming", mapfile.TRIMMING, self._trim_area),
            ("scraping", mapfile.SCRAPING, self._scrape_area),
        ]
        wanted = {
            mapfile.COPYING: mapfile.NON_TRIED,
            mapfile.TRIMMING: mapfile.NON_TRIMMED,
            mapfile.SCRAPING: mapfile.NON_SCRAPED,
        }
        number = 1
        for name, run_state, step in steps:
            areas = self.map.areas(wanted[run_state])
            if areas:
                number += 1
                stats.passes.append(self._pass(number, name, run_state, areas, step))
        for attempt in range(self.retries):
            areas = self.map.areas(mapfile.BAD_SECTOR)
            if not areas:
                break
            number += 1
            stats.passes.append(
                self._pass(
                    number, f"retry {attempt + 1}", mapfile.RETRYING, areas, self._scrape_area
                )
            )
        self.save()
        return stats

    def save(self) -> None:
        """Save the map after the image: the map may only vouch for bytes on disk."""
        if self._ahead is not None:
            self._ahead.drain()
        os.fsync(self.image_fd)  # why: the map saved next vouches for these bytes
        self.keeper.save()

    def _pass(
        self,
        number: int,
        name: str,
        run_state: str,
        areas: list[mapfile.Block],
        step: Callable[[mapfile.Block, ProgressMeter, int], int],
    ) -> dict[str, int | str]:
        started = time.monotonic()
        total = sum(a.size for a in areas)
        before = self.map.rescued
        self.map.current_status, self.map.current_pass = run_state, number
        self.say(f"pass {number} ({name}): {len(areas)} area(s), {total} bytes")
        meter = ProgressMeter(total, self.progress, phase=f"rescue: {name}")
        done = 0
        for area in areas:
            done = step(area, meter, done)
            if self.keeper.due():
                self.save()
        meter.update(total, final=True)
        self.save()
        rescued = self.map.rescued - before
        seconds = time.monotonic() - started
        self.say(
            f"pass {number} ({name}) done in {seconds:.2f}s: {rescued} bytes recovered, "
            f"{self.map.bytes_in(mapfile.BAD_SECTOR)} bytes in bad sectors"
        )
        return {
            "pass": number,
            "name": name,
            "areas": len(areas),
            "bytes": total,
            "recovered": rescued,
            "seconds": round(seconds, 3),
        }

    # -- the steps ---------------------------------------------------------------------

    def _copy_area(self, area: mapfile.Block, meter: ProgressMeter, done: int) -> int:
        """Large reads while they succeed; a failing chunk is retried cluster by cluster,
        and a failing cluster waits for trimming (no skipping: pass 1 did that)."""
        pos = area.pos
        while pos < area.end:
            self._check_cancel(pos)
            size = min(READ_CHUNK - pos % READ_CHUNK, area.end - pos)
            if self._read_write(pos, size):
                self.keeper.set(pos, size, mapfile.FINISHED)
            else:
                self._copy_clusters(pos, pos + size)
            self.map.current_pos = pos = pos + size
            done += size
            meter.update(done)
            if self.keeper.due():
                self.save()
        return done

    def _copy_clusters(self, pos: int, end: int) -> None:
        while pos < end:
            self._check_cancel(pos)
            step = min(CLUSTER - pos % CLUSTER, end - pos)
            ok = self._read_write(pos, step)
            self.keeper.set(pos, step, mapfile.FINISHED if ok else mapfile.NON_TRIMMED)
            pos += step

    def _trim_area(self, area: mapfile.Block, meter: ProgressMeter, done: int) -> int:
        pos, end = area.pos, area.end
        while pos < end:  # forward from the leading edge
            self._check_cancel(pos)
            size = self._sector_span(pos, end)
            ok = self._read_write(pos, size)
            self.keeper.set(pos, size, mapfile.FINISHED if ok else mapfile.BAD_SECTOR)
            pos += size
            if not ok:
                break
        while end > pos:  # backward from the trailing edge
            self._check_cancel(end)
            start = max(pos, end - ((end - 1) % self.sector + 1))
            ok = self._read_write(start, end - start)
            self.keeper.set(start, end - start, mapfile.FINISHED if ok else mapfile.BAD_SECTOR)
            end = start
            if not ok:
                break
        if end > pos:
            self.keeper.set(pos, end - pos, mapfile.NON_SCRAPED)
        self.map.current_pos = area.end
        meter.update(done + area.size)
        return done + area.size

    def _scrape_area(self, area: mapfile.Block, meter: ProgressMeter, done: int) -> int:
        pos = area.pos
        while pos < area.end:
            self._check_cancel(pos)
            size = self._sector_span(pos, area.end)
            ok = self._read_write(pos, size)
            self.keeper.set(pos, size, mapfile.FINISHED if ok else mapfile.BAD_SECTOR)
            self.map.current_pos = pos = pos + size
            done += size
            meter.update(done)
        return done

    # -- I/O -----------------------------------------------------------------------------

    def _sector_span(self, pos: int, end: int) -> int:
        return min(self.sector - pos % self.sector, end - pos)

    def _check_cancel(self, pos: int) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"cancelled while rescuing at byte {pos}")

    def _read_write(self, pos: int, size: int) -> bool:
        """Read ``[pos, pos+size)`` from the source into the image; False on a media error.

        A whole-sector read on a device goes through the reader's ``O_DIRECT`` path
        so one bad sector is not reported as a whole page. Whole aligned chunks of the
        copying pass are written ``O_DIRECT`` while the next chunk is read
        (:class:`_AheadWriter`); every other write waits for those first."""
        ahead = self._ahead
        if ahead is not None and (size <= self.sector or (pos | size) % DIRECT_ALIGN):
            ahead.drain()
            ahead = None
        chunk = ahead.buffer()[:size] if ahead is not None else memoryview(self._buf)[:size]
        try:
            if size == self.sector:
                got = self.reader._read_sector(chunk, pos)
            else:
                got = pread_into(self.reader.fd, chunk, pos)
        except OSError as exc:
            if exc.errno in MEDIA_ERRNOS:
                check_present(self.reader.fd, self.reader.info)
                return False
            raise SourceError(f"reading source at byte {pos}: {exc.strerror}") from exc
        if got < size:  # the source ended early (shrunk, pulled): not a bad sector
            raise SourceError(f"source ended at byte {pos + got} during rescue")
        if ahead is not None:
            ahead.submit(size, pos)
        else:
            _pwrite_full(self.image_fd, chunk, pos)
        return True


class _AheadWriter:
    """The copying pass's writes, ``O_DIRECT`` on a thread of their own.

    A direct write returns only once the device has the data; done in line it would
    add the disk's time to the source's for every chunk. Here the next chunk is read
    from the source while up to ``DEPTH`` earlier ones go to the disk. The map may
    vouch for a chunk only once its write is done: :meth:`drain` runs before every
    map save (and before any other write), and a chunk whose write failed is marked
    non-tried again before the error is raised, so no map ever claims it.
    """

    DEPTH = 4

    def __init__(self, direct_fd: int, buffered_fd: int, keeper: MapKeeper, size: int) -> None:
        self.direct_fd: int | None = direct_fd
        self.buffered_fd = buffered_fd
        self.keeper = keeper
        self._bufs = [mmap.mmap(-1, size) for _ in range(self.DEPTH)]  # page-aligned
        self._pending: list[tuple[Future[None], int, int] | None] = [None] * self.DEPTH
        self._next = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="custodyd-rescue-write")

    def buffer(self) -> memoryview:
        """The buffer the next chunk is read into (its previous write done)."""
        self._wait(self._next)
        return memoryview(self._bufs[self._next])

    def submit(self, size: int, pos: int) -> None:
        """Write the first ``size`` bytes of :meth:`buffer`'s buffer at ``pos``."""
        i = self._next
        view = memoryview(self._bufs[i])[:size]
        self._pending[i] = (self._pool.submit(self._write, view, pos), pos, size)
        self._next = (i + 1) % self.DEPTH

    def _write(self, view: memoryview, pos: int) -> None:
        if self.direct_fd is not None:
            try:
                _pwrite_full(self.direct_fd, view, pos, direct=True)
                return
            except _DirectRefused:
                self.direct_fd = None  # the image writer owns and closes it
        _pwrite_full(self.buffered_fd, view, pos)

    def _wait(self, i: int) -> None:
        pending, self._pending[i] = self._pending[i], None
        if pending is None:
            return
        future, pos, size = pending
        try:
            future.result()
        except BaseException:
            self.keeper.set(pos, size, mapfile.NON_TRIED)
            raise

    def drain(self) -> None:
        """Wait for every write submitted; raise the first that failed."""
        first: BaseException | None = None
        for step in range(self.DEPTH):
            try:
                self._wait((self._next + step) % self.DEPTH)
            except BaseException as exc:
                first = first or exc
        if first is not None:
            raise first

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self._pool.shutdown(wait=True)


def _pwrite_full(fd: int, view: memoryview, offset: int, *, direct: bool = False) -> None:
    """Write all of ``view`` at ``offset``; a short write is continued, never ignored."""
    done = 0
    while done < len(view):
        try:
            n = os.pwrite(fd, view[done:], offset + done)
        except OSError as exc:
            if exc.errno == errno.EINVAL and direct:
                raise _DirectRefused from None
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DestinationFull(f"destination full while rescuing at byte {offset}") from None
            raise DestinationError(f"writing image at {offset}: {exc.strerror}") from None
        if n == 0:
            raise DestinationError(f"writing image at {offset}: no progress")
        done += n


class _DirectRefused(Exception):
    """The destination refused an ``O_DIRECT`` write (EINVAL); it is redone buffered."""
