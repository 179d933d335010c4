"""The acquisition queue: worker threads running the acquisition service on held media.

- ``settings.workers`` threads (default 1: one physical source at a time keeps
  the read sequential and the hardware at full speed);
- never two acquisitions of the same medium (``submit`` raises ``AcquisitionInProgress``);
- a medium is acquired only while it is attached and write-protected
  (``hardware`` or ``software`` verdict) — else ``WriteBlockError``;
- cancel (examiner, detach, shutdown) sets the job's event; the acquisition
  service then marks the evidence ``incomplete`` (partial image and error map
  kept) and raises ``Cancelled``. The ledger gets ``acquisition.incomplete``
  with the reason if the acquisition service did not already write it.
- ``settings.acquire_max_bps`` (0 = unlimited) caps the read rate, to keep a
  shared workstation responsive (and to let tests catch an acquisition mid-way).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import (
    AcquisitionInProgress,
    Cancelled,
    CustodydError,
    NotFound,
    WriteBlockError,
)
from custodyd.daemon.service.media import LiveMedium, MediaRegistry

if TYPE_CHECKING:
    from custodyd.daemon.imaging.output import ImageFormat

log = logging.getLogger("custodyd.queue")

ACTIVE = ("queued", "running")


@dataclass
class AcquisitionJob:
    id: str
    medium_key: str
    medium_id: int
    source: str
    case_ref: str
    actor: str
    submitted_at: datetime
    hashes: tuple[str, ...] = ()
    examiner: str | None = None
    notes: str | None = None
    output: ImageFormat | None = None  # None: the settings' image format
    resume: str | None = None  # continue this incomplete item from its map (same medium)
    state: str = "queued"  # queued | running | done | incomplete | failed
    bytes_done: int = 0
    bytes_total: int = 0
    rate_bps: float = 0.0
    eta_seconds: float | None = None
    read_errors: int = 0  # unreadable areas met so far
    read_error_bytes: int = 0
    evidence_id: str | None = None
    error: str | None = None
    cancel_reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "medium_key": self.medium_key,
            "medium_id": self.medium_id,
            "source": self.source,
            "case": self.case_ref,
            "actor": self.actor,
            "state": self.state,
            "bytes_done": self.bytes_done,
            "bytes_total": self.bytes_total,
            "rate_bps": self.rate_bps,
            "eta_seconds": self.eta_seconds,
            "read_errors": self.read_errors,
            "read_error_bytes": self.read_error_bytes,
            "evidence_id": self.evidence_id,
            "error": self.error,
            "cancel_reason": self.cancel_reason,
            "submitted_at": iso(self.submitted_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
        }


AcquireFn = Callable[..., dict[str, Any]]


def _size_now(kernel_name: str) -> int | None:
    """The device's current size in bytes from sysfs (None when it is gone)."""
    try:
        return int(Path(f"/sys/class/block/{kernel_name}/size").read_text()) * 512
    except (OSError, ValueError):
        return None


def _default_acquire() -> AcquireFn:
    from custodyd.daemon.acquisition import acquire

    return acquire


