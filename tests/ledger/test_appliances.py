"""Many appliances, one PostgreSQL ledger: own keys, a trust list in the ledger, no key copied.

Two data directories (two appliances, ``lab-a`` and ``lab-b``) share one database.
``lab-b`` makes its own key (``ledger init-key``), ``lab-a`` enrols it (``ledger
enroll-key``, itself an entry); then two ``custodyd serve`` processes append
concurrently through the API. Indices stay contiguous, nothing is lost or doubled,
every checkpoint verifies against the trust list from either appliance, each
witness stays consistent; a removed key signs nothing more.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from custodyd.daemon.config import Settings
from custodyd.daemon.context import open_context
from custodyd.daemon.errors import LedgerKeyUntrusted
from custodyd.daemon.ledger import offline
from custodyd.daemon.ledger.note import Verifier, signers
from tests.api.live import BIN, clean_env, start_server
from tests.pg import PostgresServer

pytestmark = pytest.mark.timeout(600)


def run(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "custodyd"), *args],
        env=clean_env(home, env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_two_appliances_share_one_ledger(postgres_server: PostgresServer, tmp_path: Path) -> None:
    url = postgres_server.create_database("appliances")
    homes = {"lab-a": tmp_path / "a" / "home", "lab-b": tmp_path / "b" / "home"}
    shared = tmp_path / "lab-share" / "witness"  # a witness both appliances keep
    envs = {
        name: {
            "CUSTODYD_DATABASE_URL": url,
            "CUSTODYD_LEDGER_KEY_NAME": name,
            "CUSTODYD_WITNESS_DIRS": f"{home.parent / 'witness'},{shared}",
        }
        for name, home in homes.items()
    }
    a, b = homes["lab-a"], homes["lab-b"]
    assert run(a, envs["lab-a"], "cases", "create", "FOUNDED").returncode == 0
    done = run(b, envs["lab-b"], "cases", "create", "EARLY")  # no key on B: never implicit
    assert done.returncode == 20, done.stderr
    done = run(b, envs["lab-b"], "ledger", "init-key", "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["trusted"] is False and status["witnessed"] is True
    assert run(b, envs["lab-b"], "cases", "create", "EARLY2").returncode == 20  # not enrolled
    done = run(a, envs["lab-a"], "ledger", "enroll-key", "lab-b", status["public_key"])
    assert done.returncode == 0, done.stderr
    assert (b / "keys" / "ledger-ed25519.pem").read_bytes() != (
        a / "keys" / "ledger-ed25519.pem"
    ).read_bytes()

    token = json.loads(
        run(a, envs["lab-a"], "tokens", "create", "--role", "admin", "--json").stdout
    )
    for home in homes.values():
        (home / "admin.token").write_text(token["token"] + "\n")
    servers = [start_server(home, ["--no-udev"], env=envs[name]) for name, home in homes.items()]
    try:
        before = _size(a, envs["lab-a"])

        def work(job: int) -> int:
            server = servers[job % 2]
            ref = f"CONC-{job:03d}"
            with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as c:
                created = c.post("/v1/cases", json={"ref": ref, "title": "t"})
                assert created.status_code == 201, created.text
                read = c.get(f"/v1/cases/{ref}/custody")
                assert read.status_code == 200, read.text
            return job

        source = tmp_path / "medium.bin"
        source.write_bytes(os.urandom(8 << 20))

        def acquire(job: int) -> str:
            name = ("lab-a", "lab-b")[job % 2]
            done = run(homes[name], envs[name], "image", str(source), "--case", "ACQ", "--json")
            assert done.returncode == 0, done.stderr
            return str(json.loads(done.stdout)["evidence_id"])

        assert run(a, envs["lab-a"], "cases", "create", "ACQ").returncode == 0
        with ThreadPoolExecutor(8) as pool:
            images = [pool.submit(acquire, job) for job in range(4)]
            assert sorted(pool.map(work, range(40))) == list(range(40))
            acquired = [f.result() for f in images]
    finally:
        for server in servers:
            server.stop()

    ctx = open_context(
        Settings(home=a, database_url=url, witness_dirs=[a.parent / "witness", shared])
    )
    try:
        entries = ctx.ledger.entries()
        assert [e.index for e in entries] == list(range(len(entries)))  # contiguous
        created = [e.case for e in entries if e.action == "case.created" and e.case]
        conc = [c for c in created if c.startswith("CONC-")]
        assert sorted(conc) == [f"CONC-{j:03d}" for j in range(40)]  # none lost or doubled
        assert len(entries) > before
        for evidence_id in acquired:  # each acquisition recorded once, wherever it ran
            done_actions = [e.action for e in entries if e.evidence == evidence_id]
            assert done_actions.count("evidence.acquired") == 1, done_actions
        names = {n for note in ctx.ledger.checkpoints() for n, _ in signers(note)}
        assert names == {"lab-a", "lab-b"}  # each appliance signed its own appends
        bundle = ctx.ledger.export_bundle()
        founding = Verifier.parse(bundle["founding_key"])
        assert founding.name == "lab-a"
        assert offline.verify_bundle(bundle, founding).ok  # offline: founding key + trust list
    finally:
        ctx.close()
    for name, home in homes.items():
        done = run(home, envs[name], "ledger", "verify", "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["witnesses"] == 2

    # a removed key signs nothing more, and nothing it could sign would verify
    done = run(a, envs["lab-a"], "ledger", "remove-key", "lab-b", "--reason", "decommissioned")
    assert done.returncode == 0, done.stderr
    ctx_b = open_context(
        Settings(
            home=b,
            database_url=url,
            ledger_key_name="lab-b",
            witness_dirs=[b.parent / "witness", shared],
        )
    )
    try:
        with pytest.raises(LedgerKeyUntrusted):
            ctx_b.ledger.append("x.y", actor="user:u")
    finally:
        ctx_b.close()
    assert run(a, envs["lab-a"], "cases", "create", "AFTER").returncode == 0
    assert run(b, envs["lab-b"], "ledger", "verify").returncode == 0


def test_a_fork_is_refused_across_appliances(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """B never appended after the backup, so only the shared witness (and A's) know the
    lost entries: B refuses too, and so does A."""
    url = postgres_server.create_database("forkshare")
    homes = {"lab-a": tmp_path / "a" / "home", "lab-b": tmp_path / "b" / "home"}
    shared = tmp_path / "lab-share" / "witness"

    def env(name: str, db: str) -> dict[str, str]:
        home = homes[name]
        return {
            "CUSTODYD_DATABASE_URL": db,
            "CUSTODYD_LEDGER_KEY_NAME": name,
            "CUSTODYD_WITNESS_DIRS": f"{home.parent / 'witness'},{shared}",
        }

    a, b = homes["lab-a"], homes["lab-b"]
    assert run(a, env("lab-a", url), "cases", "create", "ONE").returncode == 0
    key = json.loads(run(b, env("lab-b", url), "ledger", "init-key", "--json").stdout)
    assert (
        run(a, env("lab-a", url), "ledger", "enroll-key", "lab-b", key["public_key"]).returncode
        == 0
    )
    assert run(b, env("lab-b", url), "cases", "create", "TWO").returncode == 0
    backup = _copy_database(postgres_server, url)  # the backup, taken now
    for ref in ("THREE", "FOUR"):
        assert run(a, env("lab-a", url), "cases", "create", ref).returncode == 0
    # restored: both appliances now point at the older copy
    for name, home in homes.items():
        done = run(home, env(name, backup), "cases", "create", f"AFTER-{name}", "--json")
        assert done.returncode == 20, done.stderr
        assert "ledger-inconsistent" in done.stderr
        assert run(home, env(name, backup), "ledger", "verify").returncode == 20


def _copy_database(server: PostgresServer, url: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name, copy = str(parsed.database), f"{parsed.database}_backup"
    dsn = f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
    return parsed.set(database=copy).render_as_string(hide_password=False)


def _size(home: Path, env: dict[str, str]) -> int:
    done = run(home, env, "ledger", "verify", "--json")
    return int(json.loads(done.stdout)["size"])
