"""Render a :class:`~custodyd.daemon.reports.records.Report` to PDF/A-2b with typst.

The template (``report.typ`` beside this module) receives the report as one JSON
document through ``sys.inputs`` and places every value as text. The output is
byte-reproducible: only typst's embedded fonts are used (never the machine's),
and the PDF's creation date is the report's own time (``Report.as_of``, the
newest ledger entry it covers), so the same data give the same bytes on any
machine with the same custodyd and typst versions.
"""

from __future__ import annotations

import threading
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

from custodyd.daemon.errors import ReportError
from custodyd.daemon.ledger.entry import parse_time
from custodyd.daemon.reports.records import Report

PDF_STANDARD = "a-2b"
_lock = threading.Lock()  # one compiler, reused (fonts load once); calls are serialized


def template() -> bytes:
    return files("custodyd.daemon.reports").joinpath("report.typ").read_bytes()


@cache
def _template() -> bytes:
    return template()


@cache
def _compiler() -> Any:
    import typst  # heavy native module: only when a report is rendered

    return typst.Compiler(ignore_system_fonts=True)


def creation_time(report: Report) -> datetime:
    """The PDF's date: the report's ledger time, to the second (PDF dates have no more)."""
    return parse_time(report.as_of).replace(microsecond=0)


def render_pdf(report: Report) -> bytes:
    """The PDF bytes of ``report``; :class:`ReportError` if typst fails (a template bug)."""
    import typst

    data = report.model_dump_json()
    try:
        with _lock:
            pdf = _compiler().compile(
                input=_template(),
                format="pdf",
                sys_inputs={"data": data},
                pdf_standards=[PDF_STANDARD],
                timestamp=creation_time(report),
            )
    except typst.TypstError as exc:
        raise ReportError(f"typst could not render the report: {exc.message}") from exc
    if not isinstance(pdf, bytes):  # a multi-page image format would give a list
        raise ReportError("typst returned no PDF")
    return pdf
