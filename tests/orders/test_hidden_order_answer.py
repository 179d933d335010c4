"""Need-to-know from outside: a case member not named on a confidential order gets the
*same* 404 body for it as for an order id that does not exist (only the id differs), so
the answer carries no signal that the order exists. Whole processes: a real
``custodyd serve`` and ``custodyd`` commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.api.live import LiveServer, cli, start_server
from tests.conftest import FORENSIC_IMAGES
from tests.orders.conftest import REQUEST_FLAGS

IMAGE = FORENSIC_IMAGES / "dfvfs_ext2.raw"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    if not IMAGE.is_file():
        pytest.skip(f"shared test image missing: {IMAGE}")
    server = start_server(tmp_path / "home")
    try:
        yield server
    finally:
        server.stop()


def _json(home: Path, *args: str) -> dict:
    data = json.loads(cli(home, *args, "--json").stdout)
    assert isinstance(data, dict)
    return data


def test_hidden_order_answers_like_a_missing_one(live: LiveServer) -> None:
    home = live.home
    eid = _json(home, "image", str(IMAGE), "--case", "NTK")["evidence_id"]
    cli(home, "users", "add", "ivy", "--role", "investigator")
    cli(home, "users", "add", "eric", "--role", "examiner")
    today = datetime.now(UTC).date().isoformat()
    secret = _json(
        home, "orders", "add", "--evidence", eid, "--regime", "intl-expedited-60",
        "--issued", today, "--ref", "NTK-1", *REQUEST_FLAGS,
        "--confidential", "--need-to-know", "ivy",
    )  # fmt: skip
    token = _json(home, "tokens", "create", "--role", "examiner", "--case", "NTK", "--user", "eric")
    eric = live.headers(str(token["token"]))
    hidden_id, missing_id = int(secret["id"]), int(secret["id"]) + 1000
    with httpx.Client(base_url=live.url, timeout=30) as http:
        hidden = http.get(f"/v1/orders/{hidden_id}", headers=eric)
        missing = http.get(f"/v1/orders/{missing_id}", headers=eric)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["content-type"] == missing.headers["content-type"]

    def without_id(text: str, order_id: int) -> str:
        return text.replace(f"order {order_id}", "order ID").replace(f"s/{order_id}", "s/ID")

    shown = without_id(hidden.text, hidden_id)
    assert shown == without_id(missing.text, missing_id), (hidden.text, missing.text)
