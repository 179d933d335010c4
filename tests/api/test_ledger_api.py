"""Ledger over HTTP: checkpoint, key, proofs checked with the independent verifier."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable

from fastapi.testclient import TestClient

from custodyd.daemon.context import AppContext
from tests.api import rfc9162
from tests.api.conftest import MakeToken


def _b64(items: list[str]) -> list[bytes]:
    return [base64.b64decode(h) for h in items]


def test_checkpoint_key_and_proofs_verify(
    client: TestClient, make_token: MakeToken, make_evidence: Callable[..., str]
) -> None:
    for n in range(7):
        make_evidence("A", f"ev-{n}")
    inv = make_token("investigator", ["A"])
    r = client.get("/v1/ledger/checkpoint", headers=inv)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    key = client.get("/v1/ledger/public-key", headers=inv)
    assert key.headers["content-type"].startswith("text/plain")
    cp = rfc9162.open_checkpoint(r.text, key.text)
    assert cp.size == 7
    for index in range(cp.size):
        r = client.get(
            f"/v1/ledger/proofs/inclusion?index={index}&tree_size={cp.size}", headers=inv
        )
        assert r.status_code == 200, r.text
        proof = r.json()
        assert proof["leaf_index"] == index and proof["tree_size"] == cp.size
        leaf = base64.b64decode(proof["leaf"])
        assert json.loads(leaf)["index"] == index
        assert rfc9162.root_from_inclusion(index, cp.size, leaf, _b64(proof["hashes"])) == cp.root
    # consistency from an older checkpoint to a newer one
    make_evidence("A", "ev-late")
    newer = rfc9162.open_checkpoint(client.get("/v1/ledger/checkpoint", headers=inv).text, key.text)
    r = client.get(
        f"/v1/ledger/proofs/consistency?first={cp.size}&second={newer.size}", headers=inv
    )
    assert r.status_code == 200
    assert rfc9162.verify_consistency(
        cp.size, newer.size, cp.root, newer.root, _b64(r.json()["hashes"])
    )
    # a tampered root does not verify
    assert not rfc9162.verify_consistency(
        cp.size, newer.size, hashlib.sha256(b"x").digest(), newer.root, _b64(r.json()["hashes"])
    )


def test_inclusion_of_other_case_entry_is_404(
    client: TestClient, ctx: AppContext, make_token: MakeToken, make_evidence: Callable[..., str]
) -> None:
    make_evidence("A", "ev-a")
    make_evidence("B", "ev-b")
    ctx.ledger.append("medium.attached", actor="system:custodyd", payload={"serial": "S1"})
    inv_a = make_token("investigator", ["A"])
    assert (
        client.get("/v1/ledger/proofs/inclusion?index=0&tree_size=3", headers=inv_a).status_code
        == 200
    )
    for index in (1, 2):  # case B's entry; an entry of no case
        r = client.get(f"/v1/ledger/proofs/inclusion?index={index}&tree_size=3", headers=inv_a)
        assert r.status_code == 404, index
        assert client.get(f"/v1/ledger/entries/{index}", headers=inv_a).status_code == 404
    examiner = make_token("examiner", ["A"])
    assert client.get("/v1/ledger/entries/2", headers=examiner).status_code == 404  # no case
    assert client.get("/v1/ledger/entries/1", headers=examiner).status_code == 404
    assert client.get("/v1/ledger/entries/99", headers=examiner).status_code == 404
    for role in ("compliance", "admin"):  # entries of no case: admins and compliance only
        who = make_token(role)
        assert client.get("/v1/ledger/entries/2", headers=who).json()["action"] == "medium.attached"


def test_audit_entries_visible_only_with_their_case(
    client: TestClient, ctx: AppContext, make_token: MakeToken, make_evidence: Callable[..., str]
) -> None:
    make_evidence("A", "ev-a")
    make_evidence("B", "ev-b")
    inv_b = make_token("investigator", ["B"])
    client.get("/v1/evidence/ev-b/custody", headers=inv_b)
    audit_index = ctx.ledger.size() - 1
    inv_a = make_token("investigator", ["A"])
    assert client.get(f"/v1/ledger/entries/{audit_index}", headers=inv_a).status_code == 404
    r = client.get(f"/v1/ledger/entries/{audit_index}", headers=inv_b)
    assert r.json()["action"] == "history.read"


def test_proof_arguments_validated(
    client: TestClient, make_token: MakeToken, make_evidence: Callable[..., str]
) -> None:
    make_evidence("A", "ev-a")
    inv = make_token("investigator", ["A"])
    r = client.get("/v1/ledger/proofs/inclusion?index=5&tree_size=9", headers=inv)
    assert r.status_code == 422 and r.json()["type"] == "urn:custodyd:problem:invalid-input"
    r = client.get("/v1/ledger/proofs/inclusion?index=-1", headers=inv)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.index"
    r = client.get("/v1/ledger/proofs/consistency?first=2&second=1", headers=inv)
    assert r.status_code == 422
    assert client.get("/v1/ledger/checkpoint").status_code == 401


def test_export_bundle_roles(
    client: TestClient, make_token: MakeToken, make_evidence: Callable[..., str]
) -> None:
    make_evidence("A", "ev-a")
    assert (
        client.get("/v1/ledger/export", headers=make_token("investigator", ["A"])).status_code
        == 403
    )
    r = client.get("/v1/ledger/export", headers=make_token("compliance"))
    assert r.status_code == 200
    bundle = r.json()
    assert bundle["format"] == "custodyd-ledger-bundle/1" and len(bundle["entries"]) == 1
    rfc9162.open_checkpoint(bundle["checkpoint"], bundle["public_key"])
