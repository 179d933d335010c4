"""Acquisition and custody reports (PDF/A-2b, typst), reproducible per ledger state.

:func:`issue_evidence_report` / :func:`issue_case_report` gather the typed
records (:mod:`.records`, :mod:`.gather`), render them (:mod:`.render`) and
record the issue in the ledger (:mod:`.issue`). The CLI and the API only call
these and hand the bytes over.
"""

from custodyd.daemon.reports.issue import (
    REPORT_ISSUED,
    IssuedReport,
    Rendered,
    issue_case_report,
    issue_evidence_report,
    record_issue,
    render_case_report,
    render_evidence_report,
)

__all__ = [
    "REPORT_ISSUED",
    "IssuedReport",
    "Rendered",
    "issue_case_report",
    "issue_evidence_report",
    "record_issue",
    "render_case_report",
    "render_evidence_report",
]
