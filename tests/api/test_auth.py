"""Authentication and authorization: 401 vs 403 vs 404, token storage, revocation."""

from __future__ import annotations

import hashlib
import os
import stat

from fastapi.testclient import TestClient
from sqlmodel import select

from custodyd.daemon.auth import ensure_admin_token, revoke_token_unrecorded
from custodyd.daemon.context import AppContext
from custodyd.daemon.models import ApiToken
from tests.api.conftest import MakeToken

PROBLEM = "application/problem+json"


def test_missing_token_is_401_problem_with_challenge(client: TestClient) -> None:
    r = client.get("/v1/cases")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.headers["www-authenticate"] == "Bearer"
    body = r.json()
    assert body["type"] == "urn:custodyd:problem:unauthenticated"
    assert body["status"] == 401


def test_invalid_and_malformed_tokens_are_401(client: TestClient) -> None:
    for header in (
        "Bearer cdy_nope",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "cdy_x",
        "Bearer " + "x" * 500,
    ):
        r = client.get("/v1/cases", headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.json()["type"] == "urn:custodyd:problem:unauthenticated"


def test_valid_token_lists(client: TestClient, make_token: MakeToken) -> None:
    r = client.get("/v1/cases", headers=make_token("investigator"))
    assert r.status_code == 200
    assert r.json() == {"items": [], "limit": 100, "offset": 0, "next_offset": None}


def test_revoked_token_is_401(client: TestClient, ctx: AppContext, make_token: MakeToken) -> None:
    headers = make_token("examiner", name="soon-gone")
    assert client.get("/v1/cases", headers=headers).status_code == 200
    with ctx.session() as session:
        revoke_token_unrecorded(session, ctx.clock, "soon-gone")
    assert client.get("/v1/cases", headers=headers).status_code == 401


def test_wrong_role_is_403(client: TestClient, make_token: MakeToken) -> None:
    for role in ("investigator", "compliance"):
        r = client.post("/v1/cases", json={"ref": "X-1", "title": "t"}, headers=make_token(role))
        assert r.status_code == 403, role
        assert r.json()["type"] == "urn:custodyd:problem:forbidden"


def test_unauthenticated_wins_over_validation(client: TestClient) -> None:
    r = client.post("/v1/cases", json={"nope": 1})
    assert r.status_code == 401


def test_secret_is_stored_only_as_sha256(ctx: AppContext, make_token: MakeToken) -> None:
    headers = make_token("investigator", name="hashed")
    secret = headers["Authorization"].removeprefix("Bearer ")
    with ctx.session() as session:
        token = session.exec(select(ApiToken).where(ApiToken.name == "hashed")).one()
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(token.model_dump())
    raw = ctx.settings.home.joinpath("custodyd.db").read_bytes()
    assert secret.encode() not in raw


def test_ensure_admin_token_once(ctx: AppContext, client: TestClient) -> None:
    path = ensure_admin_token(ctx)
    assert path == ctx.settings.home / "admin.token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    secret = path.read_text().strip()
    r = client.get("/v1/cases", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200
    assert ensure_admin_token(ctx) is None  # an active admin token exists now
    assert path.read_text().strip() == secret
    created = [e for e in ctx.ledger.entries() if e.action == "token.created"]
    assert [(e.actor, e.payload["token"]) for e in created] == [("system:custodyd", "admin")]
    assert secret not in created[0].leaf.decode()


def test_ensure_admin_token_after_revocation(ctx: AppContext) -> None:
    assert ensure_admin_token(ctx) is not None
    with ctx.session() as session:
        revoke_token_unrecorded(session, ctx.clock, "admin")
    path = ensure_admin_token(ctx)
    assert path is not None
    with ctx.session() as session:
        names = [t.name for t in session.exec(select(ApiToken)).all()]
    assert names == ["admin", "admin-2"]
