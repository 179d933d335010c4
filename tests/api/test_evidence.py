"""Evidence over HTTP against real acquisitions: manifest, lists, downloads, fixity."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from tests.api.conftest import MakeToken

Acquired = Callable[..., dict[str, Any]]


def test_manifest_read_is_audited_and_cross_case_404(
    client: TestClient, ctx: AppContext, make_token: MakeToken, acquired: Acquired
) -> None:
    a = acquired("A")
    b = acquired("B", seed=2)
    inv = make_token("investigator", ["A"], name="inv")
    r = client.get(f"/v1/evidence/{a['evidence_id']}", headers=inv)
    assert r.status_code == 200, r.text
    manifest = r.json()
    assert manifest["evidence_id"] == a["evidence_id"] and manifest["case"] == "A"
    assert manifest["hashes"] == a["hashes"] and manifest["status"] == "sealed"
    last = ctx.ledger.entry(ctx.ledger.size() - 1)
    assert (last.action, last.actor) == ("evidence.accessed", "token:inv")
    assert last.payload == {"what": "manifest", "case": "A", "evidence": a["evidence_id"]}
    size = ctx.ledger.size()
    for path in ("", "/inventory", "/manifest.json", "/acquisition.log", "/custody"):
        r = client.get(f"/v1/evidence/{b['evidence_id']}{path}", headers=inv)
        assert r.status_code == 404, path
        assert r.json()["detail"] == f"no evidence {b['evidence_id']!r}"
    assert ctx.ledger.size() == size


def test_list_filters_and_membership(
    client: TestClient, clock: ManualClock, make_token: MakeToken, acquired: Acquired
) -> None:
    a1 = acquired("A")
    clock.advance(timedelta(days=2))
    a2 = acquired("A", seed=3)
    b1 = acquired("B", seed=2)
    inv = make_token("investigator", ["A"])
    ids = lambda r: [m["evidence_id"] for m in r.json()["items"]]  # noqa: E731
    assert ids(client.get("/v1/evidence", headers=inv)) == [a1["evidence_id"], a2["evidence_id"]]
    assert ids(client.get("/v1/evidence?case=B", headers=inv)) == []
    admin = make_token("admin")
    assert len(ids(client.get("/v1/evidence", headers=admin))) == 3
    assert ids(client.get("/v1/evidence?case=B", headers=admin)) == [b1["evidence_id"]]
    sha = a2["hashes"]["sha256"].upper()
    assert ids(client.get(f"/v1/evidence?hash={sha}", headers=inv)) == [a2["evidence_id"]]
    b3 = a1["hashes"]["blake3"]
    assert ids(client.get(f"/v1/evidence?hash={b3}", headers=inv)) == [a1["evidence_id"]]
    since = (clock.now() - timedelta(days=1)).isoformat()
    r = client.get("/v1/evidence", params={"since": since}, headers=inv)
    assert ids(r) == [a2["evidence_id"]]
    r = client.get("/v1/evidence", params={"until": since}, headers=inv)
    assert ids(r) == [a1["evidence_id"]]
    assert ids(client.get("/v1/evidence?status=incomplete", headers=inv)) == []
    r = client.get("/v1/evidence?status=lost", headers=inv)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.status"
    r = client.get("/v1/evidence?hash=xyz", headers=inv)
    assert r.status_code == 422
    page = client.get("/v1/evidence?limit=1", headers=inv).json()
    assert page["next_offset"] == 1 and len(page["items"]) == 1


def test_inventory_and_downloads_never_the_image(
    client: TestClient, make_token: MakeToken, acquired: Acquired
) -> None:
    a = acquired("A")
    inv = make_token("investigator", ["A"])
    ev = a["evidence_id"]
    r = client.get(f"/v1/evidence/{ev}/inventory", headers=inv)
    assert r.status_code == 200 and r.json()["evidence_id"] == ev
    r = client.get(f"/v1/evidence/{ev}/manifest.json", headers=inv)
    assert r.status_code == 200 and r.json()["evidence_id"] == ev
    assert "attachment" in r.headers["content-disposition"]
    r = client.get(f"/v1/evidence/{ev}/acquisition.log", headers=inv)
    assert r.status_code == 200 and ev in r.text
    assert r.headers["content-type"].startswith("text/plain")
    for name in ("image.raw", "../image.raw", "image"):
        assert client.get(f"/v1/evidence/{ev}/{name}", headers=inv).status_code == 404


def test_verify_roles_match_and_mismatch(
    client: TestClient, ctx: AppContext, make_token: MakeToken, acquired: Acquired
) -> None:
    a = acquired("A")
    ev = a["evidence_id"]
    assert (
        client.post(
            f"/v1/evidence/{ev}/verify", headers=make_token("investigator", ["A"])
        ).status_code
        == 403
    )
    other = make_token("compliance", [])
    assert client.post(f"/v1/evidence/{ev}/verify", headers=other).status_code == 404
    examiner = make_token("examiner", ["A"])
    r = client.post(f"/v1/evidence/{ev}/verify", headers=examiner)
    assert r.status_code == 200, r.text
    assert r.json()["match"] is True and r.json()["blake3"] == a["hashes"]["blake3"]
    image = Path(a["image_path"])
    os.chmod(image, 0o644)
    with open(image, "r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    r = client.post(f"/v1/evidence/{ev}/verify", headers=examiner)
    assert r.status_code == 200 and r.json()["match"] is False
    assert client.get(f"/v1/evidence/{ev}", headers=examiner).json()["status"] == "mismatch"
    actions = [e.action for e in ctx.ledger.history(ev)]
    assert actions.count("evidence.verified") == 3  # acquisition, then ours


def test_list_pages_in_sql(
    client: TestClient,
    clock: ManualClock,
    make_token: MakeToken,
    make_evidence: Callable[..., str],
    monkeypatch: Any,
) -> None:
    from custodyd.daemon import acquisition

    for n in range(5):
        make_evidence("P", f"ev-p{n}")
        clock.advance(timedelta(minutes=1))
    make_evidence("Q", "ev-q")

    def everything(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the list loaded every manifest")

    monkeypatch.setattr(acquisition, "list_evidence", everything)
    inv = make_token("investigator", ["P"])
    ids: list[str] = []
    offset: int | None = 0
    while offset is not None:
        r = client.get(f"/v1/evidence?limit=2&offset={offset}", headers=inv)
        assert r.status_code == 200, r.text
        ids.extend(m["evidence_id"] for m in r.json()["items"])
        offset = r.json()["next_offset"]
    assert ids == [f"ev-p{n}" for n in range(5)]
    r = client.get(f"/v1/evidence?hash={'ab' * 32}&limit=10", headers=inv)
    assert [m["evidence_id"] for m in r.json()["items"]] == ids
    r = client.get(f"/v1/evidence?hash={'cd' * 32}", headers=inv)
    assert r.json()["items"] == []
