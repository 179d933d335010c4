"""Custody timelines and transfers; cross-case 404s; audited reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from tests.api.conftest import MakeToken

TRANSFER = {"from": "Examiner Ex", "to": "Officer Oh", "reason": "court", "location": "Lab 2"}


def test_timeline_oldest_first_and_read_is_audited(
    client: TestClient, ctx: AppContext, make_token: MakeToken, make_evidence: Callable[..., str]
) -> None:
    make_evidence("A", "ev-a")
    examiner = make_token("examiner", ["A"], name="ex")
    for n in range(2):
        r = client.post(
            "/v1/evidence/ev-a/custody/transfers",
            json=TRANSFER | {"reason": f"r{n}"},
            headers=examiner,
        )
        assert r.status_code == 201, r.text
        assert r.json()["action"] == "custody.transferred"
        assert r.json()["payload"]["reason"] == f"r{n}"
    inv = make_token("investigator", ["A"], name="inv")
    r = client.get("/v1/evidence/ev-a/custody", headers=inv)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["subject"] == "ev-a" and body["case"] == "A" and body["total"] == 3
    items = body["items"]
    assert [i["action"] for i in items] == [
        "evidence.acquired",
        "custody.transferred",
        "custody.transferred",
    ]
    assert [i["index"] for i in items] == sorted(i["index"] for i in items)
    assert {"index", "time", "actor", "action"} <= items[0].keys()
    assert items[1]["actor"] == "token:ex" and items[1]["payload"]["from"] == "Examiner Ex"
    last = ctx.ledger.entry(ctx.ledger.size() - 1)
    assert last.action == "history.read" and last.actor == "token:inv"
    assert last.payload == {"what": "custody", "case": "A", "evidence": "ev-a"}
    # the read is in the ledger, not in the item's own timeline
    assert client.get("/v1/evidence/ev-a/custody", headers=inv).json()["total"] == 3


def test_timeline_pagination(
    client: TestClient, make_token: MakeToken, make_evidence: Callable[..., str]
) -> None:
    make_evidence("A", "ev-p")
    examiner = make_token("examiner", ["A"])
    for _ in range(4):
        client.post("/v1/evidence/ev-p/custody/transfers", json=TRANSFER, headers=examiner)
    page = client.get("/v1/evidence/ev-p/custody?limit=2&offset=2", headers=examiner).json()
    assert page["total"] == 5 and len(page["items"]) == 2 and page["next_offset"] == 4


def test_cross_case_is_404_like_missing(
    client: TestClient, ctx: AppContext, make_token: MakeToken, make_evidence: Callable[..., str]
) -> None:
    make_evidence("A", "ev-a")
    make_evidence("B", "ev-b")
    inv_a = make_token("investigator", ["A"], name="inv-a")
    size = ctx.ledger.size()
    hidden = client.get("/v1/evidence/ev-b/custody", headers=inv_a)
    missing = client.get("/v1/evidence/ev-zz/custody", headers=inv_a)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["title"] == missing.json()["title"]
    assert "ev-b" in hidden.json()["detail"] and "ev-zz" in missing.json()["detail"]
    assert ctx.ledger.size() == size  # refused reads are not recorded as reads
    assert client.get("/v1/cases/B/custody", headers=inv_a).status_code == 404
    examiner_a = make_token("examiner", [])
    r = client.post("/v1/evidence/ev-b/custody/transfers", json=TRANSFER, headers=examiner_a)
    assert r.status_code == 404


def test_case_timeline(
    client: TestClient, make_token: MakeToken, make_evidence: Callable[..., str]
) -> None:
    make_evidence("C", "ev-c1")
    make_evidence("C", "ev-c2")
    inv = make_token("investigator", ["C"])
    body = client.get("/v1/cases/C/custody", headers=inv).json()
    assert [(i["action"], i["evidence"]) for i in body["items"]] == [
        ("evidence.acquired", "ev-c1"),
        ("evidence.acquired", "ev-c2"),
    ]


def test_transfer_roles_and_validation(
    client: TestClient,
    clock: ManualClock,
    make_token: MakeToken,
    make_evidence: Callable[..., str],
) -> None:
    acquired = clock.now()
    make_evidence("A", "ev-v")
    clock.advance(timedelta(hours=4))
    inv = make_token("investigator", ["A"])
    assert (
        client.post("/v1/evidence/ev-v/custody/transfers", json=TRANSFER, headers=inv).status_code
        == 403
    )
    ex = make_token("examiner", ["A"])
    r = client.post("/v1/evidence/ev-v/custody/transfers", json={"to": "x"}, headers=ex)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"body.from", "body.reason", "body.location"}
    same = TRANSFER | {"to": TRANSFER["from"]}
    r = client.post("/v1/evidence/ev-v/custody/transfers", json=same, headers=ex)
    assert r.status_code == 422 and "same party" in r.json()["detail"]
    future = (clock.now() + timedelta(days=1)).isoformat()
    r = client.post(
        "/v1/evidence/ev-v/custody/transfers", json=TRANSFER | {"time": future}, headers=ex
    )
    assert r.status_code == 422 and "future" in r.json()["detail"]
    past = (clock.now() - timedelta(hours=3)).isoformat()
    r = client.post(
        "/v1/evidence/ev-v/custody/transfers", json=TRANSFER | {"time": past}, headers=ex
    )
    assert r.status_code == 201
    assert r.json()["payload"]["transferred_at"] == "2026-01-01T01:00:00.000000Z"
    for implausible in ("0001-01-01T00:00:00Z", (acquired - timedelta(seconds=1)).isoformat()):
        r = client.post(
            "/v1/evidence/ev-v/custody/transfers", json=TRANSFER | {"time": implausible}, headers=ex
        )
        assert r.status_code == 422, implausible
        assert "before the item was acquired" in r.json()["detail"]
    skewed = (clock.now() + timedelta(minutes=4)).isoformat()  # within the 5 minutes of skew
    r = client.post(
        "/v1/evidence/ev-v/custody/transfers", json=TRANSFER | {"time": skewed}, headers=ex
    )
    assert r.status_code == 201
    r = client.post(
        "/v1/evidence/ev-v/custody/transfers",
        json=TRANSFER | {"time": acquired.isoformat()},
        headers=ex,
    )
    assert r.status_code == 201


def test_no_transfer_of_disposed_evidence(
    client: TestClient, make_token: MakeToken, make_evidence: Callable[..., str]
) -> None:
    make_evidence("A", "ev-d", status="disposed")
    r = client.post(
        "/v1/evidence/ev-d/custody/transfers", json=TRANSFER, headers=make_token("examiner", ["A"])
    )
    assert r.status_code == 409


def test_timeline_keyset_pages_never_load_the_whole_timeline(
    client: TestClient,
    ctx: AppContext,
    make_token: MakeToken,
    make_evidence: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from custodyd.daemon.ledger import Event, Ledger

    make_evidence("A", "ev-k")
    make_evidence("A", "ev-other")
    events = [
        Event("custody.transferred", "user:x", "A", "ev-k" if n % 3 else "ev-other", {"n": n})
        for n in range(375)
    ]
    ctx.ledger.append_many(events)
    expected = [e.to_dict() for e in ctx.ledger.history("ev-k")]
    assert len(expected) == 251

    def whole(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a request loaded a whole timeline")

    monkeypatch.setattr(Ledger, "history", whole)
    monkeypatch.setattr(Ledger, "case_history", whole)
    inv = make_token("investigator", ["A"])
    seen: list[dict[str, object]] = []
    after: int | None = None
    pages = 0
    before = ctx.ledger.size()
    while True:
        query = "limit=100" + (f"&after={after}" if after is not None else "")
        r = client.get(f"/v1/evidence/ev-k/custody?{query}", headers=inv)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == 251
        seen.extend(body["items"])
        pages += 1
        after = body["next_after"]
        if after is None:
            break
        assert after == body["items"][-1]["index"]
    assert pages == 3
    assert seen == expected
    assert ctx.ledger.size() == before + 3  # one audited read per page
    # offset paging still works and agrees
    r = client.get("/v1/evidence/ev-k/custody?limit=50&offset=200", headers=inv)
    assert r.json()["items"] == expected[200:250] and r.json()["next_offset"] == 250
    # a case timeline pages the same way
    r = client.get("/v1/cases/A/custody?limit=10", headers=inv)
    body = r.json()
    assert len(body["items"]) == 10 and body["next_after"] == body["items"][-1]["index"]
