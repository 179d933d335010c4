"""API fixtures: an app over the test context, a client, and tokens per role and case."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from custodyd.api.app import create_app
from custodyd.daemon.auth import create_token
from custodyd.daemon.cases import create_case
from custodyd.daemon.context import AppContext

MakeToken = Callable[..., dict[str, str]]


@pytest.fixture
def app(ctx: AppContext) -> FastAPI:
    return create_app(ctx)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # Server errors must come back as responses (problem JSON), not be raised here.
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def make_token(ctx: AppContext) -> MakeToken:
    """``make_token(role, cases=(...))`` -> Authorization headers for a new token."""

    def make(role: str, cases: Sequence[str] = (), name: str | None = None) -> dict[str, str]:
        with ctx.session() as session:
            new = create_token(session, ctx.clock, role=role, cases=cases, name=name)
        return {"Authorization": f"Bearer {new.secret}"}

    return make


@pytest.fixture
def make_case(ctx: AppContext) -> Callable[[str], str]:
    def make(ref: str, title: str = "") -> str:
        with ctx.session() as session:
            create_case(session, ctx.clock, ref, title)
        return ref

    return make


@pytest.fixture
def admin(make_token: MakeToken) -> dict[str, str]:
    return make_token("admin", name="test-admin")
