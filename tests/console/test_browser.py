"""The examiner's whole job in a real Chromium against a real ``custodyd serve``.

As root with a real udevd: sign in with a token; attach a read-only loop device
and see it appear on the Media page without a reload; start its acquisition from
the page; watch the progress bar reach 100 %; find on the evidence page the BLAKE3
that ``b3sum`` computes from the backing file; check custody proofs in the browser
(WebCrypto SHA-256 + Ed25519); sign in as an examiner of another case and get the
404 page for that item; a cross-site form post is refused. Screenshots of each
page go to ``tests/console/screenshots/``.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.api.live import LiveServer, cli_json, start_server
from tests.appliance.conftest import Loops, settle
from tests.appliance.conftest import loops as loops
from tests.appliance.conftest import udevd as udevd
from tests.conftest import needs_root
from tests.console.browser import chromium, clean_screenshots, screenshot

pytestmark = [needs_root, pytest.mark.slow]

CASE = "CON-1"
OTHER = "CON-2"
MiB = 1 << 20
SIZE = 96 * MiB  # big enough to watch the bar move at a capped rate
RATE = 48 * MiB  # CUSTODYD_ACQUIRE_MAX_BPS: about two seconds of progress


@pytest.fixture
def backing(tmp_path: Path) -> Path:
    path = tmp_path / "seized.img"
    with path.open("wb") as fh:
        for _ in range(SIZE // MiB):
            fh.write(os.urandom(MiB))
    return path


@pytest.fixture
def daemon(tmp_path: Path, backing: Path, udevd: None) -> Iterator[LiveServer]:
    env = {
        "CUSTODYD_MEDIA_ALLOW_ONLY": "true",
        "CUSTODYD_MEDIA_ALLOW": str(backing),
        "CUSTODYD_ACQUIRE_MAX_BPS": str(RATE),
    }
    live = start_server(tmp_path / "home", [], env=env)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    clean_screenshots()
    driver = chromium(tmp_path / "chromium-profile")
    try:
        yield driver
    finally:
        driver.quit()


def _token(live: LiveServer, role: str, case: str, name: str) -> str:
    return str(
        cli_json(live.home, "tokens", "create", "--role", role, "--case", case, "--name", name)[
            "token"
        ]
    )


def _sign_in(driver, live: LiveServer, token: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    driver.get(live.url + "/")
    assert driver.current_url.endswith("/signin")
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element(By.NAME, "token")
    assert driver.switch_to.active_element == field  # autofocus: type straight away
    field.send_keys(token, Keys.ENTER)  # the keyboard alone signs in


def _wait(driver, condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    # live parts replace elements while we look at them: look again
    ignored = (StaleElementReferenceException,)
    try:
        return WebDriverWait(
            driver, timeout, poll_frequency=0.05, ignored_exceptions=ignored
        ).until(condition)
    except TimeoutException as exc:
        screenshot(driver, "failure")
        raise AssertionError(f"timed out after {timeout} s waiting for {what}") from exc


def _cross_site_page(target: str, directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Another origin (same host, other port) serving a page that auto-posts a form to us."""
    (directory / "attack.html").write_text(
        "<!doctype html><title>elsewhere</title>"
        f'<form id="f" method="post" action="{target}/cases">'
        '<input name="ref" value="FORGED-1"><input name="title" value="forged"></form>'
        "<script>document.getElementById('f').submit()</script>"
    )
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/attack.html"


