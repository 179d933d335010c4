"""Users and tokens over the API (admin only), each change in the ledger."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from custodyd.daemon.context import AppContext
from tests.api.conftest import MakeToken


def test_admin_manages_users_and_tokens(
    client: TestClient,
    ctx: AppContext,
    admin: dict[str, str],
    make_token: MakeToken,
    make_case: Callable[[str], str],
) -> None:
    make_case("A")
    assert client.get("/v1/users", headers=make_token("examiner")).status_code == 403
    r = client.post("/v1/users", json={"name": "carol", "role": "investigator"}, headers=admin)
    assert r.status_code == 201 and r.json()["role"] == "investigator"
    assert (
        client.post("/v1/users", json={"name": "carol", "role": "admin"}, headers=admin).status_code
        == 409
    )
    assert [u["name"] for u in client.get("/v1/users", headers=admin).json()["items"]] == ["carol"]
    body = {"role": "investigator", "cases": ["A"], "name": "carol-1", "user": "carol"}
    r = client.post("/v1/tokens", json=body, headers=admin)
    assert r.status_code == 201, r.text
    secret = r.json()["token"]
    carol = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/cases/A", headers=carol).status_code == 200
    listed = client.get("/v1/tokens", headers=admin).json()["items"]
    assert "carol-1" in [t["name"] for t in listed] and secret not in str(listed)
    r = client.post("/v1/tokens", json=body | {"name": "c2", "role": "admin"}, headers=admin)
    assert r.status_code == 422  # carol is an investigator
    r = client.post("/v1/tokens", json=body | {"name": "c3", "cases": ["NOPE"]}, headers=admin)
    assert r.status_code == 404
    assert client.delete("/v1/tokens/carol-1", headers=admin).status_code == 200
    assert client.get("/v1/cases/A", headers=carol).status_code == 401
    assert client.delete("/v1/tokens/carol-1", headers=admin).status_code == 200
    actions = [e.action for e in ctx.ledger.entries()]
    assert actions.count("token.revoked") == 1
    assert "user.added" in actions and "token.created" in actions
    assert all(secret not in e.leaf.decode() for e in ctx.ledger.entries())
