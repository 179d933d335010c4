"""``custodyd extract``: one file of a sealed image into a sealed, derived item.

Judged by The Sleuth Kit's ``icat`` (content), ``sha256sum`` and ``b3sum``
(digests), against images built here with sgdisk/mkfs.ext4/debugfs and the
real images of ``shared/testdata/forensic-images`` (raw, MBR, NTFS, FAT, E01).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from custodyd.api.app import create_app
from custodyd.daemon.auth import create_token_unrecorded
from custodyd.daemon.cases import get_or_create_case
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import InvalidInput, NotFound
from custodyd.daemon.extract import ExtractRequest, extract
from custodyd.daemon.models import Evidence
from tests.conftest import FORENSIC_IMAGES

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("icat", "fls", "sgdisk", "mkfs.ext4", "debugfs", "b3sum")),
    reason="needs sleuthkit, gdisk, e2fsprogs and b3sum",
)


def tool(*args: str | Path) -> bytes:
    return subprocess.run([str(a) for a in args], check=True, capture_output=True).stdout


def custodyd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from custodyd.daemon.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def digests(path: Path) -> dict[str, str]:
    return {
        "sha256": tool("sha256sum", path).split()[0].decode(),
        "blake3": tool("b3sum", "--no-mmap", path).split()[0].decode(),
    }


def regular_files(image: Path, offset_sectors: int = 0) -> list[tuple[str, str]]:
    """(inode, path) of every allocated regular file, as ``fls -r -p -F -u`` lists them.

    NTFS: the unnamed ``$DATA`` stream only (what ``icat INODE`` prints); named
    streams (``name:stream``) and other attribute types are not files to extract.
    """
    out = tool("fls", "-r", "-p", "-F", "-u", "-o", str(offset_sectors), image).decode()
    rows = []
    for line in out.splitlines():
        kind, _, rest = line.partition(" ")
        address, _, name = rest.partition(":\t")
        parts = address.split("-")
        if len(parts) == 3 and (parts[1] != "128" or ":" in name):
            continue
        if kind == "r/r" and not address.startswith("*"):
            rows.append((parts[0], "/" + name))
    return rows


def gpt_ext4_image(tmp_path: Path) -> tuple[Path, bytes]:
    """A GPT disk (sgdisk) whose 1st partition holds ext4 populated by mkfs -d."""
    tree = tmp_path / "tree"
    (tree / "docs").mkdir(parents=True)
    content = os.urandom(3 * 1024 * 1024 + 12345)  # several read chunks, odd length
    (tree / "docs" / "mail headers.txt").write_bytes(content)
    (tree / "small.txt").write_bytes(b"provider X at 192.0.2.7\n")
    image = tmp_path / "gpt.img"
    with open(image, "wb") as fh:
        fh.truncate(16 * 1024 * 1024)
    tool("sgdisk", "-n", "1:2048:+10M", "-t", "1:8300", image)
    tool("mkfs.ext4", "-q", "-F", "-E", "offset=1048576", "-d", tree, image, "10M")
    return image, content


@pytest.fixture
def acquired(home: Path, tmp_path: Path) -> Iterator[tuple[Path, bytes, str]]:
    image, content = gpt_ext4_image(tmp_path)
    run = custodyd("image", str(image), "--case", "X-1", "--json")
    assert run.returncode == 0, run.stderr
    yield image, content, json.loads(run.stdout)["evidence_id"]


def test_extract_by_path_from_a_partition_as_whole_processes(
    acquired: tuple[Path, bytes, str], home: Path
) -> None:
    image, content, parent = acquired
    parent_before = digests(image)
    run = custodyd(
        "extract", parent, "--path", "/docs/mail headers.txt", "--partition", "1", "--json"
    )
    assert run.returncode == 0, run.stderr
    made = json.loads(run.stdout)
    assert made["parent"] == parent and made["bytes"] == len(content)
    inode = made["derived_from"]["inode"]
    oracle = tool("icat", "-o", "2048", image, str(inode))
    assert oracle == content
    copy = Path(made["image_path"])
    assert copy.read_bytes() == oracle
    assert made["hashes"] == digests(copy)
    assert made["derived_from"]["offset_bytes"] == 2048 * 512
    assert made["derived_from"]["path"] == "/docs/mail headers.txt"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o444
    assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o555
    assert digests(image) == parent_before  # the source image is only read
    # the derived item is evidence like any other, with its own custody history
    items = json.loads(custodyd("history", made["evidence_id"], "--json").stdout)["entries"]
    assert [e["action"] for e in items] == ["evidence.derived"]
    assert items[0]["payload"]["parent"] == parent
    parent_items = json.loads(custodyd("history", parent, "--json").stdout)["entries"]
    assert parent_items[-1]["action"] == "evidence.derived"
    assert parent_items[-1]["payload"]["derived"] == made["evidence_id"]
    assert custodyd("ledger", "verify").returncode == 0
    # a transfer may disclose just the derived item
    run = custodyd(
        "transfers",
        "add",
        "--recipient",
        "State B",
        "--purpose",
        "identify provider (art. 69)",
        "--days",
        "30",
        "--evidence",
        made["evidence_id"],
        "--json",
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["evidence"] == [made["evidence_id"]]


def test_extract_errors_exit_codes(acquired: tuple[Path, bytes, str]) -> None:
    _, _, parent = acquired
    missing = custodyd("extract", parent, "--path", "/nope", "--partition", "1", "--json")
    assert missing.returncode == 3
    directory = custodyd("extract", parent, "--path", "/docs", "--partition", "1")
    assert directory.returncode == 2 and "not a regular file" in directory.stderr
    beyond = custodyd("extract", parent, "--path", "/small.txt", "--partition", "7")
    assert beyond.returncode == 2 and "--partition" in beyond.stderr
    no_fs = custodyd("extract", parent, "--path", "/small.txt")  # GPT at offset 0
    assert no_fs.returncode == 2
    neither = custodyd("extract", parent, "--partition", "1")
    assert neither.returncode == 2 and "--path" in neither.stderr
    assert custodyd("extract", "EV-NONE", "--inode", "12").returncode == 3


def item_for(ctx: AppContext, image: Path, evidence_id: str) -> str:
    """An evidence row on a read-only shared image (extraction only reads it)."""
    with ctx.session() as session:
        case, _ = get_or_create_case(session, ctx.clock, "REAL")
        assert case.id is not None
        session.add(
            Evidence(
                id=evidence_id,
                case_id=case.id,
                status="sealed",
                source_path=str(image),
                bytes=image.stat().st_size,
                directory=str(image.parent),
                image_path=str(image),
                created_at=ctx.clock.now(),
            )
        )
    return evidence_id


def test_extract_by_inode_from_a_bare_ext2_written_with_debugfs(
    ctx: AppContext, tmp_path: Path
) -> None:
    image = tmp_path / "ext2.img"
    with open(image, "wb") as fh:
        fh.truncate(4 * 1024 * 1024)
    tool("mkfs.ext2", "-q", "-F", image)
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(200_001))
    tool("debugfs", "-w", "-R", f"write {payload} evidence.bin", image)
    ((inode, path),) = regular_files(image)
    assert path == "/evidence.bin"
    parent = item_for(ctx, image, "EV-BARE")
    made = extract(ctx, ExtractRequest(parent, inode=int(inode)), actor="user:ex")
    assert Path(made.image_path).read_bytes() == tool("icat", image, inode)
    assert made.derived_from.path is None and made.derived_from.inode == int(inode)
    assert made.derived_from.partition is None and made.derived_from.offset_bytes == 0
    with pytest.raises(InvalidInput, match="path or by inode"):
        extract(ctx, ExtractRequest(parent, path="/evidence.bin", inode=12), actor="user:ex")
    with pytest.raises(NotFound):
        extract(ctx, ExtractRequest(parent, path="/gone.bin"), actor="user:ex")


REAL = [
    ("dfvfs_ext2.raw", None, 0),
    ("dfvfs_mbr.raw", 1, 1),
    ("dfvfs_mbr.raw", 2, 131),
    ("dfvfs_windows_volume.raw", None, 0),
    ("rustfatfs_fat16.img", None, 0),
    ("rustfatfs_fat12.img", None, 0),
    ("e01/dfvfs_ext2.E01", None, 0),
    ("e01/tsk_imageformat_mmls_1.E01", 2, 55424),
]


@pytest.mark.parametrize(("name", "partition", "offset"), REAL)
def test_every_file_of_the_real_images_matches_icat(
    ctx: AppContext, name: str, partition: int | None, offset: int
) -> None:
    image = FORENSIC_IMAGES / name
    if not image.exists():
        pytest.skip(f"{image} is not there")
    parent = item_for(ctx, image, "EV-" + name.replace("/", "-").replace(".", "-"))
    files = regular_files(image, offset)
    assert files, f"fls found no regular file in {name}"
    for inode, path in files:
        made = extract(ctx, ExtractRequest(parent, path=path, partition=partition), actor="u:e")
        oracle = tool("icat", "-o", str(offset), image, inode)
        copy = Path(made.image_path)
        assert copy.read_bytes() == oracle, f"{name}:{path}"
        assert made.hashes.model_dump() == digests(copy)
        assert made.derived_from.inode == int(inode)


def test_extract_over_http(ctx: AppContext) -> None:
    image = FORENSIC_IMAGES / "dfvfs_ext2.raw"
    if not image.exists():
        pytest.skip(f"{image} is not there")
    parent = item_for(ctx, image, "EV-HTTP")
    (inode, path), *_ = regular_files(image)
    with ctx.session() as session:
        examiner = create_token_unrecorded(
            session, ctx.clock, role="examiner", cases=("REAL",)
        ).secret
        outsider = create_token_unrecorded(session, ctx.clock, role="examiner", cases=()).secret
        investigator = create_token_unrecorded(
            session, ctx.clock, role="investigator", cases=("REAL",)
        )
    with TestClient(create_app(ctx), raise_server_exceptions=False) as client:
        url = f"/v1/evidence/{parent}/extract"
        body = {"path": path}
        auth = {"Authorization": f"Bearer {examiner}"}
        made = client.post(url, json=body, headers=auth)
        assert made.status_code == 201, made.text
        assert Path(made.json()["image_path"]).read_bytes() == tool("icat", image, inode)
        assert made.headers["Location"] == f"/v1/evidence/{made.json()['evidence_id']}"
        other = {"Authorization": f"Bearer {outsider}"}
        assert client.post(url, json=body, headers=other).status_code == 404
        reader = {"Authorization": f"Bearer {investigator.secret}"}
        assert client.post(url, json=body, headers=reader).status_code == 403
        assert client.post(url, json={}, headers=auth).status_code == 422
