"""The console script's entry point: where it guesses a verify's image, and that the
whole process (head start included) still judges an image by what the database says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from custodyd.daemon import entry
from tests.imaging.conftest import MiB, chmod_writable, random_file

# The installed console script's target (pyproject [project.scripts]).
ENTRY = [sys.executable, "-c", "from custodyd.daemon.entry import main; main()"]


def layout(store: Path, case: str, evidence_id: str) -> Path:
    directory = store / case / evidence_id
    directory.mkdir(parents=True)
    image = directory / "image.raw"
    image.write_bytes(b"x" * 10)
    return image


def test_the_image_is_guessed_where_the_settings_put_the_store(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = layout(home / "evidence", "CASE-1", "EV1")
    assert entry._guess_image("EV1") == image
    assert entry._guess_image("EV2") is None

    store = tmp_path / "store"
    other = layout(store, "CASE-9", "EV1")
    (home / "config.toml").write_text(f'store_dir = "{store}"\n')
    assert entry._guess_image("EV1") == other  # the TOML file over the default
    monkeypatch.setenv("CUSTODYD_STORE_DIR", str(home / "evidence"))
    assert entry._guess_image("EV1") == image  # the environment over the TOML file

    layout(home / "evidence", "CASE-2", "EV1")  # two candidates: no guess
    assert entry._guess_image("EV1") is None


@pytest.mark.parametrize(
    ("argv", "target"),
    [
        (["verify", "EV1"], "EV1"),
        (["verify", "EV1", "--json"], "EV1"),
        (["verify", "--json", "EV1"], "EV1"),
        (["verify", "EV1", "--help"], None),
        (["verify"], None),
        (["verify", "../../etc/passwd"], None),
        (["image", "EV1"], None),
        ([], None),
    ],
)
def test_only_verify_of_one_evidence_id_gets_a_head_start(
    argv: list[str], target: str | None
) -> None:
    assert entry._verify_target(argv) == target


def test_begin_then_claim_once(home: Path) -> None:
    image = layout(home / "evidence", "CASE-1", "EV7")
    entry.begin(["verify", "EV7"])
    head_start = entry.claim("EV7")
    assert head_start is not None and head_start.path == image
    assert head_start.result_for(image) is not None
    assert entry.claim("EV7") is None
    entry.begin(["evidence", "list"])
    assert entry._head_starts == {}


def test_whole_process_verify_judges_by_the_database(home: Path, tmp_path: Path) -> None:
    source = random_file(tmp_path / "source.bin", 3 * MiB + 5)
    env = {**os.environ, "CUSTODYD_PIECEWISE_WINDOW": str(MiB)}

    def custodyd(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*ENTRY, *args], capture_output=True, text=True, env=env)

    made = custodyd("image", str(source), "--case", "ENTRY", "--json", "--no-verify")
    assert made.returncode == 0, made.stderr
    manifest = json.loads(made.stdout)
    eid, image = manifest["evidence_id"], Path(manifest["image_path"])
    assert entry._guess_image(eid) == image  # so the process below hashes it from the start

    ok = custodyd("verify", eid, "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["blake3"] == manifest["hashes"]["blake3"]

    chmod_writable(image)
    with open(image, "r+b") as fh:
        fh.seek(2 * MiB + 100)
        byte = fh.read(1)[0]
        fh.seek(2 * MiB + 100)
        fh.write(bytes([byte ^ 0x01]))
    bad = custodyd("verify", eid, "--json")
    assert bad.returncode == 20, bad.stderr
    report = json.loads(bad.stdout)
    assert report["match"] is False
    assert [w["index"] for w in report["mismatched_windows"]] == [2]
    assert "window 2" in bad.stderr
