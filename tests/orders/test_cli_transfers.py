"""CLI for transfers and regimes, and transfer deadline alerts by mail."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from custodyd.daemon.cli import app as cli_app
from custodyd.daemon.cli.app import _register
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import ReleaseRefused
from custodyd.daemon.orders.alerts import check
from tests.orders.conftest import Mailbox, make_evidence


@pytest.fixture
def cli(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    _register()
    for name in ("transfers", "regimes", "orders", "retention"):
        monkeypatch.setattr(
            importlib.import_module(f"custodyd.daemon.cli.{name}"), "context", lambda: ctx
        )
    runner = CliRunner()

    def run(*args: str) -> Any:
        result = runner.invoke(cli_app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    return run


def test_transfers_through_cli_with_deadline_alerts(
    ctx: AppContext,
    settings: Settings,
    clock: ManualClock,
    smtp_server: tuple[str, Mailbox],
    cli: Callable[..., Any],
) -> None:
    smtp_url, mailbox = smtp_server
    ctx.settings = settings.model_copy(update={"smtp_url": smtp_url, "alert_to": ["c@lab.org"]})
    make_evidence(ctx, "EV1")
    made = cli(
        "transfers",
        "add",
        "--recipient",
        "Authority B",
        "--purpose",
        "trial",
        "--days",
        "10",
        "--evidence",
        "EV1:headers of 3 mails",
        "--ref",
        "OUT-7",
        "--json",
    )
    assert made["items"] == [{"evidence_id": "EV1", "part": "headers of 3 mails"}]
    tid = str(made["id"])
    with pytest.raises(ReleaseRefused):
        CliRunner().invoke(
            cli_app, ["transfers", "release", tid, "--to", "C"], catch_exceptions=False
        )
    cli("transfers", "consent", tid, "--third-party", "C", "--ref", "LETTER-1", "--json")
    with pytest.raises(ReleaseRefused):  # consent names C, not D
        CliRunner().invoke(
            cli_app, ["transfers", "release", tid, "--to", "D"], catch_exceptions=False
        )
    released = cli("transfers", "release", tid, "--to", "C", "--part", "one mail", "--json")
    assert released["third_party_releases"][0]["part"] == "one mail"
    assert released["third_party_releases"][0]["consent_ref"] == "LETTER-1"
    assert check(ctx).sent == 1  # 10 days left: within the 30-day lead
    assert mailbox.subjects()[0].endswith("(in 10 days)")
    clock.advance(timedelta(days=3))
    assert check(ctx).sent == 1
    subject = mailbox.messages[1]["Subject"]
    deadline = (clock.now().date() + timedelta(days=7)).isoformat()
    assert "OUT-7" in subject and deadline in subject and "Authority B" in subject
    due = cli("retention", "due", "--days", "7", "--json")["items"]
    assert [(d["kind"], d["evidence_id"]) for d in due] == [("transfer", "EV1")]
    cli("transfers", "report", tid, "--text", "used at trial", "--json")
    closed = cli("transfers", "close", tid, "--outcome", "destroyed", "--json")
    assert closed["status"] == "destroyed"
    clock.advance(timedelta(days=7))
    assert check(ctx).sent == 0  # closed: no more deadline alerts
    listed = cli("transfers", "list", "--json")["items"]
    assert [t["status"] for t in listed] == ["destroyed"]


def test_regimes_add_and_use(ctx: AppContext, clock: ManualClock, cli: Callable[..., Any]) -> None:
    added = cli(
        "regimes",
        "add",
        "court-30",
        "--name",
        "Court order",
        "--days",
        "30",
        "--max-days",
        "30",
        "--renewable",
        "--renewal-days",
        "30",
        "--max-renewals",
        "1",
        "--citation",
        "Code art. 1",
        "--json",
    )
    assert added["id"] == "court-30" and not added["builtin"]
    ids = [r["id"] for r in cli("regimes", "list", "--json")]
    assert ids[-1] == "court-30" and "domestic-180" in ids
    make_evidence(ctx, "EV1")
    order = cli(
        "orders",
        "add",
        "--case",
        "CASE-1",
        "--regime",
        "court-30",
        "--issued",
        clock.now().date().isoformat(),
        "--ref",
        "CO-1",
        "--json",
    )
    assert order["whole_case"] and order["evidence"] == ["EV1"]
    renewed = cli("orders", "renew", str(order["id"]), "--json")
    assert renewed["renewals"] == 1
    out = cli("orders", "list")
    assert "CO-1" in out


def test_orders_cli_human_output_prints_user_text_verbatim(
    ctx: AppContext, clock: ManualClock, cli: Callable[..., Any]
) -> None:
    make_evidence(ctx, "EV1")
    day = clock.now().date().isoformat()
    made = cli(
        "orders", "add", "--evidence", "EV1", "--regime", "domestic-180", "--issued", day,
        "--ref", "D[b]-1", "--json",
    )  # fmt: skip
    oid = str(made["id"])
    cli("orders", "notify", oid, "--kind", "other", "--text", "[/red] not markup [b]", "--json")
    out = cli("orders", "show", oid)
    assert "D[b]-1" in out and "[/red] not markup [b]" in out
    assert "Expires on" not in out and "expiry_rule" in out and "23(2)" in out
