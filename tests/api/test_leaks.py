"""No answer tells a caller that a case it cannot see exists (issue 10, item 9)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from custodyd.daemon.auth.admin import create_token
from custodyd.daemon.context import AppContext
from tests.api.conftest import MakeToken


def _without_instance(body: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in body.items() if k != "instance"}


def test_creating_a_hidden_case_answers_like_reading_it(
    client: TestClient, admin: dict[str, str], make_token: MakeToken, make_case: Callable[..., str]
) -> None:
    make_case("CASE-A")
    make_case("CASE-B")
    outsider = make_token("examiner", ["CASE-B"])
    read = client.get("/v1/cases/CASE-A", headers=outsider)
    created = client.post("/v1/cases", json={"ref": "CASE-A"}, headers=outsider)
    assert read.status_code == created.status_code == 404
    assert _without_instance(created.json()) == _without_instance(read.json())
    assert "exist" not in created.text
    # and the same as for a case that does not exist at all
    missing = client.get("/v1/cases/CASE-NONE", headers=outsider).json()
    assert created.json()["title"] == missing["title"] and created.json()["type"] == missing["type"]
    # those who can see it are told it exists; a new ref is created
    member = make_token("examiner", ["CASE-A"])
    assert client.post("/v1/cases", json={"ref": "CASE-A"}, headers=member).status_code == 409
    assert client.post("/v1/cases", json={"ref": "CASE-A"}, headers=admin).status_code == 409
    assert client.post("/v1/cases", json={"ref": "CASE-C"}, headers=outsider).status_code == 201


def test_entries_of_no_case_are_for_admins_and_compliance(
    client: TestClient, ctx: AppContext, make_token: MakeToken, make_case: Callable[..., str]
) -> None:
    make_case("SECRET-OP")
    create_token(ctx, "cli:root", role="investigator", cases=["SECRET-OP"], name="t-secret")
    index = ctx.ledger.size() - 1
    assert ctx.ledger.entry(index).action == "token.created"
    make_case("MINE")
    for role in ("investigator", "examiner"):
        r = client.get(f"/v1/ledger/entries/{index}", headers=make_token(role, ["MINE"]))
        assert r.status_code == 404, role
        assert "SECRET-OP" not in r.text
        r = client.get(f"/v1/ledger/proofs/inclusion?index={index}", headers=make_token(role))
        assert r.status_code == 404, role
    for role in ("compliance", "admin"):
        r = client.get(f"/v1/ledger/entries/{index}", headers=make_token(role))
        assert r.status_code == 200, role
        assert r.json()["payload"]["cases"] == ["SECRET-OP"]
