"""RFC 9457 problems: validation messages, unknown routes, size limits, no stack traces."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import MakeToken

PROBLEM = "application/problem+json"


def test_validation_error_names_fields(client: TestClient, make_token: MakeToken) -> None:
    r = client.post("/v1/cases", json={"title": 5}, headers=make_token("examiner"))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["type"] == "urn:custodyd:problem:invalid-input"
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert fields["body.ref"] == "Field required"
    assert "string" in fields["body.title"]
    assert "body.ref: Field required" in body["detail"]


def test_query_validation(client: TestClient, make_token: MakeToken) -> None:
    r = client.get("/v1/cases?limit=100000", headers=make_token("admin"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.limit"


def test_unknown_route_and_method(client: TestClient) -> None:
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["type"] == "urn:custodyd:problem:not-found"
    r = client.delete("/healthz")
    assert r.status_code == 405
    assert r.json()["type"] == "urn:custodyd:problem:method-not-allowed"


def test_body_over_limit_is_413(client: TestClient, make_token: MakeToken) -> None:
    big = {"ref": "R", "title": "x" * (2 * 1024 * 1024)}
    r = client.post("/v1/cases", json=big, headers=make_token("examiner"))
    assert r.status_code == 413
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"] == "urn:custodyd:problem:too-large"


def test_streamed_body_over_limit_is_413(client: TestClient, make_token: MakeToken) -> None:
    def chunks():  # no Content-Length: the middleware counts
        for _ in range(40):
            yield b"x" * 65536

    r = client.post(
        "/v1/cases",
        content=chunks(),
        headers=make_token("examiner") | {"content-type": "application/json"},
    )
    assert r.status_code == 413


def test_unhandled_error_is_500_problem_without_trace(app: FastAPI) -> None:
    boom = APIRouter()

    @boom.get("/boom")
    def _boom() -> None:
        raise RuntimeError("secret internal detail /etc/shadow")

    app.include_router(boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"] == "urn:custodyd:problem:internal"
    assert "secret" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text


def test_lone_surrogate_is_422_not_500(client: TestClient, make_token: MakeToken) -> None:
    raw = b'{"ref": "ab\\udbe6cd", "title": "x"}'
    r = client.post(
        "/v1/cases",
        content=raw,
        headers=make_token("examiner") | {"content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["type"] == "urn:custodyd:problem:invalid-input"


def test_unicode_ref_location_header(client: TestClient, make_token: MakeToken) -> None:
    r = client.post("/v1/cases", json={"ref": "Fall-\u00e4\U000a017d"}, headers=make_token("admin"))
    assert r.status_code == 201
    assert r.headers["location"] == "/v1/cases/Fall-%C3%A4%F2%A0%85%BD"
    assert client.get("/v1/evidence/", headers=make_token("admin")).status_code == 404


def test_overflowing_integer_is_422(app: FastAPI) -> None:
    ids = APIRouter()

    @ids.get("/thing/{n}")
    def _thing(n: int) -> None:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    app.include_router(ids)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get(f"/thing/{2**70}")
    assert r.status_code == 422
    assert r.json()["type"] == "urn:custodyd:problem:invalid-input"
