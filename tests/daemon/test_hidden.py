"""Hidden areas at acquisition: reported, and opened only when asked, always restored.

The disk side is a fake at the hardware boundary (a device with an HPA whose visible
max SET MAX really changes, and whose kernel size follows after a rescan), so the
order of ledger entries and disk changes is tested without an ATA disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import DeviceError
from custodyd.daemon.hidden import Hardware, hidden_areas_for_acquisition
from custodyd.hardware.device import BlockDevice
from custodyd.hardware.hdparm import HiddenAreaChangeFailed, HiddenAreas

SECTOR = 512


class FakeDisk:
    def __init__(
        self, visible: int, native: int, dco: int | None = None, *, refuse: bool = False
    ) -> None:
        self.visible, self.native, self.dco, self.refuse = visible, native, dco, refuse
        self.kernel_sectors = visible
        self.calls: list[str] = []
        self.rescan_works = True
        self.device = BlockDevice(
            kernel_name="sdq", devnode="/dev/sdq", devtype="disk", size=visible * SECTOR
        )

    def hardware(self) -> Hardware:
        return Hardware(self.find, self.probe, self.set_max, self.rescan)

    def find(self, path: str) -> BlockDevice | None:
        return self.device if path == "/dev/sdq" else None

    def probe(self, device: BlockDevice) -> tuple[HiddenAreas | None, str]:
        return HiddenAreas(self.visible, self.native, self.visible < self.native, self.dco), "fake"

    def set_max(self, device: BlockDevice, sectors: int) -> tuple[int, int]:
        self.calls.append(f"set_max {sectors}")
        if self.refuse:
            raise HiddenAreaChangeFailed("SET_MAX_ADDRESS_EXT failed: Input/output error")
        self.visible = sectors
        return sectors, self.native

    def rescan(self, device: BlockDevice) -> int:
        self.calls.append("rescan")
        if self.rescan_works:
            self.kernel_sectors = self.visible
        return self.kernel_sectors * SECTOR


def actions(ctx: AppContext) -> list[str]:
    return [e.action for e in ctx.ledger.entries(0, ctx.ledger.size())]


def run(ctx: AppContext, disk: FakeDisk, include: bool, body: object = None) -> dict | None:  # type: ignore[type-arg]
    with hidden_areas_for_acquisition(
        ctx,
        Path("/dev/sdq"),
        actor="cli:alice",
        case_ref="C-1",
        include_hidden=include,
        hardware=disk.hardware(),
    ) as hidden:
        disk.calls.append(f"imaging at {disk.kernel_sectors}")
        if body is not None:
            raise body  # type: ignore[misc]
    return hidden


def test_a_file_has_no_hidden_area(ctx: AppContext, tmp_path: Path) -> None:
    disk = FakeDisk(1000, 1200)
    with hidden_areas_for_acquisition(
        ctx,
        tmp_path / "x.img",
        actor="a",
        case_ref="C",
        include_hidden=False,
        hardware=disk.hardware(),
    ) as hidden:
        assert hidden is None
    with (
        pytest.raises(DeviceError, match="needs a whole disk"),
        hidden_areas_for_acquisition(
            ctx,
            tmp_path / "x.img",
            actor="a",
            case_ref="C",
            include_hidden=True,
            hardware=disk.hardware(),
        ),
    ):
        pass


def test_reported_and_left_alone_without_the_option(ctx: AppContext) -> None:
    disk = FakeDisk(1000, 1200)
    hidden = run(ctx, disk, include=False)
    assert hidden is not None and hidden["hpa_sectors"] == 200
    assert hidden["hidden_bytes"] == 200 * SECTOR
    assert actions(ctx)[-1] == "medium.hidden_area"
    assert disk.calls == ["imaging at 1000"]  # nothing was sent to the disk


def test_opened_for_the_acquisition_and_restored(ctx: AppContext) -> None:
    disk = FakeDisk(1000, 1200)
    run(ctx, disk, include=True)
    assert disk.calls == ["set_max 1200", "rescan", "imaging at 1200", "set_max 1000", "rescan"]
    assert actions(ctx)[-4:] == [
        "medium.hidden_area",
        "medium.hpa_opening",
        "medium.hpa_opened",
        "medium.hpa_restored",
    ]
    opening = ctx.ledger.entries(0, ctx.ledger.size())[-3]
    assert opening.payload["volatile"] is True and opening.payload["to"] == 1200


def test_restored_even_when_the_acquisition_fails(ctx: AppContext) -> None:
    disk = FakeDisk(1000, 1200)
    with pytest.raises(RuntimeError):
        run(ctx, disk, include=True, body=RuntimeError("pulled"))
    assert disk.calls[-2:] == ["set_max 1000", "rescan"]
    assert actions(ctx)[-1] == "medium.hpa_restored"


def test_a_refused_change_images_nothing(ctx: AppContext) -> None:
    disk = FakeDisk(1000, 1200, refuse=True)
    with pytest.raises(DeviceError, match="could not open the HPA"):
        run(ctx, disk, include=True)
    assert "imaging at" not in " ".join(disk.calls)
    assert actions(ctx)[-1] == "medium.hpa_open_failed"


def test_a_kernel_that_does_not_see_the_new_size_images_nothing(ctx: AppContext) -> None:
    disk = FakeDisk(1000, 1200)
    disk.rescan_works = False
    with pytest.raises(DeviceError, match="still reports"):
        run(ctx, disk, include=True)
    assert "imaging at" not in " ".join(disk.calls)
    assert disk.calls[-2] == "set_max 1000"  # put back before giving up
    assert actions(ctx)[-1] == "medium.hpa_restored"


def test_a_dco_is_never_changed(ctx: AppContext) -> None:
    disk = FakeDisk(1000, 1000, dco=1500)
    hidden = run(ctx, disk, include=True)
    assert hidden is not None and hidden["dco_sectors"] == 500
    assert "permanent" in hidden["dco_left_closed"]
    assert disk.calls == ["imaging at 1000"]
    assert actions(ctx)[-1] == "medium.hidden_area"
