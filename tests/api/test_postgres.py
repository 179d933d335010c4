"""The API (auth schema, membership, audited custody reads, proofs) on a real PostgreSQL."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from custodyd.api.app import create_app
from custodyd.daemon.auth import create_token_unrecorded
from custodyd.daemon.cases import get_case
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import open_context
from custodyd.daemon.models import Evidence
from tests.api import rfc9162

pytestmark = pytest.mark.postgres


def test_api_on_postgres(settings: Settings, clock: ManualClock, fresh_postgres_url: str) -> None:
    ctx = open_context(settings.model_copy(update={"database_url": fresh_postgres_url}), clock)
    try:
        with ctx.session() as session:
            admin = create_token_unrecorded(session, clock, role="admin").secret
        with TestClient(create_app(ctx), raise_server_exceptions=False) as client:
            headers = {"Authorization": f"Bearer {admin}"}
            for ref in ("PA", "PB"):
                assert (
                    client.post("/v1/cases", json={"ref": ref}, headers=headers).status_code == 201
                )
            with ctx.session() as session:
                inv = create_token_unrecorded(
                    session, clock, role="investigator", cases=["PA"]
                ).secret
                for ref in ("PA", "PB"):
                    case_id = get_case(session, ref).id or 0
                    session.add(
                        Evidence(
                            id=f"EV-{ref}",
                            case_id=case_id,
                            status="sealed",
                            source_path="/dev/x",
                            directory="/nonexistent",
                            image_path="/nonexistent/image.raw",
                            created_at=clock.now(),
                        )
                    )
            ctx.ledger.append(
                "evidence.acquired", actor="system:custodyd", case="PA", evidence="EV-PA"
            )
            investigator = {"Authorization": f"Bearer {inv}"}
            assert [
                c["ref"] for c in client.get("/v1/cases", headers=investigator).json()["items"]
            ] == ["PA"]
            assert client.get("/v1/evidence/EV-PB/custody", headers=investigator).status_code == 404
            items = client.get("/v1/evidence/EV-PA/custody", headers=investigator).json()["items"]
            assert [i["action"] for i in items] == ["evidence.acquired"]
            key = client.get("/v1/ledger/public-key", headers=investigator).text
            cp = rfc9162.open_checkpoint(
                client.get("/v1/ledger/checkpoint", headers=investigator).text, key
            )
            proof = client.get(
                "/v1/ledger/proofs/inclusion",
                params={"index": items[0]["index"], "tree_size": cp.size},
                headers=investigator,
            ).json()
            leaf = base64.b64decode(proof["leaf"])
            hashes = [base64.b64decode(h) for h in proof["hashes"]]
            assert rfc9162.root_from_inclusion(items[0]["index"], cp.size, leaf, hashes) == cp.root
    finally:
        ctx.close()
