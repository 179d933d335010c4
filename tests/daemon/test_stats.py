"""Service figures come from the database: counts by state, bytes, throughput of finished work."""

from __future__ import annotations

from datetime import timedelta

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from custodyd.daemon.models import Acquisition, Case, Evidence
from custodyd.daemon.stats import service_figures


def test_counts_and_throughput(ctx: AppContext, clock: ManualClock) -> None:
    start = clock.now()
    with ctx.session() as session:
        case = Case(ref="C-1", title="c", created_at=start)
        session.add(case)
        session.flush()
        assert case.id is not None
        for n, (status, state, seconds) in enumerate(
            [("sealed", "done", 2.0), ("sealed", "done", 6.0), ("incomplete", "incomplete", 0)]
        ):
            session.add(Evidence(id=f"EV{n}", case_id=case.id, status=status, source_path="/x",
                                 directory="/d", image_path="/d/i", created_at=start))  # fmt: skip
            session.flush()
            session.add(
                Acquisition(
                    evidence_id=f"EV{n}", state=state, bytes_done=400,
                    started_at=start,
                    finished_at=start + timedelta(seconds=seconds) if seconds else None,
                )
            )  # fmt: skip
    figures = service_figures(ctx)
    assert figures.acquisitions_by_state == {"done": 2, "incomplete": 1}
    assert figures.evidence_by_status == {"sealed": 2, "incomplete": 1}
    assert figures.acquired_bytes == 800
    assert figures.throughput_bytes_per_second == 800 / 8.0
    assert figures.alerts_by_channel_state == {}