def test_examiner_does_the_whole_job_in_chromium(
    daemon: LiveServer, backing: Path, loops: Loops, browser, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser
    live = daemon
    api = httpx.Client(base_url=live.url, timeout=30, headers=live.headers())
    assert api.post("/v1/cases", json={"ref": CASE, "title": "console"}).status_code == 201
    assert api.post("/v1/cases", json={"ref": OTHER, "title": "elsewhere"}).status_code == 201
    examiner = _token(live, "examiner", CASE, "ex-console")
    outsider = _token(live, "examiner", OTHER, "ex-other")

    # -- sign in ------------------------------------------------------------------
    driver.get(live.url + "/")
    _wait(driver, lambda d: d.find_elements(By.NAME, "token"), 10, "the sign-in form")
    screenshot(driver, "01-signin")
    _sign_in(driver, live, examiner)
    _wait(driver, lambda d: d.current_url.endswith("/media"), 10, "the media page")
    assert examiner not in driver.page_source
    cookies = {c["name"]: c for c in driver.get_cookies()}
    session = cookies["custodyd_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert driver.execute_script("return document.cookie").find("custodyd_session") < 0
    _wait(
        driver,
        lambda d: "(live" in d.find_element(By.CSS_SELECTOR, "[data-live-status]").text,
        10,
        "the live media stream",
    )
    screenshot(driver, "02-media-empty")

    # -- plug in: the medium appears without a reload --------------------------------
    driver.execute_script("window.notReloaded = true")
    node = loops.attach(backing, read_only=True)
    plugged = time.monotonic()
    card = _wait(
        driver,
        lambda d: next(
            (
                c
                for c in d.find_elements(By.CSS_SELECTOR, "article.medium")
                if node in c.text and "held" in c.text
            ),
            None,
        ),
        20,
        f"{node} held on the media page",
    )
    seen_after = time.monotonic() - plugged
    assert driver.execute_script("return window.notReloaded === true"), "the page was reloaded"
    print(f"\nmedium {node} on the page {seen_after:.2f} s after losetup returned")
    assert "software" in card.text or "hardware" in card.text
    assert "yes (kernel flag set)" in card.text
    settle()
    screenshot(driver, "03-media-held")

    # -- acquire from the page --------------------------------------------------------
    Select(card.find_element(By.NAME, "case")).select_by_value(CASE)
    card.find_element(By.CSS_SELECTOR, "input[name=hashes][value=sha256]").click()
    card.find_element(By.NAME, "notes").send_keys("seized at the scene, bag 7")
    card.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(driver, lambda d: "/acquisitions/" in d.current_url, 10, "the acquisition page")
    driver.execute_script("window.notReloaded = true")
    bar = driver.find_element(By.ID, "acq-progress")
    seen_values: set[str] = set()

    def finished(d):  # type: ignore[no-untyped-def]
        seen_values.add(bar.get_attribute("value") or "")
        percent = d.find_element(By.ID, "acq-percent").text
        state = d.find_element(By.CSS_SELECTOR, "[data-field=state]").text
        return percent == "100 %" and state == "done"

    mid = _wait(
        driver,
        lambda d: 0 < float(bar.get_attribute("value") or 0) < float(bar.get_attribute("max") or 1),
        30,
        "the progress bar to move",
    )
    assert mid
    screenshot(driver, "04-acquisition-running", full=False)
    _wait(driver, finished, 120, "the progress bar at 100 % and the acquisition done")
    assert bar.get_attribute("value") == bar.get_attribute("max") == str(SIZE)
    assert len(seen_values) >= 2, "the bar never moved"
    rate = driver.find_element(By.CSS_SELECTOR, "[data-field=rate]").text
    assert "on average over" in rate, rate
    assert driver.find_element(By.CSS_SELECTOR, "[data-field=eta]").text == "—"
    assert driver.execute_script("return window.notReloaded === true")
    screenshot(driver, "05-acquisition-done")

    # -- the evidence page shows b3sum's BLAKE3 ---------------------------------------------
    link = _wait(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, "[data-field=evidence] a"),
        30,
        "the evidence link",
    )[0]
    evidence_id = link.text
    link.click()
    _wait(driver, lambda d: d.current_url.endswith(f"/evidence/{evidence_id}"), 10, "evidence page")
    b3sum = subprocess.run(
        ["b3sum", "--no-names", str(backing)], capture_output=True, text=True, check=True
    ).stdout.strip()
    shown = driver.find_element(By.CSS_SELECTOR, "code[data-hash=blake3]").text
    assert shown == b3sum
    assert driver.find_element(By.CSS_SELECTOR, "code[data-hash=sha256]").text
    screenshot(driver, "06-evidence-item")
    driver.find_element(By.CSS_SELECTOR, "form[action$='/verify'] button").click()
    _wait(driver, lambda d: "the image matches" in d.page_source, 60, "the verification result")
    screenshot(driver, "07-evidence-verified", full=False)

    driver.get(f"{live.url}/evidence")
    row = driver.find_element(By.CSS_SELECTOR, f"tr[data-evidence='{evidence_id}']")
    assert b3sum in row.text
    screenshot(driver, "08-evidence-list")

    # -- custody timeline: proofs checked in the browser --------------------------------
    driver.get(f"{live.url}/evidence/{evidence_id}/custody")
    buttons = driver.find_elements(By.CSS_SELECTOR, "button[data-check-proof]")
    assert len(buttons) >= 3, "expected the acquisition's custody entries"
    for button in buttons:
        index = button.get_attribute("data-check-proof")
        button.click()
        result = _wait(
            driver,
            lambda d, i=index: (
                d.find_element(By.CSS_SELECTOR, f"output[data-proof-result='{i}']").get_attribute(
                    "class"
                )
                in ("ok", "bad")
                and d.find_element(By.CSS_SELECTOR, f"output[data-proof-result='{i}']")
            ),
            20,
            f"the proof check of entry {index}",
        )
        assert result.get_attribute("class") == "ok", result.text
        assert "Ed25519 signature by" in result.text and "valid" in result.text
    screenshot(driver, "09-custody-proofs")
    # so far no script error, no Content-Security-Policy violation, no failed request
    severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe

    # the leaf must be the entry the page shows: a page that lies about it fails the check
    second = buttons[1].get_attribute("data-check-proof")
    driver.execute_script(
        f"document.getElementById('entry-{second}').dataset.action = 'custody.transferred'"
    )
    buttons[1].click()
    lied = _wait(
        driver,
        lambda d: (
            d.find_element(By.CSS_SELECTOR, f"output[data-proof-result='{second}']").get_attribute(
                "class"
            )
            == "bad"
            and d.find_element(By.CSS_SELECTOR, f"output[data-proof-result='{second}']")
        ),
        20,
        "the proof check to notice the page's wrong action",
    )
    assert "the page says custody.transferred" in lied.text

    # a tampered public key on the page must make the same check fail
    driver.execute_script(
        "const k = document.getElementById('ledger-public-key');"
        "const v = k.dataset.publicKey; const i = v.indexOf('+'), j = v.indexOf('+', i + 1);"
        "const n = v.slice(0, i), h = v.slice(i + 1, j), b = v.slice(j + 1);"
        "const raw = Uint8Array.from(atob(b), c => c.charCodeAt(0)); raw[5] ^= 1;"
        "k.dataset.publicKey = [n, h, btoa(String.fromCharCode(...raw))].join('+');"
    )
    first = buttons[0].get_attribute("data-check-proof")
    buttons[0].click()
    bad = _wait(
        driver,
        lambda d: (
            d.find_element(By.CSS_SELECTOR, f"output[data-proof-result='{first}']").get_attribute(
                "class"
            )
            == "bad"
            and d.find_element(By.CSS_SELECTOR, f"output[data-proof-result='{first}']")
        ),
        20,
        "the proof check to fail with a wrong key",
    )
    assert "\u2717" in bad.text

    # -- narrow screen ---------------------------------------------------------------------
    driver.set_window_size(400, 860)
    driver.get(f"{live.url}/evidence/{evidence_id}")
    assert driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1"
    ), "the evidence page scrolls sideways at 400 px"
    screenshot(driver, "10-evidence-item-400px")
    driver.get(f"{live.url}/media")
    screenshot(driver, "11-media-400px")
    for path in ("/media", "/evidence", f"/evidence/{evidence_id}/custody", "/cases"):
        driver.get(live.url + path)
        assert driver.execute_script(  # wide tables scroll inside their own box, not the page
            "return document.documentElement.scrollWidth <= window.innerWidth + 1"
        ), f"{path} scrolls sideways at 400 px"
    driver.set_window_size(1280, 800)

    # -- CSRF: a form posted from another origin is refused ------------------------------
    server, attack = _cross_site_page(live.url, tmp_path)
    try:
        driver.get(attack)
        _wait(driver, lambda d: d.current_url.startswith(live.url), 10, "the forged post")
        screenshot(driver, "12-csrf-refused")
        assert "Refused" in driver.page_source or driver.current_url.endswith("/signin")
    finally:
        server.shutdown()
    assert api.get("/v1/cases/FORGED-1").status_code == 404

    # -- sign out; an examiner of another case gets 404 ---------------------------------
    driver.get(f"{live.url}/media")
    driver.find_element(By.CSS_SELECTOR, "form[action='/signout'] button").click()
    _wait(driver, lambda d: d.current_url.endswith("/signin"), 10, "signed out")
    _sign_in(driver, live, outsider)
    _wait(driver, lambda d: d.current_url.endswith("/media"), 10, "the outsider's media page")
    driver.get(f"{live.url}/evidence/{evidence_id}")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Not found"
    assert b3sum not in driver.page_source
    screenshot(driver, "13-other-case-404")
    jar = {c["name"]: c["value"] for c in driver.get_cookies()}
    r = httpx.get(f"{live.url}/evidence/{evidence_id}", cookies=jar)
    assert r.status_code == 404
    r = httpx.get(f"{live.url}/evidence", cookies=jar)
    assert r.status_code == 200 and evidence_id not in r.text

    # -- admin and compliance pages render (screenshots) ---------------------------------
    issued = (datetime.now(UTC) - timedelta(days=170)).date().isoformat()  # due in ~10 days
    order = cli_json(
        live.home,
        "orders",
        "add",
        "--evidence",
        evidence_id,
        "--regime",
        "domestic-180",
        "--issued",
        issued,
        "--ref",
        "MLA-2026-17",
        "--authority",
        "Prosecutor, State A",
    )
    assert order["evidence"] == [evidence_id]
    driver.get(f"{live.url}/media")
    driver.find_element(By.CSS_SELECTOR, "form[action='/signout'] button").click()
    _wait(driver, lambda d: d.current_url.endswith("/signin"), 10, "signed out")
    _sign_in(driver, live, live.admin_token)
    _wait(driver, lambda d: d.current_url.endswith("/media"), 10, "the admin's media page")
    for path, name in (
        ("/acquisitions", "14-acquisitions"),
        (f"/cases/{CASE}", "15-case"),
        ("/retention", "16-retention"),
        ("/admin", "17-admin"),
        (f"/cases/{CASE}/custody", "18-case-custody"),
    ):
        driver.get(live.url + path)
        assert driver.find_element(By.TAG_NAME, "h1").text, path
        assert "Not found" not in driver.find_element(By.TAG_NAME, "h1").text, path
        screenshot(driver, name)
        if name == "16-retention":
            assert "MLA-2026-17" in driver.page_source or evidence_id in driver.page_source

    # -- disposal while an order stands: offered to the role, refused by the domain ------
    driver.get(f"{live.url}/retention/{evidence_id}")
    form = driver.find_element(By.CSS_SELECTOR, "form[action$='/dispose']")
    form.find_element(By.NAME, "reason").send_keys("case closed")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    driver.switch_to.alert.accept()  # "Dispose of …? This cannot be undone."
    _wait(driver, lambda d: "/dispose" in d.current_url, 10, "the disposal answer")
    assert driver.find_element(By.TAG_NAME, "h1").text != "Not found"
    assert "order" in driver.page_source.lower()
    screenshot(driver, "19-disposal-refused")
    assert api.get(f"/v1/evidence/{evidence_id}").json()["status"] == "sealed"

    # -- unplug: the medium leaves the page without a reload -----------------------------
    driver.get(f"{live.url}/media")
    _wait(
        driver,
        lambda d: "(live" in d.find_element(By.CSS_SELECTOR, "[data-live-status]").text,
        10,
        "the live media stream",
    )
    driver.execute_script("window.notReloaded = true")
    loops.detach(node)
    unplugged = time.monotonic()
    _wait(
        driver,
        lambda d: not any(node in c.text for c in d.find_elements(By.CSS_SELECTOR, "article")),
        20,
        f"{node} to leave the media page",
    )
    print(f"medium gone from the page {time.monotonic() - unplugged:.2f} s after losetup -d")
    assert driver.execute_script("return window.notReloaded === true")
