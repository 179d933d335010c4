"""The live media registry: what is attached now, how it is protected, what happens to it.

On attach (a whole disk that is not one of the machine's own disks):

1. the kernel read-only flag is set on the disk and its partitions with
   ``BLKROSET`` *before* anything of ours opens it (unless already set);
2. the write-block verdict is computed (hardware / software / none);
3. the ledger records ``medium.attached`` (identity + verdict), then
   ``medium.read_only_set`` when we set the flag, or ``medium.refused`` when a
   medium without protection could not be made read-only (it is never acquired);
4. the policy decides: ``auto`` (``settings.auto_acquire`` names a case) submits
   an acquisition; otherwise the medium is ``held`` until an examiner starts one.

A medium that comes back after an acquisition was cut short (re-attach) is
acquired again *from the start* into new evidence (``auto``); the ledger's
``medium.attached`` says so (``reattach``, ``resume: restart...``, the earlier
evidence ids). At daemon start, media already present that this daemon had
seen before (an incomplete or sealed acquisition) are held, not re-acquired
automatically: a restart or crash loop must never image the same medium again
and again, and nothing is double-counted.

On detach: a running acquisition of it is cancelled (the acquisition service
marks it ``incomplete`` and keeps the partial image and error map) and the
ledger records ``medium.detached``.
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlmodel import Session, select

from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import NotFound
from custodyd.daemon.ledger.service import Event
from custodyd.daemon.ledger.staged import staged
from custodyd.daemon.models import Evidence, Medium
from custodyd.daemon.resume import resumable_item
from custodyd.hardware import readonly
from custodyd.hardware.device import BlockDevice
from custodyd.hardware.hdparm import hidden_areas
from custodyd.hardware.monitor import MediumEvent
from custodyd.hardware.system_disks import SystemDisks
from custodyd.hardware.writeblock import verdict

log = logging.getLogger("custodyd.media")


class Acquirer(Protocol):
    """What the registry asks of the acquisition queue (which itself builds on the registry).

    Declared here so that the dependency runs one way: ``queue`` imports ``media``.
    """

    def submit(
        self,
        medium_key_or_id: str | int,
        case_ref: str,
        *,
        actor: str,
        resume: str | None = None,
    ) -> Any: ...

    def cancel_for_medium(self, key: str, reason: str) -> Any: ...


ACTOR = "system:custodyd"


@dataclass(frozen=True)
class Decision:
    """What happens to a medium that arrived: the media policy's answer."""

    state: str  # refused | queued (auto-acquire) | held (an examiner decides)
    policy: str  # auto | hold
    refusal: str | None = None  # why it will not be acquired (recorded, shown)
    resume: str | None = None  # for a medium seen before: what happens to its earlier work


def decide(
    *,
    devnode: str,
    write_block: str,
    write_block_reason: str | None,
    ro_error: str | None,
    auto_acquire: str | None,
    at_startup: bool,
    seen_before: bool,
    resumable: str | None = None,
) -> Decision:
    """The media policy, pure: no device, no database (tested without root).

    A medium is refused when nothing protects it from writes: no write blocker
    (``write_block == "none"``), or the kernel read-only flag could not be set and
    no hardware blocker stands in. Otherwise it is acquired at once under an
    ``auto_acquire`` case — except a medium already known that was present when
    the daemon started (a restart must not start a second acquisition behind an
    examiner's back) — or held for an examiner. A medium coming back with an
    ``incomplete`` item that can be resumed (``resumable``: its evidence id) is
    resumed from its rescue map in that item, not acquired again from sector 0.
    """
    if write_block == "none" or (ro_error is not None and write_block != "hardware"):
        refusal = (
            f"{devnode} is not write-protected and could not be made read-only "
            f"({ro_error or write_block_reason}); it will not be acquired"
        )
        state, policy = "refused", "hold"
    else:
        refusal = None
        auto = bool(auto_acquire) and not (at_startup and seen_before)
        state, policy = ("queued", "auto") if auto else ("held", "hold")
    resume: str | None = None
    if seen_before:
        if at_startup:
            resume = "held: present when the daemon started; an examiner decides"
        elif policy == "auto" and resumable:
            resume = f"resume: {resumable} continues from its rescue map, in the same item"
        elif policy == "auto":
            resume = (
                "restart: a new acquisition from the first sector into new evidence; "
                "earlier evidence (sealed or incomplete) stays as it is"
            )
        else:
            resume = "held: an examiner decides"
    return Decision(state, policy, refusal, resume)


