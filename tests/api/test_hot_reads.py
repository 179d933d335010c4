"""The audited custody reads answered in front of the router (custodyd.api.hot_reads):
the same answers as the endpoints, every read still in the ledger, and anything
not plain left to the framework."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from custodyd.api.app import create_app
from custodyd.api.hot_reads import HotReads, parse_page
from custodyd.daemon.auth.timeline import PageRequest
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import ServiceUnavailable
from tests.api.conftest import MakeToken

TRANSFER = {"from": "Examiner Ex", "to": "Officer Oh", "reason": "court", "location": "Lab 2"}


class Spy:
    """An ASGI app counting the requests that reach it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.calls += 1
        await self.app(scope, receive, send)


def _without_hot_reads(ctx: AppContext) -> FastAPI:
    app = create_app(ctx)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not HotReads]
    return app


@pytest.fixture
def setup(
    client: TestClient, make_token: MakeToken, make_evidence: Callable[..., str]
) -> dict[str, dict[str, str]]:
    make_evidence("A", "ev-a")
    make_evidence("B", "ev-b")
    examiner = make_token("examiner", ["A"], name="ex")
    for n in range(5):
        r = client.post(
            "/v1/evidence/ev-a/custody/transfers",
            json=TRANSFER | {"reason": f"r{n}"},
            headers=examiner,
        )
        assert r.status_code == 201, r.text
    return {
        "inv": make_token("investigator", ["A"], name="inv"),
        "other": make_token("investigator", ["B"], name="other"),
        "admin": make_token("admin", name="adm"),
    }


PLAIN = [
    "/v1/evidence/ev-a/custody",
    "/v1/evidence/ev-a/custody?limit=2",
    "/v1/evidence/ev-a/custody?limit=2&offset=1",
    "/v1/evidence/ev-a/custody?after=0&limit=3",
    "/v1/evidence/ev-a/custody?limit=1000&offset=999999999999",
    "/v1/evidence/missing/custody",
    "/v1/evidence/ev-b/custody",  # another case: the 404 of a missing item
    "/v1/cases/A/custody",
    "/v1/cases/A/custody?limit=1&after=1",
    "/v1/cases/B/custody",
    "/v1/cases/NOPE/custody",
]

NOT_PLAIN = [
    "/v1/evidence/ev-a/custody?limit=0",
    "/v1/evidence/ev-a/custody?limit=1001",
    "/v1/evidence/ev-a/custody?limit=-1",
    "/v1/evidence/ev-a/custody?limit=x",
    "/v1/evidence/ev-a/custody?limit=",
    "/v1/evidence/ev-a/custody?limit=1&limit=2",
    "/v1/evidence/ev-a/custody?offset=1000000000001",
    "/v1/evidence/ev-a/custody?after=99999999999999",
    "/v1/evidence/ev-a/custody?unknown=1",
    "/v1/evidence/ev-a/custody/",
    "/v1/evidence/ev-a%2Fx/custody",
    "/v1/evidence//custody",
]


def test_plain_reads_are_answered_in_front_of_the_router_exactly_as_by_the_endpoints(
    ctx: AppContext, setup: dict[str, dict[str, str]]
) -> None:
    framework = TestClient(_without_hot_reads(ctx), raise_server_exceptions=False)
    spy = Spy(_without_hot_reads(ctx))
    hot = TestClient(HotReads(spy, ctx), raise_server_exceptions=False)
    for who in ("inv", "other", "admin"):
        for path in PLAIN:
            before = ctx.ledger.size()
            expected = framework.get(path, headers=setup[who])
            audited = ctx.ledger.size() - before
            got = hot.get(path, headers=setup[who])
            assert spy.calls == 0, path
            assert (got.status_code, got.content) == (expected.status_code, expected.content), path
            assert got.headers["content-type"] == expected.headers["content-type"]
            assert got.headers.get("www-authenticate") == expected.headers.get("www-authenticate")
            # a read answered 200 is recorded once, as by the endpoint; a 404 not at all
            assert ctx.ledger.size() - before == 2 * audited, path
            if got.status_code == 200:
                last = ctx.ledger.entry(ctx.ledger.size() - 1)
                assert last.action == "history.read" and last.actor.endswith(
                    {"inv": ":inv", "other": ":other", "admin": ":adm"}[who]
                )


