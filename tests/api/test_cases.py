"""Cases over HTTP: create (admin/examiner), per-member lists and reads, close, members."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from custodyd.daemon.context import AppContext
from tests.api.conftest import MakeToken


def test_examiner_creates_case_and_becomes_member(
    client: TestClient, ctx: AppContext, make_token: MakeToken
) -> None:
    examiner = make_token("examiner", name="ex1")
    r = client.post("/v1/cases", json={"ref": "CASE-1", "title": "Burglary"}, headers=examiner)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ref"] == "CASE-1" and body["title"] == "Burglary" and body["status"] == "open"
    assert r.headers["location"] == "/v1/cases/CASE-1"
    assert client.get("/v1/cases/CASE-1", headers=examiner).status_code == 200
    members = client.get("/v1/cases/CASE-1/members", headers=examiner).json()
    assert members == [{"case": "CASE-1", "kind": "token", "name": "ex1", "role": "examiner"}]
    created = ctx.ledger.case_history("CASE-1")
    assert [(e.action, e.actor) for e in created] == [("case.created", "token:ex1")]


def test_duplicate_case_is_409(client: TestClient, admin: dict[str, str]) -> None:
    assert client.post("/v1/cases", json={"ref": "D"}, headers=admin).status_code == 201
    r = client.post("/v1/cases", json={"ref": "D"}, headers=admin)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:custodyd:problem:already-exists"


def test_bad_ref_is_422(client: TestClient, admin: dict[str, str]) -> None:
    r = client.post("/v1/cases", json={"ref": "a/b"}, headers=admin)
    assert r.status_code == 422
    assert "contains '/'" in r.json()["detail"]


def test_lists_and_reads_are_per_membership(
    client: TestClient, make_token: MakeToken, make_case: Callable[[str], str]
) -> None:
    for ref in ("A", "B", "C"):
        make_case(ref)
    inv_a = make_token("investigator", cases=["A"])
    assert [c["ref"] for c in client.get("/v1/cases", headers=inv_a).json()["items"]] == ["A"]
    assert client.get("/v1/cases/A", headers=inv_a).status_code == 200
    hidden = client.get("/v1/cases/B", headers=inv_a)
    missing = client.get("/v1/cases/NOPE", headers=inv_a)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["type"] == missing.json()["type"] == "urn:custodyd:problem:not-found"
    assert client.get("/v1/cases/B/members", headers=inv_a).status_code == 404
    admin = make_token("admin")
    refs = [c["ref"] for c in client.get("/v1/cases", headers=admin).json()["items"]]
    assert refs == ["A", "B", "C"]


def test_pagination(
    client: TestClient, admin: dict[str, str], make_case: Callable[[str], str]
) -> None:
    for i in range(5):
        make_case(f"P{i}")
    first = client.get("/v1/cases?limit=2", headers=admin).json()
    assert [c["ref"] for c in first["items"]] == ["P0", "P1"] and first["next_offset"] == 2
    last = client.get("/v1/cases?limit=2&offset=4", headers=admin).json()
    assert [c["ref"] for c in last["items"]] == ["P4"] and last["next_offset"] is None


def test_close_case(
    client: TestClient, make_token: MakeToken, make_case: Callable[[str], str], ctx: AppContext
) -> None:
    make_case("K")
    examiner = make_token("examiner", cases=["K"])
    r = client.post("/v1/cases/K/close", headers=examiner)
    assert r.status_code == 200 and r.json()["status"] == "closed" and r.json()["closed_at"]
    assert client.post("/v1/cases/K/close", headers=examiner).status_code == 200
    assert [e.action for e in ctx.ledger.case_history("K")] == ["case.closed"]
    assert (
        client.post("/v1/cases/K/close", headers=make_token("investigator", ["K"])).status_code
        == 403
    )
    assert client.post("/v1/cases/K/close", headers=make_token("examiner")).status_code == 404


def test_members_managed_by_admin(
    client: TestClient,
    admin: dict[str, str],
    make_token: MakeToken,
    make_case: Callable[[str], str],
) -> None:
    make_case("M")
    inv = make_token("investigator", name="inv-m")
    assert client.get("/v1/cases/M", headers=inv).status_code == 404
    body = {"kind": "token", "name": "inv-m", "role": "investigator"}
    assert client.put("/v1/cases/M/members", json=body, headers=inv).status_code == 403
    r = client.put("/v1/cases/M/members", json=body, headers=admin)
    assert r.status_code == 200, r.text
    assert client.get("/v1/cases/M", headers=inv).status_code == 200
    r = client.put("/v1/cases/M/members", json=body | {"role": "boss"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.role"
    r = client.put("/v1/cases/M/members", json=body | {"name": "ghost"}, headers=admin)
    assert r.status_code == 404
    assert client.delete("/v1/cases/M/members/token/inv-m", headers=admin).status_code == 204
    assert client.get("/v1/cases/M", headers=inv).status_code == 404
    assert client.delete("/v1/cases/M/members/token/inv-m", headers=admin).status_code == 404
