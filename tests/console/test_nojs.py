"""Without JavaScript the console still works: plain links and forms, in a real Chromium
with scripts disabled, against ``custodyd serve --no-udev`` (no root needed)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.live import LiveServer, cli_json, start_server
from tests.console.browser import chromium, screenshot

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[LiveServer, dict]]:  # type: ignore[type-arg]
    home = tmp_path / "home"
    source = tmp_path / "source.raw"
    source.write_bytes(os.urandom(2 << 20))
    item = cli_json(home, "image", str(source), "--case", "NJ-1")
    live = start_server(home, ["--no-udev"])
    try:
        yield live, item
    finally:
        live.stop()


def test_the_console_degrades_to_links_and_forms(
    served: tuple[LiveServer, dict],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    live, item = served
    driver = chromium(tmp_path / "profile", javascript=False)
    try:
        driver.get(live.url + "/")
        field = driver.find_element(By.NAME, "token")
        field.send_keys(live.admin_token)
        field.submit()
        assert driver.current_url.endswith("/media")
        refresh = driver.find_element(By.LINK_TEXT, "refresh")
        assert refresh.is_displayed()  # shown only when no script runs
        driver.find_element(By.LINK_TEXT, "Evidence").click()
        driver.find_element(By.LINK_TEXT, item["evidence_id"]).click()
        assert item["hashes"]["blake3"] in driver.page_source
        driver.find_element(By.LINK_TEXT, "Custody timeline").click()
        buttons = driver.find_elements(By.CSS_SELECTOR, "button[data-check-proof]")
        assert buttons and not any(b.is_displayed() for b in buttons)
        screenshot(driver, "nojs-custody")
        proof_links = driver.find_elements(By.LINK_TEXT, "proof")
        assert proof_links and all(link.is_displayed() for link in proof_links)
        proof_links[0].click()  # the raw proof, with the session cookie
        body = json.loads(driver.find_element(By.TAG_NAME, "body").text)
        assert {"leaf_index", "tree_size", "leaf", "hashes"} <= set(body)
    finally:
        driver.quit()
