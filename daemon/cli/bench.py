"""``custodyd bench ...``: reproduce the README's performance figures."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.console import Console

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import print_json

bench_app = typer.Typer(name="bench", help="Benchmarks.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("ledger")
def ledger_cmd(
    entries: int = typer.Option(
        100_000, "--entries", help="Entries to append (0: measure the ledger in --home as is)."
    ),
    batch: int = typer.Option(1000, "--batch", help="Entries per durable append batch."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Benchmark this database (default: a fresh SQLite)."
    ),
    home: Path | None = typer.Option(None, "--home", help="Scratch data dir (default: temp)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Append N entries, then time proofs, custody history and full verification."""
    from custodyd.daemon.config import Settings
    from custodyd.daemon.context import open_context
    from custodyd.daemon.ledger import bench as ledger_bench

    with tempfile.TemporaryDirectory(prefix="custodyd-bench-") as scratch:
        settings = Settings(home=home or Path(scratch), database_url=database_url)
        settings.ensure_dirs()
        ctx = open_context(settings)
        console = Console(stderr=True)
        step = max(1, entries // 10)

        # Plain progress lines, no spinner: a refresh thread would compete for the
        # GIL and distort the latency figures.
        def progress(phase: str, done: int, total: int) -> None:
            if phase != "append" or done % step < batch or done == total:
                console.print(f"{phase}: {done}/{total}", highlight=False)

        try:
            result = ledger_bench.run(ctx, entries, batch=batch, progress=progress)
        finally:
            ctx.ledger.close()
            ctx.close()
    from custodyd.daemon.bench.targets import LEDGER_TARGETS, judge

    result["targets"] = judge(result, LEDGER_TARGETS)  # stated for 1,000,000 entries
    if json_out:
        print_json(result)
        return
    for key, value in result.items():
        Console().print(f"{key:>22}  {value}", highlight=False)


@bench_app.command("imaging")
def imaging_cmd(
    size_mib: int = typer.Option(2048, "--size-mib", help="Size of the random source file."),
    rounds: int = typer.Option(3, "--rounds", help="Rounds of dd/image/b3sum/verify."),
    slow_rounds: int = typer.Option(1, "--slow-rounds", help="Rounds of the sha256 tools."),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Scratch directory on the disk to measure (default: temp)."
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Image, verify and start-up as whole processes vs dd, b3sum, dc3dd, dcfldd (cold cache)."""
    from custodyd.daemon.bench import imaging

    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="custodyd-bench-", dir=workdir) as scratch:
        report = imaging.measure(
            Path(scratch),
            size=size_mib * imaging.MiB,
            rounds=rounds,
            slow_rounds=slow_rounds,
            say=lambda message: console.print(message, highlight=False),
        )
    report["command"] = (
        f"custodyd bench imaging --size-mib {size_mib} --rounds {rounds} "
        f"--slow-rounds {slow_rounds} --json"
    )
    if json_out:
        print_json(report)
        return
    out = Console()
    for name, verdict in report["targets"].items():
        mark = "[green]met[/]" if verdict["met"] else "[red]not met[/]"
        out.print(f"{name:>24}  {verdict['got']:>8}  target {verdict['op']} {verdict['value']}  "
                  f"{mark}", highlight=False)  # fmt: skip


@bench_app.command("api")
def api_cmd(
    entries: int = typer.Option(
        100_000, "--entries", help="Ledger entries to seed (0: reuse the ledger in --home)."
    ),
    clients: int = typer.Option(50, "--clients", help="Concurrent keep-alive connections."),
    seconds: float = typer.Option(20.0, "--seconds", help="How long the load runs."),
    home: Path | None = typer.Option(None, "--home", help="Data dir to seed or reuse."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Audited custody-history reads against a real custodyd serve: rate, latency, CPU."""
    from custodyd.daemon.bench import api as bench_api

    console = Console(stderr=True)
    result = bench_api.run(
        entries, clients, seconds, home=home, progress=lambda m: console.print(m, highlight=False)
    )
    if json_out:
        print_json(result)
        return
    for key, value in result.items():
        Console().print(f"{key:>22}  {value}", highlight=False)
