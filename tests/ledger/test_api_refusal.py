"""Over HTTP a refused append is a 503 problem ``ledger-inconsistent`` and changes nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from custodyd.api.app import create_app
from custodyd.daemon.auth import create_token_unrecorded
from custodyd.daemon.context import AppContext
from custodyd.daemon.ledger import Event
from tests.ledger.tampering import drop_triggers, execute


def test_api_answers_503_on_a_fork_and_creates_nothing(lctx: AppContext) -> None:
    with lctx.session() as session:
        token = create_token_unrecorded(session, lctx.clock, role="admin", name="api-admin")
    headers = {"Authorization": f"Bearer {token.secret}"}
    with TestClient(create_app(lctx), raise_server_exceptions=False) as client:
        assert client.post("/v1/cases", json={"ref": "OK-1"}, headers=headers).status_code == 201
        lctx.ledger.append_many([Event("x.y", "user:u") for _ in range(5)])
        drop_triggers(lctx.engine)  # a database administrator removes the newest entries
        execute(lctx.engine, "DELETE FROM ledger_entries WHERE idx >= 2")
        for level in range(4):
            execute(
                lctx.engine,
                "DELETE FROM ledger_nodes WHERE level = :l AND (idx + 1) * :w > 2",
                l=level,
                w=1 << level,
            )
        execute(lctx.engine, "DELETE FROM ledger_checkpoints WHERE size > 2")
        answer = client.post("/v1/cases", json={"ref": "FORK-1"}, headers=headers)
        assert answer.status_code == 503, answer.text
        problem = answer.json()
        assert problem["type"] == "urn:custodyd:problem:ledger-inconsistent"
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert client.get("/v1/cases/FORK-1", headers=headers).status_code == 404
        read = client.get("/v1/cases/OK-1/custody", headers=headers)  # an audited read
        assert read.status_code == 503 and "ledger-inconsistent" in read.json()["type"]