@dataclass
class LiveMedium:
    """One attached medium as the daemon sees it now."""

    id: int  # media.id in the database
    key: str
    device: BlockDevice
    read_only: bool
    write_block: str  # hardware | software | none
    write_block_reason: str
    state: str  # held | queued | acquiring | acquired | incomplete | failed | refused | detached
    attached_at: datetime
    policy: str = "hold"  # auto | hold
    hidden_areas: dict[str, Any] | None = None
    hidden_areas_reason: str = ""
    resume_evidence: str | None = None  # an incomplete item of this medium to continue
    evidence_ids: list[str] = field(default_factory=list)
    job_id: str | None = None
    message: str = ""

    @property
    def path(self) -> str:
        return self.device.devnode

    def to_dict(self) -> dict[str, Any]:
        dev = self.device
        return {
            "id": self.id,
            "key": self.key,
            "path": dev.devnode,
            "kernel_name": dev.kernel_name,
            "serial": dev.serial,
            "wwn": dev.wwn,
            "vendor": dev.vendor,
            "model": dev.model,
            "bus": dev.bus,
            "usb_id": dev.usb_id,
            "size": dev.size,
            "logical_sector_size": dev.logical_sector_size,
            "physical_sector_size": dev.physical_sector_size,
            "removable": dev.removable,
            "partition_table": dev.partition_table,
            "loop_backing_file": dev.loop_backing_file,
            "read_only": self.read_only,
            "write_block": self.write_block,
            "write_block_reason": self.write_block_reason,
            "state": self.state,
            "policy": self.policy,
            "hidden_areas": self.hidden_areas,
            "hidden_areas_reason": self.hidden_areas_reason,
            "evidence_ids": list(self.evidence_ids),
            "job_id": self.job_id,
            "message": self.message,
            "attached_at": self.attached_at.isoformat(),
        }


