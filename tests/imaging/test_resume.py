"""Resume: an interrupted acquisition continues from its rescue map, in the same item.

Whole ``custodyd`` processes on a slow, failing FUSE source: interrupted with SIGINT
(twice) or killed with SIGKILL, then ``custodyd image --resume EVIDENCE_ID``; the
sealed item's digests must equal an uninterrupted acquisition's (and ``b3sum`` of the
image), its bad areas ddrescue-exact, and the ledger must say what was resumed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import needs_root
from tests.imaging.conftest import MiB, fuse_mount, random_file, tool_digest

pytestmark = [needs_root, pytest.mark.root]

SIZE = 48 * MiB
BAD = [(5 * MiB + 512, 64 * 1024), (30 * MiB, 3 * 512)]
CUSTODYD = [sys.executable, "-c", "from custodyd.daemon.cli import main; main()"]


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CUSTODYD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def wait_for(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting for the acquisition"
        time.sleep(0.05)


def evidence_dir(store: Path) -> Path:
    dirs = [p for p in store.glob("*/*") if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def part_size(directory: Path) -> int:
    part = directory / "image.raw.part"
    return part.stat().st_size if part.exists() else 0


def run_json(*args: str) -> dict:  # type: ignore[type-arg]
    if "--json" not in args:
        args = (*args, "--json")
    code, out, err = finish(start(*args))
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


@pytest.fixture
def slow_source(tmp_path: Path):  # type: ignore[no-untyped-def]
    backing = random_file(tmp_path / "backing.img", SIZE, seed=21)
    with fuse_mount(backing, tmp_path / "mnt", BAD, delay=0.004) as source:
        yield source


def test_sigint_twice_then_resume_equals_an_uninterrupted_run(
    slow_source: Path, tmp_path: Path, home: Path
) -> None:
    reference = run_json("image", str(slow_source), "--case", "REF", "--store", str(tmp_path / "r"))
    store = tmp_path / "store"
    proc = start("image", str(slow_source), "--case", "RES", "--store", str(store), "--json")
    wait_for(lambda: list(store.glob("*/*")) and part_size(evidence_dir(store)) >= SIZE // 3)
    proc.send_signal(signal.SIGINT)
    code, _out, err = finish(proc)
    assert code == 130, err
    directory = evidence_dir(store)
    eid = directory.name
    listed = run_json("evidence", "list", "--case", "RES", "--status", "all", "--json")
    assert [(e["evidence_id"], e["status"]) for e in listed] == [(eid, "incomplete")]
    copied_first = listed[0]["bytes"]
    assert 0 < copied_first < SIZE

    # the resume itself is interrupted once (while it copies what pass 1 left)
    proc = start("image", "--resume", eid, "--json")
    log = directory / "acquisition.log"
    wait_for(lambda: "pass 2 (copying non-tried)" in log.read_text())
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    code, _out, err = finish(proc)
    assert code == 130, err

    manifest = run_json("image", "--resume", eid, "--json")
    assert manifest["evidence_id"] == eid and manifest["status"] == "sealed"
    assert manifest["hashes"] == reference["hashes"]
    assert manifest["read_errors"] == reference["read_errors"]
    assert manifest["piecewise"] == reference["piecewise"]
    assert manifest["verified"] is True and manifest["bytes"] == SIZE
    assert manifest["hashes"]["blake3"] == tool_digest("b3sum", Path(manifest["image_path"]))
    history = run_json("history", eid, "--json")
    entries = history["entries"] if isinstance(history, dict) else history
    actions = [e["action"] for e in entries]
    assert actions.count("acquisition.resumed") == 2
    assert actions.count("acquisition.incomplete") == 2
    assert actions[-1] == "evidence.sealed" or "evidence.sealed" in actions
    resumed = [e for e in entries if e["action"] == "acquisition.resumed"]
    assert resumed[0]["payload"]["already_copied"] >= copied_first // 2
    assert resumed[1]["payload"]["already_copied"] > resumed[0]["payload"]["already_copied"]


def test_sigkill_then_resume(slow_source: Path, tmp_path: Path, home: Path) -> None:
    store = tmp_path / "store"
    proc = start("image", str(slow_source), "--case", "KILL", "--store", str(store), "--json")
    # past the first map snapshot (saved every few seconds), so the resume has work done
    wait_for(lambda: list(store.glob("*/*")) and (evidence_dir(store) / "ddrescue.map").exists())
    wait_for(lambda: "+" in (evidence_dir(store) / "ddrescue.map").read_text().split("pos")[-1])
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    eid = evidence_dir(store).name
    listed = run_json("evidence", "list", "--case", "KILL", "--status", "all", "--json")
    assert [e["status"] for e in listed] == ["incomplete"]  # recovery ran
    manifest = run_json("image", "--resume", eid, "--json")
    assert manifest["status"] == "sealed" and manifest["bytes"] == SIZE
    assert manifest["hashes"]["blake3"] == tool_digest("b3sum", Path(manifest["image_path"]))
    bad = [(r["offset"], r["length"]) for r in manifest["read_errors"]]
    assert bad == [(5 * MiB + 512, 64 * 1024), (30 * MiB, 3 * 512)]


def test_resume_refuses_what_it_cannot_resume(tmp_path: Path, home: Path) -> None:
    source = random_file(tmp_path / "src.img", 2 * MiB, seed=2)
    manifest = run_json("image", str(source), "--case", "DONE", "--store", str(tmp_path / "s"))
    code, _out, err = finish(start("image", "--resume", manifest["evidence_id"]))
    assert code != 0 and "only an incomplete acquisition can be resumed" in " ".join(err.split())
    code, _out, err = finish(start("image", "--resume", manifest["evidence_id"], "--case", "X"))
    assert code == 2 and "--case" in err
    code, _out, err = finish(start("image", "--resume", "EV-NOPE"))
    assert code != 0 and "EV-NOPE" in err
