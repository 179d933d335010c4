"""What an evidence item may look like after any crash and one recovery, checked on disk.

Every item is either **sealed** — directory read-only, ``manifest.json`` saying
``sealed``, the image under its final name with the recorded size and a BLAKE3
(``b3sum``, the outside judge) equal to the record — or **incomplete** — no file
under the final image name, the image (if any) named ``*.incomplete``, a manifest on
disk (if any) saying ``incomplete``, ``bytes`` equal to the bytes in that partial file
and piecewise digests only for windows complete in it (each equal to the window's
BLAKE3). No evidence directory holds an image or manifest the database does not list.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import blake3

IMAGE = "image.raw"


def b3sum(path: Path) -> str:
    out = subprocess.run(["b3sum", "--no-names", "--no-mmap", str(path)], capture_output=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.decode().strip()


def window_digest(path: Path, index: int, window: int) -> str:
    with path.open("rb") as fh:
        fh.seek(index * window)
        data = fh.read(window)
    assert len(data) == window, f"window {index} is not complete in {path}"
    return blake3.blake3(data).hexdigest()


def check_item(item: dict[str, Any], store: Path) -> None:
    eid = item["evidence_id"]
    directory = store / item["case"] / eid
    assert directory.is_dir(), f"{eid}: no directory {directory}"
    names = {p.name for p in directory.iterdir()}
    assert f"{IMAGE}.part" not in names, f"{eid}: a .part image survived recovery: {names}"
    on_disk = directory / "manifest.json"
    disk_manifest = json.loads(on_disk.read_text()) if on_disk.exists() else None
    sealed_dir = stat.S_IMODE(directory.stat().st_mode) & 0o222 == 0
    if item["status"] == "sealed":
        image = directory / IMAGE
        assert item["image_path"] == str(image), f"{eid}: {item['image_path']}"
        assert image.is_file(), f"{eid}: sealed but {names}"
        assert f"{IMAGE}.incomplete" not in names, f"{eid}: {names}"
        assert sealed_dir, f"{eid}: sealed in the database, directory still writable"
        assert disk_manifest is not None, f"{eid}: sealed without manifest.json"
        assert disk_manifest["status"] == "sealed" and disk_manifest["verified"] is True
        assert disk_manifest["hashes"] == item["hashes"]
        assert image.stat().st_size == item["bytes"], f"{eid}: size differs from record"
        assert b3sum(image) == item["hashes"]["blake3"], f"{eid}: BLAKE3 differs"
        return
    assert item["status"] == "incomplete", f"{eid}: status {item['status']!r} after recovery"
    assert IMAGE not in names, f"{eid}: incomplete but an image has its final name: {names}"
    assert not sealed_dir, f"{eid}: incomplete but the directory is sealed"
    assert item["hashes"] == {}, f"{eid}: an incomplete item claims digests"
    partial = directory / f"{IMAGE}.incomplete"
    size = partial.stat().st_size if partial.exists() else 0
    if partial.exists():
        assert item["image_path"] == str(partial), f"{eid}: {item['image_path']}"
    else:
        assert item["image_path"] in (None, str(directory / IMAGE)), item["image_path"]
    assert item["bytes"] == size, f"{eid}: records {item['bytes']} bytes, file has {size}"
    for record in (item, disk_manifest):
        if record is None:
            continue
        assert record["status"] == "incomplete", f"{eid}: disk manifest {record['status']}"
        assert record["bytes"] == size, f"{eid}: a manifest says {record['bytes']}, file {size}"
        piecewise = record.get("piecewise") or {}
        window = int(piecewise.get("window") or 1)
        digests = list(piecewise.get("digests") or [])
        assert len(digests) <= size // window, f"{eid}: digests for incomplete windows"
        for index, digest in enumerate(digests):
            assert digest == window_digest(partial, index, window), f"{eid}: window {index}"


def check_store(items: list[dict[str, Any]], store: Path) -> None:
    """Every listed item is sealed or incomplete as above; every other directory in the
    store (a crash before the first commit) holds no image and no manifest."""
    for item in items:
        check_item(item, store)
    listed = {(item["case"], item["evidence_id"]) for item in items}
    if not store.exists():
        return
    for case_dir in store.iterdir():
        for directory in case_dir.iterdir():
            if (case_dir.name, directory.name) in listed:
                continue
            names = {p.name for p in directory.iterdir()}
            assert names <= {"acquisition.log"}, f"{directory}: unlisted but holds {names}"
