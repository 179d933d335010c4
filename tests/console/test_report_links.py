"""The console links to the PDF reports (item and case) with the session cookie, and case refs
holding URL-special characters (``#``, ``?``, ``&``, spaces) are quoted in every link."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient

from custodyd.daemon.context import AppContext
from tests.api.conftest import MakeToken
from tests.console.conftest import csrf_of, secret

REF = "CASE #7 ?&x"


def test_report_links_and_quoted_case_refs(
    signed_in: Callable[[str], TestClient],
    ctx: AppContext,
    make_token: MakeToken,
    acquired: Callable[..., dict[str, Any]],
) -> None:
    item = acquired(REF)
    eid = item["evidence_id"]
    client = signed_in(secret(make_token("investigator", [REF], name="inv")))
    quoted = quote(REF, safe="")

    cases = client.get("/cases")
    assert cases.status_code == 200
    hrefs = re.findall(r'href="([^"]+)"', cases.text)
    assert f"/cases/{quoted}" in hrefs and f"/cases/{quoted}/custody" in hrefs
    assert f"/evidence?case={quoted}" in hrefs

    page = client.get(f"/cases/{quoted}")
    assert page.status_code == 200, page.text
    hrefs = re.findall(r'href="([^"]+)"', page.text)
    assert f"/v1/cases/{quoted}/report.pdf" in hrefs
    for href in hrefs:  # every link of the page reaches a page, none is cut at '#' or '?'
        if href.startswith(("/cases/", "/evidence?")):
            assert client.get(href).status_code == 200, href

    # the links download the reports with the console session alone, and are recorded
    before = ctx.ledger.size()
    pdf = client.get(f"/v1/cases/{quoted}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    item_page = client.get(f"/evidence/{eid}")
    assert f'href="/v1/evidence/{eid}/report.pdf"' in item_page.text
    one = client.get(f"/v1/evidence/{eid}/report.pdf")
    assert one.status_code == 200 and one.content.startswith(b"%PDF-")
    entries = [ctx.ledger.entry(i) for i in range(before, ctx.ledger.size())]
    issued = [e for e in entries if e.action == "report.issued"]
    assert len(issued) == 2
    assert {e.actor for e in issued} == {"token:inv"}
    assert issued[0].payload["case"] == REF
    assert csrf_of(page.text)  # the page is a signed-in console page
