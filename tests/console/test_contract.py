"""The console's Contract against a real ``custodyd serve`` (whole process, plain HTTP).

- ``GET /`` without a session redirects to a sign-in page with a form containing an
  input named ``token``; posting a valid token there yields a session cookie and a redirect.
- ``GET /evidence`` (signed in) lists each visible item's evidence id and BLAKE3 hex;
  ``GET /evidence/{id}`` shows that item; for an item of a case the user cannot see: 404.
- ``GET /media`` lists attached media (here: none, the daemon runs without udev).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.api.live import LiveServer, cli_json, start_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, list[dict]]]:
    root = tmp_path_factory.mktemp("console-contract")
    home = root / "home"
    items = []
    for case, size in (("CT-A", 3 << 20), ("CT-A", 1 << 20), ("CT-B", 2 << 20)):
        source = root / f"{case}-{size}.raw"
        source.write_bytes(os.urandom(size))
        items.append(cli_json(home, "image", str(source), "--case", case))
    live = start_server(home, ["--no-udev"])
    try:
        yield live, items
    finally:
        live.stop()


def _signin(http: httpx.Client, token: str) -> httpx.Response:
    page = http.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    return http.post("/signin", data={"token": token, "csrf": csrf.group(1)})


def test_root_redirects_to_signin_and_a_token_opens_a_session(
    served: tuple[LiveServer, list[dict]],
) -> None:
    live, _ = served
    with httpx.Client(base_url=live.url, timeout=30) as http:
        r = http.get("/")
        assert r.status_code in (302, 303, 307)
        page = http.get(r.headers["location"])
        assert page.status_code == 200
        form = re.search(r"<form[^>]*>.*?</form>", page.text, re.S)
        assert form and re.search(r'<input[^>]*name="token"', form.group(0))
        r = _signin(http, live.admin_token)
        assert r.status_code in (302, 303) and r.headers["location"]
        assert "custodyd_session" in r.headers["set-cookie"]
        assert http.get("/", follow_redirects=True).status_code == 200


def test_evidence_lists_ids_and_blake3_and_hides_other_cases(
    served: tuple[LiveServer, list[dict]],
) -> None:
    live, items = served
    token = str(
        cli_json(live.home, "tokens", "create", "--role", "investigator", "--case", "CT-A")["token"]
    )
    with httpx.Client(base_url=live.url, timeout=30) as http:
        _signin(http, token)
        listing = http.get("/evidence")
        assert listing.status_code == 200
        for item in items:
            shown = item["evidence_id"] in listing.text and item["hashes"]["blake3"] in listing.text
            assert shown == (item["case"] == "CT-A"), item["evidence_id"]
        mine = items[0]
        page = http.get(f"/evidence/{mine['evidence_id']}")
        assert page.status_code == 200
        assert mine["evidence_id"] in page.text and mine["hashes"]["blake3"] in page.text
        other = next(i for i in items if i["case"] == "CT-B")
        assert http.get(f"/evidence/{other['evidence_id']}").status_code == 404
    with httpx.Client(base_url=live.url, timeout=30) as http:
        _signin(http, live.admin_token)
        listing = http.get("/evidence").text
        assert all(i["evidence_id"] in listing and i["hashes"]["blake3"] in listing for i in items)


def test_media_page_lists_attached_media(served: tuple[LiveServer, list[dict]]) -> None:
    live, _ = served
    with httpx.Client(base_url=live.url, timeout=30) as http:
        _signin(http, live.admin_token)
        page = http.get("/media")
        assert page.status_code == 200
        assert 'id="media-list"' in page.text and "No media attached" in page.text


def test_a_token_posted_alone_by_a_script_opens_a_session(
    served: tuple[LiveServer, list[dict]],
) -> None:
    """Contract, taken literally by a script: post ``token`` to the sign-in form (no page
    value, no browser headers) -> session cookie and redirect. A browser's post (it
    always says where it comes from) still needs the page's value."""
    live, _ = served
    with httpx.Client(base_url=live.url, timeout=30) as http:
        r = http.post("/signin", data={"token": live.admin_token})
        assert r.status_code in (302, 303) and r.headers["location"]
        assert "custodyd_session" in r.headers["set-cookie"]
    browser = {"Sec-Fetch-Site": "same-origin", "Origin": live.url}
    with httpx.Client(base_url=live.url, timeout=30) as http:
        r = http.post("/signin", data={"token": live.admin_token}, headers=browser)
        assert r.status_code == 403
        assert "custodyd_session" not in r.headers.get("set-cookie", "")
        r = http.post("/signin", data={"token": live.admin_token, "csrf": "forged"})
        assert r.status_code == 403
