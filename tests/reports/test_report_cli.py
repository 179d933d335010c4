"""The contract, as whole processes: ``custodyd report EID --out FILE.pdf`` exits 0 and
``pdftotext FILE.pdf -`` shows the evidence id and the BLAKE3 hex; ``--case``; errors."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FORENSIC_IMAGES

BIN = Path(sys.executable).parent / "custodyd"
CLI = (
    [str(BIN)]
    if BIN.exists()
    else [sys.executable, "-c", "from custodyd.daemon.cli import main; main()"]
)
SOURCE = FORENSIC_IMAGES / "dfvfs_ext2.raw"


def custodyd(*args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, env=os.environ.copy())
    if check is not None:
        assert proc.returncode == check, (proc.stdout, proc.stderr)
    return proc


def pdftotext(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def manifest(home: Path, tmp_path: Path) -> dict[str, object]:
    if not SOURCE.is_file() or shutil.which("pdftotext") is None:
        pytest.skip("needs the shared test images and poppler-utils")
    store = tmp_path / "store"
    out = custodyd("image", str(SOURCE), "--case", "CASE-CLI", "--store", str(store), "--json")
    return dict(json.loads(out.stdout))


def test_report_contract(manifest: dict[str, object], tmp_path: Path) -> None:
    eid = str(manifest["evidence_id"])
    blake3 = str(manifest["hashes"]["blake3"])  # type: ignore[index]
    out = tmp_path / "FILE.pdf"
    custodyd("report", eid, "--out", str(out))
    text = pdftotext(out)
    assert eid in text and blake3 in text
    # the same ledger state again: the same bytes, a second issue recorded
    again = tmp_path / "AGAIN.pdf"
    issued = json.loads(custodyd("report", eid, "--out", str(again), "--json").stdout)
    assert again.read_bytes() == out.read_bytes()
    assert issued["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert issued["path"] == str(again)
    export = tmp_path / "bundle.json"
    custodyd("ledger", "export", "--out", str(export))
    entries = json.loads(export.read_text())["entries"]
    issues = [e for e in entries if e["action"] == "report.issued"]
    assert len(issues) == 2 and all(e["payload"]["evidence"] == eid for e in issues)
    assert issues[-1]["index"] == issued["ledger_index"]
    assert issues[-1]["payload"]["sha256"] == issued["sha256"]
    custodyd("ledger", "verify")


def test_case_report_and_stdout(manifest: dict[str, object], tmp_path: Path) -> None:
    out = tmp_path / "case.pdf"
    custodyd("report", "--case", "CASE-CLI", "--out", str(out))
    assert str(manifest["evidence_id"]) in pdftotext(out)
    piped = subprocess.run(
        [*CLI, "report", "--case", "CASE-CLI", "--out", "-"], capture_output=True
    )
    assert piped.returncode == 0 and piped.stdout == out.read_bytes()


def test_report_errors(manifest: dict[str, object], tmp_path: Path) -> None:
    missing = tmp_path / "missing.pdf"
    proc = custodyd("report", "EV20260101-DEADBEEF", "--out", str(missing), check=3)
    assert "no evidence" in proc.stderr and not missing.exists()
    custodyd("report", check=2)
    custodyd("report", str(manifest["evidence_id"]), "--case", "CASE-CLI", check=2)
    nowhere = tmp_path / "no-such-dir" / "r.pdf"
    proc = custodyd("report", str(manifest["evidence_id"]), "--out", str(nowhere), check=11)
    assert "cannot write" in proc.stderr
