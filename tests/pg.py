"""A real PostgreSQL 15 for tests: started in a temp dir, stopped at session end.

Fixtures (registered by ``tests/conftest.py``; reuse them in any area):

- ``postgres_server`` (session): the running server; ``.create_database()`` returns
  the SQLAlchemy URL (``postgresql+psycopg://...``) of a new, empty database.
- ``postgres_url`` (session): one fresh database for the whole session.
- ``fresh_postgres_url`` (function): a new empty database for each test.

The server uses Debian's binaries in ``/usr/lib/postgresql/15/bin`` run as the
``postgres`` user (``initdb`` refuses root), listens on a free port of 127.0.0.1
and a private socket dir, with ``fsync`` on (durability is part of what is tested).
Tests skip with a clear reason only when not root or the binaries are missing;
CI runs as root with ``postgresql`` installed, so there they always run.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("CUSTODYD_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    def __init__(self, root: Path, shared_buffers: str = "128MB") -> None:
        self.root = root
        self.shared_buffers = shared_buffers
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.port = 0
        self._names = itertools.count(1)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=check,
            capture_output=True,
            text=True,
            cwd=self.root,
        )

    def start(self) -> None:
        self.sockets.mkdir()
        shutil.chown(self.root, "postgres", "postgres")
        shutil.chown(self.sockets, "postgres", "postgres")
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        last = ""
        for _attempt in range(5):
            self.port = _free_port()
            opts = (
                f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
                f"-c max_connections=100 -c shared_buffers={self.shared_buffers}"
            )
            done = self._run(
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                opts,
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
                check=False,
            )
            if done.returncode == 0:
                return
            last = done.stderr + done.stdout
        raise RuntimeError(f"PostgreSQL did not start: {last}")

    def stop(self) -> None:
        # immediate: no shutdown checkpoint (the data directory is deleted right after)
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-m",
            "immediate",
            "-w",
            "stop",
            check=False,
        )

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "PostgreSQL tests need root (to run initdb/pg_ctl as the postgres user)"
    for tool in ("initdb", "pg_ctl"):
        if not (PG_BIN / tool).exists():
            return f"PostgreSQL 15 binaries missing ({PG_BIN / tool}); install Debian postgresql"
    if shutil.which("runuser") is None:
        return "runuser missing (util-linux)"
    return None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="custodyd-pg-"))
    server = PostgresServer(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database("session")


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database()
