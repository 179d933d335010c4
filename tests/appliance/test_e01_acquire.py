"""The appliance writes E01 when configured to (``image_format = "e01"``), and an
examiner's request can ask for it per acquisition: real loop devices, the real
acquisition service, libewf's ewfverify as the judge."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from custodyd.daemon.imaging.output import ImageFormat
from custodyd.daemon.service.media import MediaRegistry
from custodyd.daemon.service.queue import AcquisitionQueue
from custodyd.hardware.discovery import find_device
from tests.appliance.conftest import Loops
from tests.conftest import needs_root

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("ewfverify") is None, reason="needs ewf-tools"),
]


@pytest.fixture
def e01_ctx(home: Path, clock: ManualClock) -> Iterator[AppContext]:
    settings = Settings(
        home=home, image_format="e01", e01_compression="best", e01_segment_size=1 << 20
    )
    context = open_context(settings, clock=clock)
    yield context
    context.close()


def _medium(tmp_path: Path, loops: Loops) -> Path:
    image = tmp_path / "medium.img"
    image.write_bytes(os.urandom(1 << 20) + bytes(2 << 20))
    return Path(loops.attach(image, read_only=True))


def _run(queue: AcquisitionQueue) -> dict[str, object]:
    assert queue.wait_idle(60)
    job = queue.list()[0]
    assert job.state == "done", job.error
    return job.to_dict()


def test_auto_acquire_writes_e01_from_config(
    e01_ctx: AppContext, tmp_path: Path, loops: Loops
) -> None:
    device = find_device(str(_medium(tmp_path, loops)))
    assert device is not None
    registry = MediaRegistry(e01_ctx, auto_acquire="AUTO-E01")
    queue = AcquisitionQueue(e01_ctx, registry)
    queue.start()
    try:
        registry.attached(device)
        job = _run(queue)
    finally:
        queue.shutdown(10)
    from custodyd.daemon.acquisition import get_manifest

    manifest = get_manifest(e01_ctx, str(job["evidence_id"]))
    assert manifest["format"] == "e01" and manifest["image_path"].endswith(".E01")
    assert manifest["image"]["compression"] == "best"
    assert len(manifest["image"]["segments"]) >= 2  # 3 MiB at 1 MiB segments, random part raw
    check = subprocess.run(["ewfverify", "-q", manifest["image_path"]], capture_output=True)
    assert check.returncode == 0, check.stdout


def test_request_asks_for_e01_per_acquisition(
    ctx: AppContext, tmp_path: Path, loops: Loops
) -> None:
    device = find_device(str(_medium(tmp_path, loops)))
    assert device is not None
    registry = MediaRegistry(ctx)
    queue = AcquisitionQueue(ctx, registry)
    queue.start()
    try:
        live = registry.attached(device)
        assert live is not None and live.policy != "auto"
        queue.submit(live.key, "HELD-E01", actor="user:alice", output=ImageFormat("e01", "none"))
        job = _run(queue)
    finally:
        queue.shutdown(10)
    from custodyd.daemon.acquisition import get_manifest

    manifest = get_manifest(ctx, str(job["evidence_id"]))
    assert manifest["format"] == "e01" and manifest["image"]["compression"] == "none"
    check = subprocess.run(["ewfverify", "-q", manifest["image_path"]], capture_output=True)
    assert check.returncode == 0, check.stdout
