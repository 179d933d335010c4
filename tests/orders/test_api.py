"""The orders, transfers, retention and regimes routers: roles, visibility, 409 problems."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from custodyd.api.app import create_app
from custodyd.daemon.auth import create_token_unrecorded
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from tests.orders.conftest import REQUEST, evidence_bytes, make_evidence


@pytest.fixture
def client(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), raise_server_exceptions=False) as c:
        yield c


def token(ctx: AppContext, role: str, cases: tuple[str, ...] = ()) -> dict[str, str]:
    with ctx.session() as session:
        new = create_token_unrecorded(session, ctx.clock, role=role, cases=cases)
    return {"Authorization": f"Bearer {new.secret}"}


def test_orders_over_http(ctx: AppContext, clock: ManualClock, client: TestClient) -> None:
    make_evidence(ctx, "EV1", case_ref="C1")
    make_evidence(ctx, "EV2", case_ref="C2")
    compliance = token(ctx, "compliance")
    member = token(ctx, "investigator", ("C1",))
    outsider = token(ctx, "investigator", ("C2",))
    examiner = token(ctx, "examiner", ("C1",))

    regimes = client.get("/v1/regimes", headers=member).json()["items"]
    assert "intl-expedited-60" in {r["id"] for r in regimes}
    day = (clock.now().date() - timedelta(days=55)).isoformat()
    body = {
        "regime": "intl-expedited-60",
        "ref": "CONF-1",
        "issued_on": day,
        "received_on": day,
        "effected_on": day,
        "evidence": ["EV1"],
        **REQUEST,
    }
    missing = client.post("/v1/orders", json={**body, "offence": None}, headers=compliance)
    assert missing.status_code == 422 and missing.json()["fields"] == ["offence"]
    assert client.post("/v1/orders", json=body, headers=member).status_code == 403
    assert client.post("/v1/orders", json=body, headers=examiner).status_code == 403
    made = client.post("/v1/orders", json=body, headers=compliance)
    assert made.status_code == 201, made.text
    order = made.json()
    oid = order["id"]
    assert made.headers["Location"] == f"/v1/orders/{oid}"

    assert client.get(f"/v1/orders/{oid}", headers=member).json()["ref"] == "CONF-1"
    assert client.get(f"/v1/orders/{oid}", headers=outsider).status_code == 404
    assert client.get("/v1/orders", headers=outsider).json()["items"] == []
    assert [o["id"] for o in client.get("/v1/orders", headers=member).json()["items"]] == [oid]
    assert client.get("/v1/orders?case=C1", headers=outsider).json()["items"] == []

    before = evidence_bytes(ctx, "EV1")
    held = client.post(f"/v1/orders/{oid}/followup", json={"ref": "F-1"}, headers=compliance)
    assert held.json()["status"] == "hold"
    refused = client.post(
        "/v1/retention/EV1/disposition",
        json={"method": "destroy", "reason": "done"},
        headers=compliance,
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["type"] == "urn:custodyd:problem:disposition-refused"
    assert "CONF-1" in problem["detail"]
    assert evidence_bytes(ctx, "EV1") == before
    status = client.get("/v1/retention/EV1", headers=member).json()
    assert status["hold"] and not status["disposable"]

    decided = client.post(
        f"/v1/orders/{oid}/decision", json={"outcome": "granted"}, headers=compliance
    )
    assert decided.json()["decision"] == "granted" and decided.json()["status"] == "executing"
    assert client.get("/v1/retention/due?days=30", headers=member).json()["items"] == []
    done = client.post(
        f"/v1/orders/{oid}/executed", json={"basis": "production order 7"}, headers=compliance
    )
    assert done.json()["status"] == "decided", done.text
    due = client.get("/v1/retention/due?days=30", headers=member).json()["items"]
    assert [(d["evidence_id"], d["days_left"]) for d in due] == [("EV1", 5)]
    assert client.get("/v1/retention/due?days=30", headers=outsider).json()["items"] == []
    assert (
        client.post(f"/v1/orders/{oid}/renew", json={}, headers=compliance).status_code == 409
    )  # intl regimes do not renew
    clock.advance(timedelta(days=6))
    done = client.post(
        "/v1/retention/EV1/disposition",
        json={"method": "return", "reason": "period over", "returned_to": "owner"},
        headers=compliance,
    )
    assert done.status_code == 201, done.text
    assert client.get("/v1/retention/EV1/disposition", headers=member).json()["method"] == "return"
    assert client.get(f"/v1/orders/{oid}", headers=member).json()["status"] == "expired"


def test_transfers_over_http(ctx: AppContext, client: TestClient) -> None:
    make_evidence(ctx, "EV1", case_ref="C1")
    compliance = token(ctx, "compliance")
    member = token(ctx, "investigator", ("C1",))
    made = client.post(
        "/v1/transfers",
        json={
            "recipient": "State B",
            "purpose": "trial",
            "consented_days": 60,
            "items": [{"evidence_id": "EV1", "part": "traffic data of 2026-01-02"}],
        },
        headers=compliance,
    )
    assert made.status_code == 201, made.text
    tid = made.json()["id"]
    release = client.post(
        f"/v1/transfers/{tid}/releases", json={"third_party": "State C"}, headers=compliance
    )
    assert release.status_code == 409
    assert release.json()["type"] == "urn:custodyd:problem:release-refused"
    assert (
        client.post(
            f"/v1/transfers/{tid}/consent",
            json={"third_party": "State C", "consent_ref": "L-1"},
            headers=compliance,
        ).status_code
        == 200
    )
    ok = client.post(
        f"/v1/transfers/{tid}/releases", json={"third_party": "State C"}, headers=compliance
    )
    assert (
        ok.status_code == 200 and ok.json()["third_party_releases"][0]["third_party"] == "State C"
    )
    assert client.get(f"/v1/transfers/{tid}", headers=member).json()["items"][0]["part"]
    assert (
        client.post(
            f"/v1/transfers/{tid}/close", json={"outcome": "returned"}, headers=member
        ).status_code
        == 403
    )
