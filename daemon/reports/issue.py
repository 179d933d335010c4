"""Issue a report: gather, render, and record the issue in the ledger.

``report.issued`` names who took which report, its SHA-256 and the ledger state
it covers (``tree_size`` of the checkpoint its proofs use, ``last_index``), so a
printed or mailed copy can be matched to its issue later. Like every audited
read, the item and case are named in the entry's *payload*: the entry does not
join the item's custody timeline, so recording it leaves a re-render of the same
state byte-identical. It is appended durably before the PDF is handed out; a
report that cannot be recorded is not issued.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from custodyd.daemon.auth.audit import access_event
from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.context import AppContext
from custodyd.daemon.reports.gather import case_report, evidence_report
from custodyd.daemon.reports.records import Report
from custodyd.daemon.reports.render import render_pdf

REPORT_ISSUED = "report.issued"


@dataclass(frozen=True)
class Rendered:
    """A rendered report, not yet issued."""

    pdf: bytes
    report: Report
    render_seconds: float

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.report.subject}-report.pdf"


@dataclass(frozen=True)
class IssuedReport:
    rendered: Rendered
    ledger_index: int  # the report.issued entry

    @property
    def pdf(self) -> bytes:
        return self.rendered.pdf

    @property
    def sha256(self) -> str:
        return self.rendered.sha256

    @property
    def report(self) -> Report:
        return self.rendered.report

    @property
    def filename(self) -> str:
        return self.rendered.filename

    def summary(self) -> dict[str, object]:
        return {
            "kind": self.report.kind,
            "subject": self.report.subject,
            "sha256": self.sha256,
            "bytes": len(self.pdf),
            "tree_size": self.report.checkpoint.size,
            "last_index": self.report.last_index,
            "as_of": self.report.as_of,
            "ledger_index": self.ledger_index,
            "render_seconds": round(self.rendered.render_seconds, 3),
        }


def render_evidence_report(ctx: AppContext, principal: Principal, evidence_id: str) -> Rendered:
    """The report of one item as ``principal`` may see it (404 otherwise); not recorded."""
    return _render(evidence_report(ctx, principal, evidence_id))


def render_case_report(ctx: AppContext, principal: Principal, ref: str) -> Rendered:
    """The report of a whole case as ``principal`` may see it (404 otherwise); not recorded."""
    return _render(case_report(ctx, principal, ref))


def issue_evidence_report(ctx: AppContext, principal: Principal, evidence_id: str) -> IssuedReport:
    """Render the item's report and record it as issued; hand it out only after this returns."""
    return record_issue(ctx, principal, render_evidence_report(ctx, principal, evidence_id))


def issue_case_report(ctx: AppContext, principal: Principal, ref: str) -> IssuedReport:
    """Render the case's report and record it as issued; hand it out only after this returns."""
    return record_issue(ctx, principal, render_case_report(ctx, principal, ref))


def _render(report: Report) -> Rendered:
    started = time.perf_counter()
    pdf = render_pdf(report)
    return Rendered(pdf=pdf, report=report, render_seconds=time.perf_counter() - started)


def _store_beside(rendered: Rendered) -> str | None:
    """An item kept in S3 keeps its issued reports as objects beside it (before the
    issue is recorded: a report the store would not take is not issued)."""
    report = rendered.report
    if report.kind != "evidence" or not report.items or report.items[0].store is None:
        return None
    from custodyd.daemon.store.s3_item import store_report

    return store_report(report.items[0].store.folder, rendered.pdf)


def record_issue(ctx: AppContext, principal: Principal, rendered: Rendered) -> IssuedReport:
    """Append ``report.issued`` (durable on return) for ``rendered``, naming ``principal``."""
    report = rendered.report
    stored = _store_beside(rendered)
    event = access_event(
        REPORT_ISSUED,
        actor=principal.actor,
        what=f"{report.kind} report",
        case=report.case.ref,
        evidence=report.subject if report.kind == "evidence" else None,
        detail={
            "sha256": rendered.sha256,
            "bytes": len(rendered.pdf),
            "tree_size": report.checkpoint.size,
            "last_index": report.last_index,
            **({"object": stored} if stored is not None else {}),
        },
    )
    (entry,) = ctx.ledger.append_many([event])
    return IssuedReport(rendered=rendered, ledger_index=entry.index)