class MediaRegistry:
    """Thread-safe registry of live media, persisted to the ``media`` table."""

    def __init__(self, ctx: AppContext, *, auto_acquire: str | None = None) -> None:
        self.ctx = ctx
        self.auto_acquire = auto_acquire
        self.queue: Acquirer | None = None
        self._live: dict[str, LiveMedium] = {}  # by kernel name
        self._lock = threading.RLock()
        self._ro_set_by_us: set[str] = set()  # kernel names of loop devices we made ro
        self.on_change: Callable[[LiveMedium], None] | None = None
        self.revision = 0  # grows on every attach, detach and state change (live views poll it)

    def _bump(self) -> None:
        with self._lock:
            self.revision += 1

    # -- lookups ----------------------------------------------------------
    def list(self) -> list[LiveMedium]:
        with self._lock:
            return sorted(self._live.values(), key=lambda m: m.device.kernel_name)

    def get(self, ref: str | int) -> LiveMedium:
        """By key, database id, kernel name or device node; raises NotFound."""
        text = str(ref)
        with self._lock:
            for medium in self._live.values():
                dev = medium.device
                if text in (medium.key, str(medium.id), dev.kernel_name, dev.devnode):
                    return medium
        raise NotFound(f"no attached medium {text!r}", medium=text)

    def find_by_key(self, key: str) -> LiveMedium | None:
        with self._lock:
            return next((m for m in self._live.values() if m.key == key), None)

    # -- events -----------------------------------------------------------
    def handle(self, event: MediumEvent) -> None:
        if event.kind == "attach" and event.device is not None:
            if event.device.is_disk:
                self.attached(event.device)
            else:
                self._partition_appeared(event.device)
        elif event.kind == "detach":
            self.detached(event.kernel_name)
        elif event.kind == "change" and event.device is not None:
            self._changed(event.device)

    def _excluded(self, device: BlockDevice) -> str | None:
        settings = self.ctx.settings
        disks = SystemDisks.scan([settings.home, settings.evidence_dir])
        return disks.reason_excluded(
            device,
            settings.media_allow,
            settings.media_deny,
            allow_only=settings.media_allow_only,
        )

    def attached(self, device: BlockDevice, *, at_startup: bool = False) -> LiveMedium | None:
        """A whole disk got a medium. Returns the live medium, or None when ignored."""
        reason = self._excluded(device)
        if reason is not None:
            log.info(
                "ignoring %s: %s",
                device.devnode,
                reason,
                extra={"event": "medium.ignored", "key": device.key},
            )
            return None
        with self._lock:
            if device.kernel_name in self._live:
                self.detached(device.kernel_name)
            live = self._protect_and_register(device, at_startup=at_startup)
        self._bump()
        if live.state == "queued":
            self._auto_submit(live)
        return live

    def _protect_and_register(self, device: BlockDevice, *, at_startup: bool) -> LiveMedium:
        # 1. read-only before anything of ours opens the device for reading
        was_ro = readonly.is_read_only(device.devnode, device.kernel_name)
        set_nodes: list[str] = []
        ro_error: str | None = None
        if not was_ro:
            try:
                set_nodes = readonly.set_ro_with_partitions(device.kernel_name, device.devnode)
                if device.bus == "loop":
                    self._ro_set_by_us.add(device.kernel_name)
            except OSError as exc:
                ro_error = f"BLKROSET failed on {device.devnode}: {exc.strerror or exc}"
        else:
            # the disk is read-only; make sure each partition is too
            for part in readonly.partitions_of(device.kernel_name):
                if not readonly.sysfs_ro(part):
                    try:
                        readonly.set_ro(f"/dev/{part}")
                        set_nodes.append(f"/dev/{part}")
                    except OSError as exc:
                        ro_error = f"BLKROSET failed on /dev/{part}: {exc}"
        now_ro = readonly.is_read_only(device.devnode, device.kernel_name)
        extra = self.ctx.settings.blockers_file or self.ctx.settings.home / "blockers.json"
        wb, wb_reason = verdict(device, read_only=now_ro, extra_file=extra)
        hidden, hidden_reason = hidden_areas(device)

        # 2. what to do with it
        previous = self._previous_evidence(device.key)
        incomplete = previous.get("incomplete", [])
        done = sorted(i for status, ids in previous.items() if status != "incomplete" for i in ids)
        resumable = resumable_item(self.ctx, device.key, device.size) if incomplete else None
        decision = decide(
            devnode=device.devnode,
            write_block=wb,
            write_block_reason=wb_reason,
            ro_error=ro_error,
            auto_acquire=self.auto_acquire,
            at_startup=at_startup,
            seen_before=bool(previous),
            resumable=resumable,
        )
        state, policy, message = decision.state, decision.policy, decision.refusal
        now = self.ctx.clock.now()
        hidden_dict = hidden.to_dict() if hidden else None
        # 3. the row and the ledger entries, in the order things happened to the medium,
        #    in one transaction (the ledger outbox)
        with staged(self.ctx) as (session, events):
            row_id = self._save(session, device, now_ro, wb, state, now)
            payload: dict[str, Any] = {
                "medium_id": row_id,
                "key": device.key,
                "identity": device.to_dict(),
                "read_only_on_arrival": was_ro,
                "read_only": now_ro,
                "write_block": wb,
                "write_block_reason": wb_reason,
                "hidden_areas": hidden_dict,
                "hidden_areas_reason": hidden_reason,
                "policy": policy,
                "at_startup": at_startup,
            }
            if previous:
                payload["reattach"] = True
                payload["previous_incomplete"] = incomplete
                payload["previous_evidence"] = done
                payload["resume"] = decision.resume
            events.append(Event("medium.attached", ACTOR, payload=payload))
            if set_nodes:
                events.append(
                    Event(
                        "medium.read_only_set",
                        ACTOR,
                        payload={"medium_id": row_id, "key": device.key, "nodes": set_nodes},
                    )
                )
            if hidden is not None and (hidden.hpa_sectors or hidden.dco_sectors):
                # The medium holds sectors the host cannot see: an image of the visible
                # size is not the whole disk, and the examiner must know before trusting it.
                sector = device.logical_sector_size or 512
                hidden_sectors = hidden.hpa_sectors + (hidden.dco_sectors or 0)
                events.append(
                    Event(
                        "medium.hidden_area",
                        ACTOR,
                        payload={
                            "medium_id": row_id,
                            "key": device.key,
                            **hidden.to_dict(),
                            "hidden_bytes": hidden_sectors * sector,
                            "source": hidden_reason,
                            "changed": False,  # nothing is changed on the disk by detection
                        },
                    )
                )
                log.warning(
                    "medium %s hides %d sectors (HPA %d, DCO %s); the visible area is imaged",
                    device.devnode,
                    hidden_sectors,
                    hidden.hpa_sectors,
                    hidden.dco_sectors,
                )
            if message is not None:
                events.append(
                    Event(
                        "medium.refused",
                        ACTOR,
                        payload={"medium_id": row_id, "key": device.key, "reason": message},
                    )
                )
        live = LiveMedium(
            id=row_id,
            key=device.key,
            device=device,
            read_only=now_ro,
            write_block=wb,
            write_block_reason=wb_reason,
            state=state,
            attached_at=now,
            policy=policy,
            hidden_areas=hidden_dict,
            hidden_areas_reason=hidden_reason,
            resume_evidence=resumable if policy == "auto" else None,
        )
        self._live[device.kernel_name] = live
        if message is not None:
            live.message = message
            log.error("medium refused: %s", message)
        log.info(
            "medium attached",
            extra={
                "event": "medium.attached",
                "device": device.devnode,
                "key": device.key,
                "size": device.size,
                "read_only": now_ro,
                "write_block": wb,
                "state": state,
            },
        )
        return live

    def _auto_submit(self, live: LiveMedium) -> None:
        if self.queue is None or not self.auto_acquire:
            return
        try:
            self.queue.submit(live.key, self.auto_acquire, actor=ACTOR, resume=live.resume_evidence)
        except Exception as exc:
            live.state = "held"
            live.message = f"automatic acquisition not started: {exc}"
            self.set_state(live, "held")
            log.error("automatic acquisition of %s not started: %s", live.path, exc)

    def _partition_appeared(self, device: BlockDevice) -> None:
        """A partition of a medium we hold must be read-only too."""
        with self._lock:
            parent = self._live.get(device.parent or "")
        if parent is None or readonly.sysfs_ro(device.kernel_name):
            return
        try:
            readonly.set_ro(device.devnode)
            self.ctx.ledger.append(
                "medium.read_only_set",
                actor=ACTOR,
                payload={"medium_id": parent.id, "key": parent.key, "nodes": [device.devnode]},
            )
        except OSError as exc:
            log.error("could not set partition %s read-only: %s", device.devnode, exc)

    def _changed(self, device: BlockDevice) -> None:
        with self._lock:
            live = self._live.get(device.kernel_name)
            if live is None:
                return
            live.device = device
            live.read_only = readonly.is_read_only(device.devnode, device.kernel_name)
        self._bump()

    def detached(self, kernel_name: str) -> None:
        with self._lock:
            live = self._live.pop(kernel_name, None)
        if kernel_name in self._ro_set_by_us:
            self._clear_loop_ro(kernel_name)
        if live is None:
            return
        self._bump()
        job = self.queue.cancel_for_medium(live.key, reason="detached") if self.queue else None
        payload: dict[str, Any] = {
            "medium_id": live.id,
            "key": live.key,
            "state_before": live.state,
        }
        if job is not None:
            payload["acquisition"] = job.id
            payload["cancelled"] = True
            payload["bytes_done"] = job.bytes_done
            payload["bytes_total"] = job.bytes_total
        live.state = "detached"
        with staged(self.ctx) as (session, events):
            self._save_state_in(session, live.id, "detached")
            events.append(Event("medium.detached", ACTOR, payload=payload))
        log.info(
            "medium detached",
            extra={"event": "medium.detached", "device": live.path, "key": live.key},
        )

    def _clear_loop_ro(self, kernel_name: str) -> None:
        """Loop devices keep BLKROSET after detach: give the empty loop back writable."""
        self._ro_set_by_us.discard(kernel_name)
        node = f"/dev/{kernel_name}"
        try:
            size = int(Path(f"/sys/class/block/{kernel_name}/size").read_text())
            if size == 0:
                readonly.set_ro(node, False)
        except (OSError, ValueError):
            pass

    def ensure_read_only(self, live: LiveMedium) -> bool:
        """Just before an acquisition: the kernel flag must still be set (re-set it if not)."""
        dev = live.device
        if readonly.is_read_only(dev.devnode, dev.kernel_name):
            return True
        try:
            nodes = readonly.set_ro_with_partitions(dev.kernel_name, dev.devnode)
        except OSError as exc:
            log.error("%s lost its read-only flag and cannot get it back: %s", dev.devnode, exc)
            return live.write_block == "hardware"
        self.ctx.ledger.append(
            "medium.read_only_set",
            actor=ACTOR,
            payload={
                "medium_id": live.id,
                "key": live.key,
                "nodes": nodes,
                "reason": "the read-only flag had been cleared while the medium was held",
            },
        )
        return True

    # -- state ------------------------------------------------------------
    def set_state(self, live: LiveMedium, state: str, *, evidence_id: str | None = None) -> None:
        with self._lock:
            if live.state != "detached":  # a detached medium stays detached
                live.state = state
            if evidence_id and evidence_id not in live.evidence_ids:
                live.evidence_ids.append(evidence_id)
        self._save_state(live.id, live.state)
        self._bump()
        if self.on_change:
            self.on_change(live)

    def release_all(self) -> None:
        """At shutdown: give back loop devices we made read-only that are now empty."""
        for name in list(self._ro_set_by_us):
            self._clear_loop_ro(name)

    # -- database ---------------------------------------------------------
    def _save(
        self, session: Session, device: BlockDevice, ro: bool, wb: str, state: str, now: datetime
    ) -> int:
        row = session.exec(select(Medium).where(Medium.key == device.key)).first()
        if row is None:
            row = Medium(key=device.key, path=device.devnode, first_seen=now)
        row.path = device.devnode
        row.serial = device.serial
        row.model = device.model
        row.vendor = device.vendor
        row.wwn = device.wwn
        row.bus = device.bus
        row.size = device.size
        row.logical_sector_size = device.logical_sector_size
        row.physical_sector_size = device.physical_sector_size
        row.read_only = ro
        row.write_block = wb
        row.state = state
        row.identity = device.to_dict()
        row.last_seen = now
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id

    def _save_state(self, medium_id: int, state: str) -> None:
        with self.ctx.session() as session:
            self._save_state_in(session, medium_id, state)

    def _save_state_in(self, session: Session, medium_id: int, state: str) -> None:
        row = session.get(Medium, medium_id)
        if row is not None:
            row.state = state
            row.last_seen = self.ctx.clock.now()
            session.add(row)

    def _previous_evidence(self, key: str) -> dict[str, builtins.list[str]]:
        """Evidence ids already taken from this medium, by status."""
        with self.ctx.session() as session:
            row = session.exec(select(Medium).where(Medium.key == key)).first()
            if row is None:
                return {}
            found: dict[str, builtins.list[str]] = {}
            for evidence_id, status in session.exec(
                select(Evidence.id, Evidence.status).where(Evidence.medium_id == row.id)
            ).all():
                found.setdefault(status, []).append(evidence_id)
            return {status: sorted(ids) for status, ids in found.items()}
