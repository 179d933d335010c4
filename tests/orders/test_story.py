"""The story of issues 2 and 11, end to end through the real CLI and a real SMTP server.

A request issued 70 days ago, received and preserved 55 days ago, under the 60-day
regime: 5 days left, the 7-day and 1-day alerts by mail; another issued 55 days
ago and preserved today: 60 days left, no mail (the minimum runs from the day
preservation was effected, art. 68(7); earlier versions of these tests counted
from the issue date — the wrong rule). A follow-up request replaces the expiry
with a hold; destruction fails while held; the request is granted: the order is
``executing`` and destruction still fails; the execution is recorded; the order
expires; the item is disposed of; the whole story is in the custody history.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from custodyd.daemon.cli import app as cli_app
from custodyd.daemon.cli.app import _register
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from custodyd.daemon.errors import DispositionRefused
from tests.orders.conftest import REQUEST_FLAGS, Mailbox, evidence_bytes, make_evidence

CLI_MODULES = ["orders", "dispose", "alerts", "retention", "regimes", "transfers", "fixity"]


def sha(ctx: AppContext, evidence_id: str) -> dict[str, str]:
    return {k: hashlib.sha256(v).hexdigest() for k, v in evidence_bytes(ctx, evidence_id).items()}


@pytest.fixture
def mail_ctx(
    settings: Settings, smtp_server: tuple[str, Mailbox], monkeypatch: pytest.MonkeyPatch
) -> AppContext:
    smtp_url, _ = smtp_server
    monkeypatch.setenv("CUSTODYD_SMTP_URL", smtp_url)
    monkeypatch.setenv("CUSTODYD_ALERT_TO", "compliance@lab.example,duty@lab.example")
    monkeypatch.setenv("CUSTODYD_ALERT_FROM", "custodyd@lab.example")
    return open_context(Settings(), clock=ManualClock(datetime.now(UTC)))


def test_story_through_cli_processes(
    mail_ctx: AppContext, smtp_server: tuple[str, Mailbox]
) -> None:
    """Real processes, real time, real SMTP (the part of the story that needs no time travel)."""
    _, mailbox = smtp_server
    ctx = mail_ctx
    make_evidence(ctx, "EV-STORY")
    before = sha(ctx, "EV-STORY")
    env = dict(os.environ)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from custodyd.daemon.cli import main; main()", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    regimes = json.loads(cli("regimes", "list", "--json").stdout)
    assert {"intl-expedited-60", "intl-expedited-90", "intl-expedited-180", "domestic-180"} <= {
        r["id"] for r in regimes
    }
    today = datetime.now(UTC).date()
    ago = lambda n: (today - timedelta(days=n)).isoformat()  # noqa: E731
    add = ["orders", "add", "--regime", "intl-expedited-60", *REQUEST_FLAGS, "--json"]
    without_offence = [a for a in add if a not in ("--offence", "computer fraud")]
    missing = cli(*without_offence, "--evidence", "EV-STORY", "--issued", ago(1), "--ref", "X")
    assert missing.returncode == 2 and "--offence" in missing.stderr
    run = cli(
        *add,
        "--evidence",
        "EV-STORY",
        "--issued",
        ago(70),
        "--effected",
        ago(55),
        "--ref",
        "MLA-55",
    )
    assert run.returncode == 0, run.stderr
    order = json.loads(run.stdout)
    expires = (today + timedelta(days=5)).isoformat()
    assert isinstance(order["id"], int)
    assert (order["issued_on"], order["effected_on"], order["expires_on"]) == (
        ago(70),
        ago(55),
        expires,
    )
    oid = str(order["id"])
    make_evidence(ctx, "EV-FRESH")
    run = cli(*add, "--evidence", "EV-FRESH", "--issued", ago(55), "--ref", "MLA-FRESH")
    fresh = json.loads(run.stdout)
    assert fresh["effected_on"] == today.isoformat()
    assert fresh["expires_on"] == (today + timedelta(days=60)).isoformat()

    run = cli("alerts", "check", "--json")
    assert run.returncode == 0, run.stderr + run.stdout
    assert json.loads(run.stdout)["sent"] == 1
    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert "MLA-55" in mail["Subject"] and expires in mail["Subject"]
    assert "EV-STORY" in mail.get_payload(decode=True).decode()
    assert sorted(mailbox.envelopes[0][1]) == ["compliance@lab.example", "duty@lab.example"]
    assert json.loads(cli("alerts", "check", "--json").stdout)["sent"] == 0

    held = json.loads(cli("orders", "followup", oid, "--ref", "MLA-55-F", "--json").stdout)
    assert held["status"] == "hold" and held["hold"]
    run = cli("dispose", "EV-STORY", "--method", "destroy", "--reason", "period over")
    assert run.returncode == 4
    assert "MLA-55" in run.stderr and "hold" in run.stderr
    assert sha(ctx, "EV-STORY") == before

    decided = json.loads(cli("orders", "decide", oid, "--outcome", "granted", "--json").stdout)
    assert decided["status"] == "executing" and decided["decision"] == "granted"
    run = cli("dispose", "EV-STORY", "--method", "destroy", "--reason", "period over", "--json")
    assert run.returncode == 4 and json.loads(run.stderr)["status"] == 409
    assert sha(ctx, "EV-STORY") == before
    run = cli("orders", "executed", oid, "--basis", "seizure under warrant 4/2026", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["status"] == "decided"
    run = cli("dispose", "EV-STORY", "--method", "destroy", "--reason", "period over", "--json")
    assert run.returncode == 4  # the ordinary expiry applies again: 5 days left
    due = json.loads(cli("retention", "due", "--days", "30", "--json").stdout)["items"]
    assert [(d["evidence_id"], d["days_left"]) for d in due] == [("EV-STORY", 5)]

    # the requesting state withdraws the order (expiry itself is covered in-process below)
    assert cli("orders", "release", oid, "--reason", "withdrawn").returncode == 0
    run = cli("dispose", "EV-STORY", "--method", "destroy", "--reason", "order withdrawn", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["kept"] == ["manifest.json"]
    actions = [e.action for e in ctx.ledger.history("EV-STORY")]
    assert actions == [
        "order.created",
        "alert.sent",
        "order.followup",
        "order.decided",
        "order.executed",
        "order.released",
        "evidence.disposed",
    ]
    assert [e.action for e in ctx.ledger.history("EV-FRESH")] == ["order.created"]
    ctx.close()


def test_story_with_time_moving(
    mail_ctx: AppContext, smtp_server: tuple[str, Mailbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole story with a manual clock, through the Typer commands in-process."""
    _, mailbox = smtp_server
    ctx = mail_ctx
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    clock.set(datetime(2026, 5, 10, 8, 0, tzinfo=UTC))
    _register()
    import importlib

    for name in CLI_MODULES:
        monkeypatch.setattr(
            importlib.import_module(f"custodyd.daemon.cli.{name}"), "context", lambda: ctx
        )
    runner = CliRunner()

    def cli(*args: str) -> dict:
        result = runner.invoke(cli_app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args else {}

    make_evidence(ctx, "EV-T")
    before = sha(ctx, "EV-T")
    order = cli(
        "orders",
        "add",
        "--evidence",
        "EV-T",
        "--regime",
        "intl-expedited-60",
        "--issued",
        "2026-03-01",
        "--effected",
        "2026-03-16",
        *REQUEST_FLAGS,
        "--ref",
        "MLA-T",
        "--json",
    )
    assert order["expires_on"] == "2026-05-15"
    oid = str(order["id"])
    # issued 55 days ago, preserved today: 60 days left, and no mail for a long time
    make_evidence(ctx, "EV-T2")
    fresh = cli(
        "orders", "add", "--evidence", "EV-T2", "--regime", "intl-expedited-60",
        "--issued", "2026-03-16", *REQUEST_FLAGS, "--ref", "MLA-FRESH", "--json",
    )  # fmt: skip
    assert (fresh["effected_on"], fresh["expires_on"]) == ("2026-05-10", "2026-07-09")
    assert cli("alerts", "check", "--json")["sent"] == 1  # 7-day alert (30-day superseded)
    clock.advance(timedelta(days=2))
    assert cli("alerts", "check", "--json")["sent"] == 0
    clock.advance(timedelta(days=2))  # 2026-05-14: one day left
    assert cli("alerts", "check", "--json")["sent"] == 1
    assert [m["Subject"].split("(")[-1] for m in mailbox.messages] == ["in 5 days)", "tomorrow)"]
    assert all("MLA-T " in m["Subject"] and "2026-05-15" in m["Subject"] for m in mailbox.messages)

    held = cli("orders", "followup", oid, "--json")
    assert held["hold"] and cli("retention", "show", "EV-T", "--json")["retain_until"] is None
    clock.advance(timedelta(days=20))  # long past the 60 days: the hold still stands
    assert cli("alerts", "check", "--json") == {
        "enqueued": 0,
        "superseded": 0,
        "sent": 0,
        "failed": 0,
        "retrying": 0,
        "expired": [],
        "errors": [],
    }
    with pytest.raises(DispositionRefused):
        runner.invoke(
            cli_app,
            ["dispose", "EV-T", "--method", "destroy", "--reason", "x"],
            catch_exceptions=False,
        )
    assert sha(ctx, "EV-T") == before

    cli("orders", "decide", oid, "--outcome", "refused", "--json")
    report = cli("alerts", "check", "--json")
    assert report["expired"] == [int(oid)] and report["sent"] == 1  # the on-expiry alert
    assert cli("orders", "show", oid, "--json")["status"] == "expired"
    result = cli("dispose", "EV-T", "--method", "destroy", "--reason", "retention ended", "--json")
    assert {Path(f["path"]).name for f in result["files"]} == {"image.raw", "image.copy.raw"}
    history = ctx.ledger.history("EV-T")
    story = [(e.action, (e.payload or {}).get("lead_days")) for e in history]
    assert story == [
        ("order.created", None),
        ("alert.sent", 7),
        ("alert.sent", 1),
        ("order.followup", None),
        ("order.decided", None),
        ("order.expired", None),
        ("alert.sent", 0),
        ("evidence.disposed", None),
    ]
    assert history[-1].actor.startswith("cli:")
    ctx.close()
