"""Acquiring a held medium from the command line (``custodyd media acquire``).

``custodyd serve`` registers every new medium (``media`` table) and, unless told to
acquire it automatically, holds it for an examiner. The API starts an acquisition of a
held medium through the daemon's queue; this is the same for a shell on the
workstation, in the CLI's own process, with the queue's checks: the medium is attached
now with the identity it was registered with, it is write-protected (kernel read-only,
or a known hardware blocker), and no live acquisition of it is running. Otherwise
nothing is recorded. The item carries the medium's id and identity in its manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import col, select

from custodyd.daemon.acquisition import acquire
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import AcquisitionInProgress, Conflict, NotFound, WriteBlockError
from custodyd.daemon.models import Acquisition, Evidence, Medium
from custodyd.daemon.recovery import UNFINISHED


def find_medium(ctx: AppContext, ref: str) -> Medium:
    """A registered medium by database id, key or device node (as ``media list`` shows)."""
    with ctx.session() as session:
        query = select(Medium)
        if ref.isdigit():
            query = query.where(Medium.id == int(ref))
        else:
            query = query.where((Medium.key == ref) | (Medium.path == ref))
        medium = session.exec(query.order_by(col(Medium.last_seen).desc())).first()
    if medium is None:
        raise NotFound(f"no medium {ref!r} (custodyd media list shows them)", medium=ref)
    return medium


def check_acquirable(ctx: AppContext, medium: Medium) -> str:
    """The device node to read, once the medium is attached, unchanged and write-protected."""
    from custodyd.hardware import readonly
    from custodyd.hardware.discovery import find_device
    from custodyd.hardware.writeblock import verdict

    device = find_device(medium.path)
    if device is None or device.key != medium.key or device.size != medium.size:
        raise Conflict(
            f"medium {medium.id} ({medium.key}) is not attached at {medium.path} now",
            medium=medium.id,
        )
    read_only = readonly.is_read_only(device.devnode, device.kernel_name)
    extra = ctx.settings.blockers_file or ctx.settings.home / "blockers.json"
    write_block, reason = verdict(device, read_only=read_only, extra_file=extra)
    if write_block not in ("hardware", "software") or not (read_only or write_block == "hardware"):
        raise WriteBlockError(
            f"{device.devnode} is not write-protected ({reason}); it will not be acquired",
            medium=medium.id,
        )
    with ctx.session() as session:
        live = session.exec(
            select(Evidence.id)
            .join(Acquisition, col(Acquisition.evidence_id) == col(Evidence.id))
            .where(Evidence.medium_id == medium.id)
            .where(col(Acquisition.state).in_(UNFINISHED))
        ).first()
    if live is not None:  # recovery has settled dead ones: this one is running
        raise AcquisitionInProgress(
            f"medium {medium.id} is being acquired now (evidence {live})",
            medium=medium.id,
            evidence_id=live,
        )
    return device.devnode


def acquire_held(ctx: AppContext, ref: str, case_ref: str, **options: Any) -> dict[str, Any]:
    """Acquire medium ``ref`` into ``case_ref`` (options as :func:`acquire` takes them);
    the medium's state follows (``acquiring``, then ``acquired`` or ``incomplete``)."""
    medium = find_medium(ctx, ref)
    devnode = check_acquirable(ctx, medium)
    assert medium.id is not None
    _set_state(ctx, medium.id, "acquiring")
    try:
        manifest = acquire(ctx, Path(devnode), case_ref, medium_id=medium.id, **options)
    except BaseException:
        _set_state(ctx, medium.id, "incomplete")
        raise
    _set_state(ctx, medium.id, "acquired")
    return manifest


def _set_state(ctx: AppContext, medium_id: int, state: str) -> None:
    with ctx.session() as session:
        row = session.get(Medium, medium_id)
        if row is not None and row.state != "detached":
            row.state = state
            session.add(row)
