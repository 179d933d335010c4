"""Figures of the service's state read from the database (for ``/metrics`` and status views).

Counted in the database rather than in memory, so they are true for the work of
every process sharing it (the CLI, the daemon, other appliances on PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select

from custodyd.daemon.clock import utc
from custodyd.daemon.context import AppContext
from custodyd.daemon.models import Acquisition, AcquisitionState, AlertOutbox, Evidence

THROUGHPUT_WINDOW = 20  # finished acquisitions averaged for the throughput figure


@dataclass(frozen=True)
class ServiceFigures:
    acquisitions_by_state: dict[str, int]
    evidence_by_status: dict[str, int]
    alerts_by_channel_state: dict[tuple[str, str], int]
    acquired_bytes: int  # by finished ("done") acquisitions
    throughput_bytes_per_second: float  # mean of the last THROUGHPUT_WINDOW finished ones


def service_figures(ctx: AppContext) -> ServiceFigures:
    with ctx.session() as session:
        acquisitions = dict(
            session.exec(select(Acquisition.state, func.count()).group_by(Acquisition.state)).all()
        )
        evidence = dict(
            session.exec(select(Evidence.status, func.count()).group_by(Evidence.status)).all()
        )
        alerts = {
            (channel, state): count
            for channel, state, count in session.exec(
                select(AlertOutbox.channel, AlertOutbox.state, func.count()).group_by(
                    AlertOutbox.channel, AlertOutbox.state
                )
            )
        }
        acquired = session.exec(
            select(func.coalesce(func.sum(Acquisition.bytes_done), 0)).where(
                Acquisition.state == AcquisitionState.DONE
            )
        ).one()
        recent = session.exec(
            select(Acquisition)
            .where(Acquisition.state == AcquisitionState.DONE)
            .where(col(Acquisition.finished_at).is_not(None))
            .order_by(col(Acquisition.id).desc())
            .limit(THROUGHPUT_WINDOW)
        ).all()
    seconds = sum(
        max((utc(a.finished_at) - utc(a.started_at)).total_seconds(), 0.0)
        for a in recent
        if a.finished_at is not None
    )
    done = sum(a.bytes_done for a in recent)
    return ServiceFigures(
        acquisitions_by_state=acquisitions,
        evidence_by_status=evidence,
        alerts_by_channel_state=alerts,
        acquired_bytes=int(acquired),
        throughput_bytes_per_second=done / seconds if seconds > 0 else 0.0,
    )
