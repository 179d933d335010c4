"""Console fixtures: the API fixtures (app over the test context, tokens, real acquisitions)
plus a browser-like client that signs in through the sign-in form."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import acquired as acquired
from tests.api.conftest import app as app
from tests.api.conftest import client as client
from tests.api.conftest import make_case as make_case
from tests.api.conftest import make_token as make_token

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def sign_in(client: TestClient, token: str) -> None:
    """Sign in through the form exactly as a browser does (form page, then post)."""
    page = client.get("/signin")
    assert page.status_code == 200
    r = client.post(
        "/signin",
        data={"token": token, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert "custodyd_session" in r.cookies or "custodyd_session" in client.cookies


@pytest.fixture
def signed_in(client: TestClient) -> Callable[[str], TestClient]:
    def do(token: str) -> TestClient:
        sign_in(client, token)
        return client

    return do


def secret(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")
