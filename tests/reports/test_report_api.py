"""GET /v1/evidence/{id}/report.pdf and /v1/cases/{ref}/report.pdf: per-case access (404
like a missing item), the issue recorded before the bytes are sent."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from custodyd.daemon.context import AppContext
from tests.api.conftest import MakeToken


def test_member_gets_the_pdf_and_the_issue_is_recorded(
    client: TestClient,
    ctx: AppContext,
    make_token: MakeToken,
    acquired: Callable[..., dict[str, Any]],
) -> None:
    item = acquired("A")
    eid = item["evidence_id"]
    inv = make_token("investigator", ["A"], name="inv")
    r = client.get(f"/v1/evidence/{eid}/report.pdf", headers=inv)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    digest = hashlib.sha256(r.content).hexdigest()
    assert r.headers["x-custodyd-report-sha256"] == digest
    assert f"{eid}-report.pdf" in r.headers["content-disposition"]
    entry = ctx.ledger.entry(int(r.headers["x-custodyd-ledger-entry"]))
    assert entry.action == "report.issued" and entry.actor == "token:inv"
    assert entry.payload["sha256"] == digest and entry.payload["evidence"] == eid
    # same state, same bytes, through the API too
    assert client.get(f"/v1/evidence/{eid}/report.pdf", headers=inv).content == r.content

    r = client.get("/v1/cases/A/report.pdf", headers=inv)
    assert r.status_code == 200 and r.content.startswith(b"%PDF-")
    entry = ctx.ledger.entry(int(r.headers["x-custodyd-ledger-entry"]))
    assert entry.payload["what"] == "case report" and entry.payload["case"] == "A"


def test_other_cases_are_404_like_missing_and_not_recorded(
    client: TestClient,
    ctx: AppContext,
    make_token: MakeToken,
    make_case: Callable[[str], str],
    acquired: Callable[..., dict[str, Any]],
) -> None:
    hidden = acquired("B")["evidence_id"]
    make_case("A")
    inv_a = make_token("investigator", ["A"], name="inv-a")
    size = ctx.ledger.size()
    r_hidden = client.get(f"/v1/evidence/{hidden}/report.pdf", headers=inv_a)
    r_missing = client.get("/v1/evidence/EV20260101-00000000/report.pdf", headers=inv_a)
    assert r_hidden.status_code == r_missing.status_code == 404
    assert r_hidden.json()["title"] == r_missing.json()["title"]
    assert client.get("/v1/cases/B/report.pdf", headers=inv_a).status_code == 404
    assert client.get("/v1/cases/NOPE/report.pdf", headers=inv_a).status_code == 404
    assert ctx.ledger.size() == size
    assert client.get(f"/v1/evidence/{hidden}/report.pdf").status_code == 401
