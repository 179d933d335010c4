"""The Contract section of issue 11, exactly, as whole processes: ``custodyd`` commands
and a real ``custodyd serve`` answering HTTP (what outside checks call)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.api.live import LiveServer, cli, start_server
from tests.conftest import FORENSIC_IMAGES
from tests.orders.conftest import REQUEST_FLAGS

IMAGE = FORENSIC_IMAGES / "dfvfs_mbr.raw"


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(home, *args, check=False)


def one_json(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)  # exactly one JSON object
    assert isinstance(data, dict)
    return data


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    if not IMAGE.is_file():
        pytest.skip(f"shared test image missing: {IMAGE}")
    server = start_server(tmp_path / "home")
    try:
        yield server
    finally:
        server.stop()


def test_issue_11_contract(live: LiveServer) -> None:
    home = live.home
    eid = one_json(run(home, "image", str(IMAGE), "--case", "K-11", "--json"))["evidence_id"]
    today = datetime.now(UTC).date()
    issued = (today - timedelta(days=70)).isoformat()
    effected = (today - timedelta(days=55)).isoformat()
    base = ["orders", "add", "--evidence", eid, "--regime", "intl-expedited-60"]

    # --effected given: the minimum runs from it
    made = one_json(
        run(home, *base, "--issued", issued, "--effected", effected, "--ref", "C-1",
            *REQUEST_FLAGS, "--json")
    )  # fmt: skip
    assert isinstance(made["id"], int)
    assert made["issued_on"] == issued and made["effected_on"] == effected
    assert made["expires_on"] == (today + timedelta(days=5)).isoformat()
    # --effected omitted means today
    fresh = one_json(run(home, *base, "--issued", issued, "--ref", "C-2", *REQUEST_FLAGS, "--json"))
    assert fresh["effected_on"] == today.isoformat()
    assert fresh["expires_on"] == (today + timedelta(days=60)).isoformat()
    # omitting --offence for an international regime exits 2
    flags = [f for f in REQUEST_FLAGS if f not in ("--offence", "computer fraud")]
    assert run(home, *base, "--issued", issued, "--ref", "C-3", *flags, "--json").returncode == 2

    # a confidential order, need-to-know; granted -> executing; dispose exits 4; executed
    for name, role in (("ivy", "investigator"), ("eric", "examiner")):
        assert run(home, "users", "add", name, "--role", role).returncode == 0
    secret = one_json(
        run(home, *base, "--issued", issued, "--ref", "C-SECRET", *REQUEST_FLAGS,
            "--confidential", "--need-to-know", "ivy", "--json")
    )  # fmt: skip
    oid = str(secret["id"])
    assert one_json(run(home, "orders", "followup", oid, "--json"))["status"] == "hold"
    granted = one_json(run(home, "orders", "decide", oid, "--outcome", "granted", "--json"))
    assert granted["status"] == "executing"
    refused = run(home, "dispose", eid, "--method", "destroy", "--reason", "done")
    assert refused.returncode == 4
    done = run(home, "orders", "executed", oid, "--basis", "production order 9")
    assert done.returncode == 0, done.stderr

    # GET /v1/orders/{id} and ?case= for a member not named: 404 / not listed
    def token(user: str, role: str) -> dict[str, str]:
        made = one_json(
            run(home, "tokens", "create", "--role", role, "--case", "K-11", "--user", user,
                "--json")
        )  # fmt: skip
        return live.headers(str(made["token"]))

    eric, ivy = token("eric", "examiner"), token("ivy", "investigator")
    with httpx.Client(base_url=live.url, timeout=30) as http:
        assert http.get(f"/v1/orders/{oid}", headers=eric).status_code == 404
        listed = http.get("/v1/orders", params={"case": "K-11"}, headers=eric).json()["items"]
        assert secret["id"] not in [o["id"] for o in listed]
        assert {made["id"], fresh["id"]} <= {o["id"] for o in listed}
        seen = http.get(f"/v1/orders/{oid}", headers=ivy)
        assert seen.status_code == 200 and seen.json()["ref"] == "C-SECRET"
        listed = http.get("/v1/orders", params={"case": "K-11"}, headers=ivy).json()["items"]
        assert secret["id"] in [o["id"] for o in listed]

    # extract: N-th inventory partition (from 1)
    inventory = one_json(run(home, "inventory", str(IMAGE), "--json"))
    assert len(inventory["partitions"]) == 2
    derived = one_json(
        run(home, "extract", eid, "--path", "/passwords.txt", "--partition", "2", "--json")
    )
    assert derived["parent"] == eid and derived["evidence_id"] != eid
    assert len(derived["hashes"]["sha256"]) == 64 and len(derived["hashes"]["blake3"]) == 64
    oracle = subprocess.run(
        ["icat", "-o", "131", str(IMAGE), str(derived["derived_from"]["inode"])],
        capture_output=True,
        check=True,
    ).stdout
    assert derived["bytes"] == len(oracle) > 0
