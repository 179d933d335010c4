"""The console in-process: sign-in, the session cookie, CSRF, roles and cases as the API has them.

(The Contract is also checked against a real ``custodyd serve`` in
``test_contract.py``, and the whole job in a real Chromium in ``test_browser.py``.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from tests.api.conftest import MakeToken
from tests.console.conftest import csrf_of, secret, sign_in

Acquired = Callable[..., dict[str, Any]]


def _actions(ctx: AppContext, since: int) -> list[tuple[str, str]]:
    return [
        (e.action, e.actor) for e in (ctx.ledger.entry(i) for i in range(since, ctx.ledger.size()))
    ]


def test_root_redirects_to_a_signin_form_with_a_token_input(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code in (302, 303, 307) and r.headers["location"] == "/signin"
    page = client.get("/signin")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert re.search(r'<form[^>]*method="post"[^>]*action="/signin"', page.text)
    assert re.search(r'<input[^>]*name="token"', page.text)
    assert re.search(r'<label for="token">', page.text)


def test_signin_sets_a_strict_httponly_session_and_records_it(
    client: TestClient, ctx: AppContext, make_token: MakeToken
) -> None:
    token = secret(make_token("investigator", name="inv"))
    before = ctx.ledger.size()
    page = client.get("/signin")
    r = client.post(
        "/signin", data={"token": token, "csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = next(
        v for k, v in r.headers.multi_items() if k == "set-cookie" and "custodyd_session" in v
    )
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
    assert {"httponly", "samesite", "path"} <= attrs and "secure" not in attrs
    assert "samesite=strict" in cookie.lower()
    session_value = client.cookies["custodyd_session"]
    assert token not in cookie and session_value != token
    assert ("session.started", "token:inv") in _actions(ctx, before)
    # the token never appears in a page or a URL afterwards
    for path in ("/evidence", "/cases"):
        page = client.get(path)
        assert page.status_code == 200 and token not in page.text and session_value not in page.text


def test_secure_cookie_over_tls(ctx: AppContext, app: Any, make_token: MakeToken) -> None:
    token = secret(make_token("investigator"))
    with TestClient(app, base_url="https://testserver") as tls:
        page = tls.get("/signin")
        r = tls.post(
            "/signin", data={"token": token, "csrf": csrf_of(page.text)}, follow_redirects=False
        )
        cookie = next(
            v for k, v in r.headers.multi_items() if k == "set-cookie" and "custodyd_session" in v
        )
        assert "secure" in cookie.lower()


def test_invalid_token_is_refused_without_a_session(client: TestClient) -> None:
    page = client.get("/signin")
    r = client.post(
        "/signin", data={"token": "cdy_nope", "csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 401 and "not valid" in r.text
    assert "custodyd_session" not in client.cookies


def test_signout_revocation_and_expiry_end_the_session(
    client: TestClient, ctx: AppContext, clock: ManualClock, make_token: MakeToken
) -> None:
    token = secret(make_token("investigator", name="inv"))
    sign_in(client, token)
    page = client.get("/cases")
    before = ctx.ledger.size()
    r = client.post("/signout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    assert ("session.ended", "token:inv") in _actions(ctx, before)
    assert client.get("/cases", follow_redirects=False).headers["location"] == "/signin"

    sign_in(client, token)
    assert client.get("/cases").status_code == 200
    from custodyd.daemon.auth.admin import revoke_token

    revoke_token(ctx, "user:admin", "inv")
    r = client.get("/cases", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    assert client.get("/v1/cases").status_code == 401

    token2 = secret(make_token("investigator", name="inv2"))
    sign_in(client, token2)
    assert client.get("/cases").status_code == 200
    clock.advance(timedelta(minutes=ctx.settings.console_session_minutes + 1))
    assert client.get("/cases", follow_redirects=False).headers["location"] == "/signin"


def test_evidence_list_and_item_follow_case_membership_and_are_audited(
    client: TestClient, ctx: AppContext, make_token: MakeToken, acquired: Acquired
) -> None:
    a = acquired("A")
    b = acquired("B", seed=2)
    sign_in(client, secret(make_token("investigator", ["A"], name="inv-a")))
    before = ctx.ledger.size()
    page = client.get("/evidence")
    assert page.status_code == 200
    assert a["evidence_id"] in page.text and a["hashes"]["blake3"] in page.text
    assert b["evidence_id"] not in page.text and b["hashes"]["blake3"] not in page.text
    entry = ctx.ledger.entry(before)
    assert (entry.action, entry.actor) == ("evidence.accessed", "token:inv-a")
    item = client.get(f"/evidence/{a['evidence_id']}")
    assert item.status_code == 200 and a["hashes"]["sha256"] in item.text
    assert "Verify now" not in item.text  # investigators may not verify (API: examiner, compliance)
    hidden = client.get(f"/evidence/{b['evidence_id']}")
    missing = client.get("/evidence/EV-DOES-NOT-EXIST")
    assert hidden.status_code == missing.status_code == 404
    assert client.get(f"/evidence/{b['evidence_id']}/custody").status_code == 404
    assert client.get("/cases/B/custody").status_code == 404
    # and the server refuses what the page does not offer
    r = client.post(f"/evidence/{a['evidence_id']}/verify", data={"csrf": csrf_of(item.text)})
    assert r.status_code == 403


def test_examiner_verifies_and_reads_a_custody_timeline(
    client: TestClient, ctx: AppContext, make_token: MakeToken, acquired: Acquired
) -> None:
    a = acquired("A")
    sign_in(client, secret(make_token("examiner", ["A"], name="ex")))
    item = client.get(f"/evidence/{a['evidence_id']}")
    assert "Verify now" in item.text
    r = client.post(f"/evidence/{a['evidence_id']}/verify", data={"csrf": csrf_of(item.text)})
    assert r.status_code == 200 and "the image matches" in r.text
    timeline = client.get(f"/evidence/{a['evidence_id']}/custody")
    assert timeline.status_code == 200
    for entry in ctx.ledger.history(a["evidence_id"]):
        assert f'data-check-proof="{entry.index}"' in timeline.text
    assert ctx.ledger.public_key() in timeline.text
    assert ctx.ledger.entry(ctx.ledger.size() - 1).action == "history.read"


def test_forms_without_the_session_csrf_value_or_from_elsewhere_are_refused(
    client: TestClient, ctx: AppContext, make_token: MakeToken
) -> None:
    sign_in(client, secret(make_token("examiner", name="ex")))
    good = csrf_of(client.get("/cases").text)
    assert client.post("/cases", data={"ref": "X-1"}).status_code == 403
    assert client.post("/cases", data={"ref": "X-1", "csrf": "0" * 64}).status_code == 403
    r = client.post(
        "/cases", data={"ref": "X-1", "csrf": good}, headers={"Origin": "http://evil.example"}
    )
    assert r.status_code == 403
    r = client.post(
        "/cases", data={"ref": "X-1", "csrf": good}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert r.status_code == 403
    with ctx.session() as session:
        from custodyd.daemon.cases import find_case

        assert find_case(session, "X-1") is None
    r = client.post("/cases", data={"ref": "X-1", "csrf": good}, follow_redirects=False)
    assert r.status_code == 303
    # the API with the session cookie: reads yes, changes only with the CSRF header
    assert client.get("/v1/cases").status_code == 200
    assert client.post("/v1/cases", json={"ref": "X-2"}).status_code == 403
    r = client.post("/v1/cases", json={"ref": "X-2"}, headers={"X-CSRF-Token": good})
    assert r.status_code == 201


def test_roles_shape_the_navigation_and_the_server_refuses_the_rest(
    client: TestClient, make_token: MakeToken
) -> None:
    sign_in(client, secret(make_token("investigator", name="inv")))
    page = client.get("/evidence")
    assert 'href="/media"' not in page.text and 'href="/admin"' not in page.text
    assert client.get("/media").status_code == 403
    assert client.get("/admin").status_code == 403
    csrf = csrf_of(page.text)
    assert client.post("/admin/tokens", data={"role": "admin", "csrf": csrf}).status_code == 403


def test_admin_sees_a_new_token_secret_once(
    client: TestClient, ctx: AppContext, make_token: MakeToken
) -> None:
    sign_in(client, secret(make_token("admin", name="root")))
    page = client.get("/admin")
    r = client.post(
        "/admin/tokens",
        data={"role": "investigator", "name": "new-inv", "csrf": csrf_of(page.text)},
    )
    assert r.status_code == 200
    shown = re.search(r'value="(cdy_[^"]+)"', r.text)
    assert shown, r.text
    assert r.headers["cache-control"] == "no-store"
    assert shown.group(1) not in client.get("/admin").text
    with ctx.session() as session:
        from custodyd.daemon.auth import authenticate

        assert authenticate(session, shown.group(1)).token_name == "new-inv"


def test_pages_use_only_local_assets_under_a_strict_policy(
    client: TestClient, make_token: MakeToken
) -> None:
    assert "default-src 'none'" in client.get("/signin").headers["content-security-policy"]
    sign_in(client, secret(make_token("admin")))
    for path in ("/evidence", "/cases", "/admin", "/retention"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text)
        assert "default-src 'none'" in r.headers["content-security-policy"]
        for url in re.findall(r'(?:src|href|action)="([^"]+)"', r.text):
            local = url.startswith(("/", "#")) and not url.startswith("//")
            assert local or url == "data:,", (path, url)  # data:, = no favicon request
    assert client.get("/static/console.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/../app.py").status_code == 404
    assert "/signin" not in client.get("/openapi.json").json()["paths"]


def test_every_api_operation_the_console_asks_about_exists(app: Any) -> None:
    """The console's buttons follow the API's role rules: each one it names must exist."""
    from pathlib import Path

    from custodyd.api.console import permissions

    root = Path(permissions.__file__).parent
    asked = set()
    for source in [*root.glob("pages/*.py"), *root.glob("templates/*.html"), root / "web.py"]:
        asked |= set(re.findall(r'"(GET|POST|PUT|DELETE)",\s*"(/v1/[^"]+)"', source.read_text()))
    assert len(asked) > 15
    for method, path in sorted(asked):
        permissions.may(app, _nobody(), method, path)  # raises LookupError when unknown


def _nobody() -> Any:
    from custodyd.daemon.auth import Principal

    return Principal(actor="token:nobody", role="investigator")


def test_admin_disables_a_user_and_their_console_session_ends(
    client: TestClient, ctx: AppContext, app: Any, make_token: MakeToken
) -> None:
    from custodyd.daemon.auth import add_user_unrecorded
    from custodyd.daemon.auth import create_token_unrecorded as new_token

    with ctx.session() as session:
        add_user_unrecorded(session, ctx.clock, "alice", "investigator")
        alice = new_token(session, ctx.clock, role="investigator", user="alice").secret
    with TestClient(app) as other:
        sign_in(other, alice)
        assert other.get("/cases").status_code == 200
        sign_in(client, secret(make_token("admin", name="root")))
        page = client.get("/admin")
        assert 'action="/admin/users/alice/disable"' in page.text
        r = client.post("/admin/users/alice/disable", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 200 and "disabled" in r.text
        assert other.get("/cases", follow_redirects=False).headers["location"] == "/signin"


def test_the_acquire_form_offers_the_formats_the_api_accepts() -> None:
    """The API declares ``format: Literal["raw", "e01"] | None``; the form offers exactly those."""
    from custodyd.api.console.pages.media import _formats

    assert _formats() == ["raw", "e01"]


def test_evidence_list_filters_by_case_status_and_dates(
    client: TestClient, make_token: MakeToken, acquired: Acquired
) -> None:
    a = acquired("A")
    b = acquired("B", seed=2)
    sign_in(client, secret(make_token("admin", name="root")))
    started = a["started_at"][:10]

    def shown(query: str) -> set[str]:
        page = client.get("/evidence" + query)
        assert page.status_code == 200, page.text
        return set(re.findall(r'data-evidence="([^"]+)"', page.text))

    both = {a["evidence_id"], b["evidence_id"]}
    assert shown("") == both
    assert shown("?case=A") == {a["evidence_id"]}
    assert shown("?status=sealed") == both and shown("?status=disposed") == set()
    assert shown(f"?since={started}&until={started}") == both
    assert shown("?since=2999-01-01") == set() and shown("?until=2000-01-01") == set()
    assert client.get("/evidence?since=yesterday").status_code == 422
    assert client.get("/evidence?status=lost").status_code == 422
