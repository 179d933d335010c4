"""End to end: a loop medium is attached, acquired by the daemon through the API,
transferred twice; an investigator reads the custody history and checks every
entry against a signed checkpoint with an independent RFC 9162 verifier
(``tests.api.rfc9162``, written from the RFC, not the project's ledger code),
including the Ed25519 signature on the checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api import rfc9162
from tests.api.live import LiveServer, cli_json, start_server
from tests.appliance.conftest import Loops, settle
from tests.appliance.conftest import loops as loops
from tests.appliance.conftest import udevd as udevd
from tests.conftest import needs_root

pytestmark = [needs_root, pytest.mark.slow]

CASE = "E2E-1"
MiB = 1 << 20


@pytest.fixture
def medium(tmp_path: Path, loops: Loops, udevd: None) -> Iterator[tuple[Path, str]]:
    backing = tmp_path / "seized.img"
    with backing.open("wb") as fh:
        for _ in range(4):
            fh.write(os.urandom(MiB))
    yield backing, ""


@pytest.fixture
def daemon(tmp_path: Path, medium: tuple[Path, str]) -> Iterator[LiveServer]:
    home = tmp_path / "home"
    env = {"CUSTODYD_MEDIA_ALLOW_ONLY": "true", "CUSTODYD_MEDIA_ALLOW": str(medium[0])}
    live = start_server(home, [], env=env)
    try:
        yield live
    finally:
        live.stop()


def _wait(predicate, what: str, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_acquire_transfer_and_verify_custody_independently(
    daemon: LiveServer,
    medium: tuple[Path, str],
    loops: Loops,
) -> None:
    backing = medium[0]
    http = httpx.Client(base_url=daemon.url, timeout=30)
    admin = daemon.headers()
    r = http.post("/v1/cases", json={"ref": CASE, "title": "end to end"}, headers=admin)
    assert r.status_code == 201, r.text
    examiner = {
        "Authorization": "Bearer "
        + str(
            cli_json(
                daemon.home,
                "tokens",
                "create",
                "--role",
                "examiner",
                "--case",
                CASE,
                "--name",
                "ex",
            )["token"]
        )
    }
    investigator = {
        "Authorization": "Bearer "
        + str(
            cli_json(
                daemon.home,
                "tokens",
                "create",
                "--role",
                "investigator",
                "--case",
                CASE,
                "--name",
                "inv",
            )["token"]
        )
    }
    outsider = {
        "Authorization": "Bearer "
        + str(
            cli_json(
                daemon.home, "tokens", "create", "--role", "investigator", "--name", "outsider"
            )["token"]
        )
    }

    node = loops.attach(backing, read_only=True)
    settle()

    def held() -> dict[str, object] | None:
        items = http.get("/v1/media", headers=examiner).json()["items"]
        return next((m for m in items if m["path"] == node and m["state"] == "held"), None)

    found = _wait(held, f"{node} to be held by the daemon")
    assert found["read_only"] is True and found["write_block"] in ("software", "hardware")
    r = http.post(
        f"/v1/media/{found['key']}/acquire",
        json={"case": CASE, "hashes": ["sha256"]},
        headers=examiner,
    )
    assert r.status_code == 202, r.text
    job = r.json()

    # follow it over Server-Sent Events until the end event
    events: list[tuple[str, dict[str, object]]] = []
    with http.stream(
        "GET", f"/v1/acquisitions/{job['id']}/events", headers=investigator, timeout=120
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
                if kind == "end":
                    break
    final = events[-1][1]
    assert events[-1][0] == "end" and final["state"] == "done", final
    evidence_id = str(final["evidence_id"])

    manifest = http.get(f"/v1/evidence/{evidence_id}", headers=investigator).json()
    assert manifest["hashes"]["sha256"] == hashlib.sha256(backing.read_bytes()).hexdigest()
    assert manifest["bytes"] == backing.stat().st_size

    for n, (giver, taker) in enumerate((("ex", "Officer A"), ("Officer A", "Court clerk B"))):
        body = {"from": giver, "to": taker, "reason": f"transfer {n}", "location": "Lab 1"}
        r = http.post(f"/v1/evidence/{evidence_id}/custody/transfers", json=body, headers=examiner)
        assert r.status_code == 201, r.text

    assert http.get(f"/v1/evidence/{evidence_id}/custody", headers=outsider).status_code == 404
    r = http.get(f"/v1/evidence/{evidence_id}/custody", headers=investigator)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    actions = [i["action"] for i in items]
    assert actions[0] == "acquisition.started" and "evidence.sealed" in actions
    assert actions[-2:] == ["custody.transferred", "custody.transferred"]
    assert [i["index"] for i in items] == sorted(i["index"] for i in items)

    key = http.get("/v1/ledger/public-key", headers=investigator).text
    note = http.get("/v1/ledger/checkpoint", headers=investigator).text
    checkpoint = rfc9162.open_checkpoint(note, key)  # Ed25519 signature checked here
    assert checkpoint.size > items[-1]["index"]
    for item in items:
        r = http.get(
            "/v1/ledger/proofs/inclusion",
            params={"index": item["index"], "tree_size": checkpoint.size},
            headers=investigator,
        )
        assert r.status_code == 200, r.text
        proof = r.json()
        leaf = base64.b64decode(proof["leaf"])
        entry = json.loads(leaf)
        assert {k: entry[k] for k in ("index", "time", "actor", "action")} == {
            k: item[k] for k in ("index", "time", "actor", "action")
        }
        hashes = [base64.b64decode(h) for h in proof["hashes"]]
        assert (
            rfc9162.root_from_inclusion(item["index"], checkpoint.size, leaf, hashes)
            == checkpoint.root
        )
        # a changed byte in the leaf no longer proves inclusion
        forged = leaf.replace(b'"action"', b'"Action"')
        assert (
            rfc9162.root_from_inclusion(item["index"], checkpoint.size, forged, hashes)
            != checkpoint.root
        )

    # the tree only grew since: consistency from this checkpoint to the next one
    http.get(f"/v1/evidence/{evidence_id}", headers=investigator)  # an audited read appends
    later = rfc9162.open_checkpoint(
        http.get("/v1/ledger/checkpoint", headers=investigator).text, key
    )
    assert later.size > checkpoint.size
    r = http.get(
        "/v1/ledger/proofs/consistency",
        params={"first": checkpoint.size, "second": later.size},
        headers=investigator,
    )
    hashes = [base64.b64decode(h) for h in r.json()["hashes"]]
    assert rfc9162.verify_consistency(
        checkpoint.size, later.size, checkpoint.root, later.root, hashes
    )


def test_progress_polling_and_cancel(tmp_path: Path, loops: Loops, udevd: None) -> None:
    """A throttled acquisition is followed by polling (rate, ETA) and cancelled by an examiner."""
    backing = tmp_path / "slow.img"
    with backing.open("wb") as fh:
        for _ in range(16):
            fh.write(os.urandom(MiB))
    env = {
        "CUSTODYD_MEDIA_ALLOW_ONLY": "true",
        "CUSTODYD_MEDIA_ALLOW": str(backing),
        "CUSTODYD_ACQUIRE_MAX_BPS": str(2 * MiB),
    }
    live = start_server(tmp_path / "home", [], env=env)
    try:
        http = httpx.Client(base_url=live.url, timeout=30)
        assert (
            http.post("/v1/cases", json={"ref": "SLOW"}, headers=live.headers()).status_code == 201
        )
        examiner = {"Authorization": "Bearer " + _token(live, "examiner", "SLOW")}
        investigator = {"Authorization": "Bearer " + _token(live, "investigator", "SLOW")}
        node = loops.attach(backing, read_only=True)
        settle()

        def held() -> dict[str, object] | None:
            items = http.get("/v1/media", headers=examiner).json()["items"]
            return next((m for m in items if m["path"] == node and m["state"] == "held"), None)

        medium = _wait(held, f"{node} to be held")
        job = http.post(
            f"/v1/media/{medium['id']}/acquire", json={"case": "SLOW"}, headers=examiner
        ).json()

        def moving() -> dict[str, object] | None:
            now = http.get(f"/v1/acquisitions/{job['id']}", headers=investigator).json()
            return now if now["state"] == "running" and now["bytes_done"] > 0 else None

        running = _wait(moving, "the acquisition to make progress", timeout=60)
        assert running["bytes_total"] == 16 * MiB and running["rate_bps"] > 0
        assert running["eta_seconds"] is not None and running["eta_seconds"] >= 0
        r = http.post(f"/v1/acquisitions/{job['id']}/cancel", headers=investigator)
        assert r.status_code == 403
        r = http.post(f"/v1/acquisitions/{job['id']}/cancel", headers=examiner)
        assert r.status_code == 200, r.text

        def ended() -> dict[str, object] | None:
            now = http.get(f"/v1/acquisitions/{job['id']}", headers=examiner).json()
            return now if now["state"] not in ("queued", "running") else None

        final = _wait(ended, "the cancelled acquisition to end", timeout=60)
        assert final["state"] == "incomplete", final
        listed = http.get("/v1/acquisitions?state=incomplete", headers=investigator).json()["items"]
        assert [j["id"] for j in listed] == [job["id"]]
        evidence_id = final["evidence_id"]
        assert evidence_id
        item = http.get(f"/v1/evidence/{evidence_id}", headers=investigator).json()
        assert item["status"] == "incomplete"
    finally:
        live.stop()


def _token(live: LiveServer, role: str, case: str) -> str:
    made = cli_json(live.home, "tokens", "create", "--role", role, "--case", case)
    return str(made["token"])
