"""One audited write path: each CLI/API pair leaves the same ledger entries.

Two data directories get the same starting state; every access-control change
and every audited read is made through the CLI in one and through the API in the
other, and the entries each adds must agree in action, case, evidence and payload
(only the actor, the time and the index differ: who did it, when, where).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from custodyd.daemon.cases import create_case_unrecorded
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from custodyd.daemon.ledger import LedgerEntry
from custodyd.daemon.models import Evidence
from tests.api.cli import run_cli

EVIDENCE = "ev-parity"
CASE = "P-1"


def _seed(ctx: AppContext) -> None:
    """The same starting state in both data directories: a case and an item in it."""
    with ctx.session() as session:
        case = create_case_unrecorded(session, ctx.clock, CASE)
        session.add(
            Evidence(
                id=EVIDENCE,
                case_id=case.id or 0,
                status="sealed",
                source_path="/dev/loop-test",
                bytes=1024,
                blake3="ab" * 32,
                directory=str(ctx.settings.evidence_dir / EVIDENCE),
                image_path=str(ctx.settings.evidence_dir / EVIDENCE / "image.raw"),
                manifest={"evidence_id": EVIDENCE, "case": CASE, "bytes": 1024},
                created_at=ctx.clock.now(),
            )
        )
    ctx.ledger.append("evidence.acquired", actor="system:custodyd", case=CASE, evidence=EVIDENCE)


def _shape(entry: LedgerEntry) -> tuple[str, str | None, str | None, Any]:
    return (entry.action, entry.case, entry.evidence, entry.payload)


class Recorder:
    """The entries an action adds to one ledger."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def new(self, action: Callable[[], None]) -> list[LedgerEntry]:
        start = self.ctx.ledger.size()
        action()
        return self.ctx.ledger.entries(start)


@pytest.fixture
def cli_ctx(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, clock: ManualClock):  # type: ignore[no-untyped-def]
    """A second data directory, the one ``$CUSTODYD_HOME`` (so the CLI) now points at."""
    cli_home = tmp_path / "cli-home"
    context = open_context(Settings(home=cli_home), clock=ManualClock(clock.now()))
    monkeypatch.setenv("CUSTODYD_HOME", str(cli_home))
    yield context
    context.close()


def test_cli_and_api_record_the_same_entries(
    ctx: AppContext, cli_ctx: AppContext, client: TestClient, admin: dict[str, str]
) -> None:
    _seed(ctx)
    _seed(cli_ctx)
    api, cli = Recorder(ctx), Recorder(cli_ctx)
    at = (ctx.clock.now() + timedelta(minutes=1)).isoformat()
    transfer = {"from": "Alice", "to": "Bob", "reason": "lab", "location": "Room 1", "time": at}

    def call(method: str, path: str, body: dict[str, Any] | None = None) -> Callable[[], None]:
        def run() -> None:
            r = client.request(method, path, json=body, headers=admin)
            assert r.status_code < 300, (method, path, r.text)

        return run

    def command(*args: str) -> Callable[[], None]:
        def run() -> None:
            code, _, err = run_cli(*args)
            assert code == 0, (args, err)

        return run

    pairs: list[tuple[str, Callable[[], None], Callable[[], None]]] = [
        (
            "user create",
            command("users", "add", "alice", "--role", "investigator"),
            call("POST", "/v1/users", {"name": "alice", "role": "investigator"}),
        ),
        (
            "token create",
            command("tokens", "create", "--role", "investigator", "--name", "t-alice",
                    "--user", "alice", "--case", CASE),
            call("POST", "/v1/tokens", {"role": "investigator", "name": "t-alice",
                                        "user": "alice", "cases": [CASE]}),
        ),
        (
            "member add",
            command("cases", "add-member", CASE, "--user", "alice", "--role", "investigator"),
            call("PUT", f"/v1/cases/{CASE}/members",
                 {"kind": "user", "name": "alice", "role": "investigator"}),
        ),
        (
            "member remove",
            command("cases", "remove-member", CASE, "--user", "alice"),
            call("DELETE", f"/v1/cases/{CASE}/members/user/alice"),
        ),
        (
            "token revoke",
            command("tokens", "revoke", "t-alice"),
            call("DELETE", "/v1/tokens/t-alice"),
        ),
        (
            "user disable",
            command("users", "disable", "alice"),
            call("POST", "/v1/users/alice/disable"),
        ),
        (
            "history read",
            command("history", EVIDENCE, "--json"),
            call("GET", f"/v1/evidence/{EVIDENCE}/custody"),
        ),
        (
            "evidence show",
            command("evidence", "show", EVIDENCE, "--json"),
            call("GET", f"/v1/evidence/{EVIDENCE}"),
        ),
        (
            "evidence list",
            command("evidence", "list", "--case", CASE, "--status", "all", "--json"),
            call("GET", f"/v1/evidence?case={CASE}"),
        ),
        (
            "case create",
            command("cases", "create", "P-2", "--title", "Second"),
            call("POST", "/v1/cases", {"ref": "P-2", "title": "Second"}),
        ),
        ("case close", command("cases", "close", "P-2"), call("POST", "/v1/cases/P-2/close")),
        (
            "custody transfer",
            command("custody", "transfer", EVIDENCE, "--from", "Alice", "--to", "Bob",
                    "--reason", "lab", "--location", "Room 1", "--time", at),
            call("POST", f"/v1/evidence/{EVIDENCE}/custody/transfers", transfer),
        ),
    ]  # fmt: skip
    for what, by_cli, by_api in pairs:
        from_cli = cli.new(by_cli)
        from_api = api.new(by_api)
        assert from_cli, f"{what}: the CLI recorded nothing"
        assert [_shape(e) for e in from_cli] == [_shape(e) for e in from_api], what
        assert all(e.actor.startswith("cli:") for e in from_cli), what
        assert all(e.actor == "token:test-admin" for e in from_api), what
    reads = [
        e for e in cli_ctx.ledger.entries() if e.action in ("history.read", "evidence.accessed")
    ]
    assert len(reads) == 3
    for entry in reads:  # reads are named in the payload, never in the timeline's own fields
        assert entry.case is None and entry.evidence is None
        assert entry.payload["case"] == CASE
    timeline = cli_ctx.ledger.history(EVIDENCE)
    assert [e.action for e in timeline] == ["evidence.acquired", "custody.transferred"]
    assert cli_ctx.ledger.verify().ok and ctx.ledger.verify().ok