def test_a_bad_or_revoked_token_gets_the_same_401(
    ctx: AppContext, setup: dict[str, dict[str, str]], client: TestClient
) -> None:
    spy = Spy(_without_hot_reads(ctx))
    hot = TestClient(HotReads(spy, ctx), raise_server_exceptions=False)
    wrong = {"Authorization": "Bearer cdt_" + "x" * 40}
    expected = client.get("/v1/evidence/ev-a/custody", headers=wrong)
    got = hot.get("/v1/evidence/ev-a/custody", headers=wrong)
    assert spy.calls == 0
    assert got.status_code == expected.status_code == 401
    assert got.content == expected.content
    assert got.headers["www-authenticate"] == "Bearer"


def test_anything_not_plain_goes_to_the_framework(
    ctx: AppContext, setup: dict[str, dict[str, str]]
) -> None:
    framework = TestClient(_without_hot_reads(ctx), raise_server_exceptions=False)
    spy = Spy(_without_hot_reads(ctx))
    hot = TestClient(HotReads(spy, ctx), raise_server_exceptions=False)
    inv = setup["inv"]
    cases: list[tuple[str, dict[str, str]]] = [(path, inv) for path in NOT_PLAIN]
    cases += [
        ("/v1/evidence/ev-a/custody", {}),
        ("/v1/evidence/ev-a/custody", {"Authorization": "Basic abc"}),
        ("/v1/evidence/ev-a/custody", {"Authorization": "Bearer "}),
    ]
    for n, (path, headers) in enumerate(cases, start=1):
        expected = framework.get(path, headers=headers)
        got = hot.get(path, headers=headers)
        assert spy.calls == n, path
        assert (got.status_code, got.content) == (expected.status_code, expected.content), path
    head = hot.head("/v1/evidence/ev-a/custody", headers=inv)
    assert spy.calls == len(cases) + 1 and head.status_code == 405


def test_metrics_label_hot_reads_by_their_route(
    client: TestClient, setup: dict[str, dict[str, str]]
) -> None:
    assert client.get("/v1/evidence/ev-a/custody", headers=setup["inv"]).status_code == 200
    assert client.get("/v1/cases/A/custody?limit=1", headers=setup["inv"]).status_code == 200
    text = client.get("/metrics").text
    for route in ("/v1/evidence/{evidence_id}/custody", "/v1/cases/{ref}/custody"):
        line = f'custodyd_http_requests_total{{method="GET",route="{route}",status="200"}} 1.0'
        assert line in text


@pytest.mark.parametrize(
    ("query", "page"),
    [
        (b"", PageRequest()),
        (b"limit=5", PageRequest(limit=5)),
        (b"after=7&offset=2", PageRequest(offset=2, after=7)),
        (b"limit=007", PageRequest(limit=7)),
        (b"limit=5&", None),
        (b"limit=%35", None),
        (b"Limit=5", None),
        (b"after", None),
    ],
)
def test_parse_page(query: bytes, page: PageRequest | None) -> None:
    assert parse_page(query) == page


@pytest.mark.parametrize(
    "error",
    [
        ServiceUnavailable("the read could not be recorded in the ledger in time"),
        OverflowError("int too big"),
        RuntimeError("boom"),
    ],
)
def test_errors_after_the_audit_is_queued_get_the_endpoints_answers(
    ctx: AppContext,
    setup: dict[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
) -> None:
    """Through the whole app (the server-error layer is outside the hot reads)."""

    def failing(*_args: Any, **_kwargs: Any) -> bytes:
        raise error

    import custodyd.api.auth as framework_auth

    framework_calls = []
    real = framework_auth.authenticate_fast

    def counted(*args: Any) -> Any:
        framework_calls.append(args)
        return real(*args)

    monkeypatch.setattr(framework_auth, "authenticate_fast", counted)
    monkeypatch.setattr("custodyd.api.routers.custody.timeline_json", failing)
    framework = TestClient(_without_hot_reads(ctx), raise_server_exceptions=False)
    whole = TestClient(create_app(ctx), raise_server_exceptions=False)
    expected = framework.get("/v1/evidence/ev-a/custody", headers=setup["inv"])
    assert len(framework_calls) == 1
    got = whole.get("/v1/evidence/ev-a/custody", headers=setup["inv"])
    assert len(framework_calls) == 1  # answered by the hot path
    assert expected.status_code in (422, 500, 503)
    assert (got.status_code, got.content) == (expected.status_code, expected.content)
    assert got.headers["content-type"] == expected.headers["content-type"]
