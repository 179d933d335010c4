"""The read -> (hash, hash, ..., write) pipeline over a bounded pool of buffers.

The calling thread reads blocks into preallocated, page-aligned buffers; every
consumer (a digest, the image writer) has its own thread and FIFO queue and sees
every block in order. A buffer returns to the pool when all consumers are done
with it, so reads, hashing and writing overlap while memory stays at
``buffers * block_size`` whatever the source size. All heavy calls (``preadv``,
``write``, BLAKE3/hashlib updates) release the GIL.
"""

from __future__ import annotations

import mmap
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from custodyd.daemon.errors import Cancelled
from custodyd.daemon.imaging.progress import ProgressCallback, ProgressMeter

Consumer = Callable[[memoryview], None]
BlockReader = Callable[[memoryview, int], int]  # fill view from offset -> bytes read


class _Block:
    __slots__ = ("buf", "length", "offset", "pending", "view")

    def __init__(self, size: int) -> None:
        self.buf = mmap.mmap(-1, size)
        self.view = memoryview(self.buf)
        self.offset = 0
        self.length = 0
        self.pending = 0

    def close(self) -> None:
        """Unmap now, unless a slice is still referenced (e.g. by an error's traceback):
        then the mapping goes when that reference does."""
        try:
            self.view.release()
            self.buf.close()
        except BufferError:
            pass


class _Stage(threading.Thread):
    def __init__(self, name: str, fn: Consumer, pipeline: Pipeline) -> None:
        super().__init__(name=f"custodyd-{name}", daemon=True)
        self.fn = fn
        self.pipeline = pipeline
        self.inbox: queue.SimpleQueue[_Block | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.cpu_seconds = 0.0  # this thread's CPU time, known once it ends

    def run(self) -> None:
        while True:
            block = self.inbox.get()
            if block is None:
                self.cpu_seconds = time.thread_time()
                return
            if self.error is None and not self.pipeline.abort.is_set():
                try:
                    self.fn(block.view[: block.length])
                except BaseException as exc:
                    self.error = exc.with_traceback(None)  # frames would pin the buffer
                    self.pipeline.abort.set()
            self.pipeline.release(block)


@dataclass
class PassResult:
    bytes_read: int
    ended_early: bool  # the source returned end-of-file before its stated size
    cancelled: bool
    error: BaseException | None
    # CPU seconds of each consumer's thread (helper threads a consumer starts not included)
    stage_cpu: dict[str, float] = field(default_factory=dict)


class Pipeline:
    def __init__(
        self, consumers: Sequence[tuple[str, Consumer]], *, block_size: int, buffers: int
    ) -> None:
        self.abort = threading.Event()
        self._lock = threading.Lock()
        self._free: queue.SimpleQueue[_Block] = queue.SimpleQueue()
        self._blocks = [_Block(block_size) for _ in range(max(2, buffers))]
        for block in self._blocks:
            self._free.put(block)
        self.block_size = block_size
        self.stages = [_Stage(name, fn, self) for name, fn in consumers]

    def release(self, block: _Block) -> None:
        with self._lock:
            block.pending -= 1
            done = block.pending == 0
        if done:
            self._free.put(block)

    def run(
        self,
        read: BlockReader,
        size: int,
        *,
        progress: ProgressCallback | None = None,
        phase: str = "acquire",
        cancel: threading.Event | None = None,
    ) -> PassResult:
        """Read ``size`` bytes with ``read`` through every consumer. Never raises for a
        consumer's failure or a cancel: the result says what happened."""
        meter = ProgressMeter(size, progress, phase=phase)
        for stage in self.stages:
            stage.start()
        offset = 0
        ended_early = cancelled = False
        error: BaseException | None = None
        try:
            while offset < size:
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
                if self.abort.is_set():
                    break
                block = self._free.get()
                want = min(self.block_size, size - offset)
                n = read(block.view[:want], offset)
                block.offset, block.length = offset, n
                block.pending = len(self.stages)
                if n:
                    for stage in self.stages:
                        stage.inbox.put(block)
                else:
                    block.pending = 0
                    self._free.put(block)
                offset += n
                meter.update(offset)
                if n < want:
                    ended_early = True
                    break
        except (KeyboardInterrupt, Cancelled):
            cancelled = True
        except BaseException as exc:
            error = exc
        finally:
            if cancelled or error is not None:
                self.abort.set()
            for stage in self.stages:
                stage.inbox.put(None)
            for stage in self.stages:
                stage.join()
            for block in self._blocks:
                block.close()
        if error is None:
            error = next((s.error for s in self.stages if s.error is not None), None)
        if not cancelled and error is None:
            meter.update(offset, final=True)
        stage_cpu = {s.name.removeprefix("custodyd-"): s.cpu_seconds for s in self.stages}
        return PassResult(offset, ended_early, cancelled, error, stage_cpu)