class AcquisitionQueue:
    def __init__(
        self,
        ctx: AppContext,
        media: MediaRegistry,
        *,
        workers: int = 1,
        acquire: AcquireFn | None = None,
        max_bps: int = 0,
    ) -> None:
        self.ctx = ctx
        self.media = media
        self.workers = max(1, workers)
        self._acquire = acquire
        self.max_bps = max_bps
        self._jobs: dict[str, AcquisitionJob] = {}
        self._pending: queue.Queue[str | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        media.queue = self

    # -- lifecycle --------------------------------------------------------
    def start(self) -> None:
        for n in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"acquire-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def shutdown(self, timeout: float = 60.0) -> list[AcquisitionJob]:
        """Cancel everything queued or running and wait for the workers."""
        cancelled = []
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.state in ACTIVE]
        for job in jobs:
            self._cancel(job, "daemon shutdown")
            cancelled.append(job)
        for _ in self._threads:
            self._pending.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return cancelled

    # -- API --------------------------------------------------------------
    def submit(
        self,
        medium_key_or_id: str | int,
        case_ref: str,
        *,
        actor: str,
        hashes: Sequence[str] = (),
        examiner: str | None = None,
        notes: str | None = None,
        output: ImageFormat | None = None,
        resume: str | None = None,
    ) -> AcquisitionJob:
        """Queue an acquisition of an attached, write-protected medium into ``case_ref``
        (with ``resume``: the continuation of that incomplete item of the medium)."""
        medium = self.media.get(medium_key_or_id)
        if medium.write_block not in ("hardware", "software") or not (
            medium.read_only or medium.write_block == "hardware"
        ):
            raise WriteBlockError(
                f"{medium.path} is not write-protected (write_block={medium.write_block}); "
                "it will not be acquired",
                medium=medium.key,
            )
        with self._lock:
            busy = [
                j for j in self._jobs.values() if j.medium_key == medium.key and j.state in ACTIVE
            ]
            if busy:
                raise AcquisitionInProgress(
                    f"{medium.path} is already being acquired (job {busy[0].id})",
                    medium=medium.key,
                    job=busy[0].id,
                )
            job = AcquisitionJob(
                id=uuid.uuid4().hex[:12],
                medium_key=medium.key,
                medium_id=medium.id,
                source=medium.path,
                case_ref=case_ref,
                actor=actor,
                submitted_at=self.ctx.clock.now(),
                hashes=tuple(hashes) or tuple(self.ctx.settings.extra_hashes),
                examiner=examiner,
                notes=notes,
                output=output,
                resume=resume,
                evidence_id=resume,
            )
            self._jobs[job.id] = job
        medium.job_id = job.id
        self.media.set_state(medium, "queued")
        self._pending.put(job.id)
        log.info(
            "acquisition queued",
            extra={"event": "acquisition.queued", "job": job.id, "device": job.source},
        )
        return job

    def list(self) -> list[AcquisitionJob]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.submitted_at)

    def get(self, job_id: str) -> AcquisitionJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no acquisition {job_id!r}", acquisition=job_id)
        return job

    def cancel(self, job_id: str, *, actor: str, reason: str = "cancelled") -> AcquisitionJob:
        job = self.get(job_id)
        self._cancel(job, f"{reason} by {actor}")
        return job

    def cancel_for_medium(self, key: str, reason: str) -> AcquisitionJob | None:
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.medium_key == key and j.state in ACTIVE]
        for job in jobs:
            self._cancel(job, reason)
        return jobs[0] if jobs else None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        with self._lock:
            for job in self._jobs.values():
                out[job.state] = out.get(job.state, 0) + 1
        return out

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(j.state in ACTIVE for j in self.list()):
                return True
            time.sleep(0.05)
        return False

    # -- workers ----------------------------------------------------------
    def _cancel(self, job: AcquisitionJob, reason: str) -> None:
        if job.cancel_reason is None:
            job.cancel_reason = reason
        job.cancel.set()

    def _medium(self, job: AcquisitionJob) -> LiveMedium | None:
        return self.media.find_by_key(job.medium_key)

    def _work(self) -> None:
        while True:
            job_id = self._pending.get()
            if job_id is None:
                return
            job = self._jobs[job_id]
            try:
                self._run(job)
            except Exception:  # never let one job kill the worker
                log.exception("acquisition worker error on job %s", job.id)

    def _progress(self, job: AcquisitionJob, started: float) -> Callable[[Any], None]:
        def report(progress: Any) -> None:
            job.bytes_done = int(getattr(progress, "bytes_done", 0))
            job.bytes_total = int(getattr(progress, "bytes_total", 0))
            job.rate_bps = float(getattr(progress, "rate_bps", 0.0) or 0.0)
            job.eta_seconds = getattr(progress, "eta_seconds", None)
            if str(getattr(progress, "phase", "acquire")) == "acquire":
                job.read_errors = int(getattr(progress, "read_errors", 0) or 0)
                job.read_error_bytes = int(getattr(progress, "read_error_bytes", 0) or 0)
            if self.max_bps > 0:  # throttle: sleep until the average rate is under the cap
                ahead = job.bytes_done / self.max_bps - (time.monotonic() - started)
                if ahead > 0:
                    job.cancel.wait(ahead)

        return report

    def _run(self, job: AcquisitionJob) -> None:
        medium = self._medium(job)
        if job.cancel.is_set() or medium is None:
            job.state = "incomplete" if job.cancel.is_set() else "failed"
            job.error = job.cancel_reason or "medium no longer attached"
            job.finished_at = self.ctx.clock.now()
            return
        present = _size_now(medium.device.kernel_name)
        if present != medium.device.size:
            # detached (or swapped) between queueing and now: never image an empty node
            job.state = "failed"
            job.error = (
                f"{job.source} no longer holds the medium that was queued "
                f"(size {present}, expected {medium.device.size})"
            )
            job.finished_at = self.ctx.clock.now()
            log.error("acquisition not started: %s", job.error)
            return
        if not self.media.ensure_read_only(medium):
            job.state = "failed"
            job.error = f"{job.source} is no longer read-only and could not be made read-only"
            job.finished_at = self.ctx.clock.now()
            self.media.set_state(medium, "refused")
            log.error("acquisition not started: %s", job.error)
            return
        job.state = "running"
        job.started_at = self.ctx.clock.now()
        self.media.set_state(medium, "acquiring")
        log.info(
            "acquisition started",
            extra={"event": "acquisition.started", "job": job.id, "device": job.source},
        )
        acquire = self._acquire or _default_acquire()
        try:
            if job.resume is not None:
                from custodyd.daemon.resume import resume

                manifest = resume(
                    self.ctx,
                    job.resume,
                    actor=job.actor,
                    source=Path(job.source),
                    progress=self._progress(job, time.monotonic()),
                    cancel=job.cancel,
                )
            else:
                manifest = acquire(
                    self.ctx,
                    Path(job.source),
                    job.case_ref,
                    actor=job.actor,
                    hashes=job.hashes,
                    examiner=job.examiner,
                    notes=job.notes,
                    medium_id=job.medium_id,
                    **({"output": job.output} if job.output is not None else {}),
                    progress=self._progress(job, time.monotonic()),
                    cancel=job.cancel,
                )
        except Cancelled as exc:
            # the job's final state is set last: whoever waits on it sees the ledger done
            job.evidence_id = exc.extra.get("evidence_id") or job.evidence_id
            job.error = job.cancel_reason or exc.detail
            self._record_incomplete(job)
            self.media.set_state(medium, "incomplete")
            job.state = "incomplete"
            log.warning(
                "acquisition incomplete",
                extra={"event": "acquisition.incomplete", "job": job.id, "reason": job.error},
            )
        except Exception as exc:
            final = "incomplete" if job.cancel.is_set() else "failed"
            job.error = (
                job.cancel_reason
                if job.cancel.is_set()
                else (exc.detail if isinstance(exc, CustodydError) else repr(exc))
            )
            if isinstance(exc, CustodydError):
                job.evidence_id = exc.extra.get("evidence_id") or job.evidence_id
            self._record_incomplete(job)
            self.media.set_state(medium, final)
            job.state = final
            log.error(
                "acquisition failed",
                extra={"event": "acquisition.failed", "job": job.id, "error": job.error},
            )
        else:
            job.evidence_id = str(manifest.get("evidence_id"))
            from custodyd.daemon.orders.object_lock import lock_new_item

            try:  # an item in S3 under orders of its case is locked at once
                lock_new_item(self.ctx, manifest, actor=job.actor)
            except (
                Exception
            ) as exc:  # the item is sealed; the lock is retried on the next order change
                log.error("object lock after acquisition failed: %s", exc)
            self.media.set_state(medium, "acquired", evidence_id=job.evidence_id)
            job.state = "done"
            log.info(
                "acquisition done",
                extra={
                    "event": "acquisition.done",
                    "job": job.id,
                    "evidence": job.evidence_id,
                    "bytes": manifest.get("bytes"),
                    "seconds": manifest.get("seconds"),
                },
            )
        finally:
            job.finished_at = self.ctx.clock.now()
            if medium.job_id == job.id and job.state != "running":
                medium.job_id = None

    def _find_evidence(self, job: AcquisitionJob) -> str | None:
        """The evidence item the acquisition service created for this job (if it got that far)."""
        from sqlmodel import col, select

        from custodyd.daemon.models import Evidence

        if job.started_at is None:
            return None
        with self.ctx.session() as session:
            row = session.exec(
                select(Evidence.id)
                .where(Evidence.medium_id == job.medium_id)
                .where(Evidence.created_at >= job.started_at)
                .order_by(col(Evidence.created_at).desc())
            ).first()
            return row

    def _record_incomplete(self, job: AcquisitionJob) -> None:
        """``acquisition.incomplete`` with our reason, unless the service already wrote one."""
        ledger = self.ctx.ledger
        job.evidence_id = job.evidence_id or self._find_evidence(job)
        if job.evidence_id:
            try:
                history = ledger.history(job.evidence_id)
            except Exception:
                history = []
            if any(e.action == "acquisition.incomplete" for e in history):
                return
        ledger.append(
            "acquisition.incomplete",
            actor="system:custodyd",
            case=job.case_ref,
            evidence=job.evidence_id,
            payload={
                "job": job.id,
                "medium_id": job.medium_id,
                "medium_key": job.medium_key,
                "reason": job.error,
                "bytes_done": job.bytes_done,
                "bytes_total": job.bytes_total,
            },
        )
