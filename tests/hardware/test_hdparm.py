"""Hidden areas (HPA/DCO) from hdparm's answers, including the answers not to trust.

No ATA disk exists on the build machines (loop, virtio and NVMe only), so the
outputs below are hdparm's own formats (hdparm.c: ``max sectors = %llu/%llu``, the
``(DCO?)`` and "seems invalid" variants, ACCESSIBLE MAX ADDRESS wording) and answers
reported from real drives and USB bridges (a bridge answering ``0/1`` with exit 0).
:func:`hidden_areas` is also run against a fake ``hdparm`` executable on ``PATH`` —
a fake at the process boundary — so the subprocess handling is exercised too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from custodyd.hardware.device import BlockDevice
from custodyd.hardware.hdparm import Unreliable, assess, hidden_areas, parse_max_sectors

DCO_FULL = """
/dev/sda:
DCO Revision: 0x0001
The following features can be selectively disabled via DCO:
\tTransfer modes:
\t\t mdma0 mdma1 mdma2
\t\t udma0 udma1 udma2 udma3 udma4 udma5 udma6
\tReal max sectors: {real}
\tATA command/feature sets:
\t\t SMART self_test error_log security AAM HPA 48_bit
\t\t (?): selective_test conveyance_test write_read_verify WWN
\tSATA command/feature sets:
\t\t (?): NCQ NZ_buffer_offsets interface_power_management SSP
"""


def n_out(text: str) -> str:
    return f"\n/dev/sda:\n max sectors   = {text}\n"


def test_no_hidden_area() -> None:
    report, reason = assess(
        n_out("976773168/976773168, HPA is disabled"), DCO_FULL.format(real=976773168), 976773168
    )
    assert report is not None and reason == "hdparm"
    assert (report.hpa_sectors, report.dco_sectors, report.hpa_enabled) == (0, 0, False)


def test_hpa_found() -> None:
    report, _ = assess(
        n_out("312579695/312581808, HPA is enabled"), DCO_FULL.format(real=312581808), 312579695
    )
    assert report is not None
    assert report.hpa_enabled and report.hpa_sectors == 2113 and report.dco_sectors == 0


def test_dco_found_without_hpa() -> None:
    report, _ = assess(
        n_out("234441648/234441648, HPA is disabled"), DCO_FULL.format(real=312581808), 234441648
    )
    assert report is not None
    assert report.hpa_sectors == 0 and report.dco_sectors == 312581808 - 234441648


def test_accessible_max_address_wording() -> None:
    text = n_out("7814037168/7814037168, ACCESSIBLE MAX ADDRESS disabled")
    assert parse_max_sectors(text) == (7814037168, 7814037168, False)
    text = n_out("7814037000/7814037168, ACCESSIBLE MAX ADDRESS enabled")
    assert parse_max_sectors(text) == (7814037000, 7814037168, True)


@pytest.mark.parametrize(
    "line",
    [
        "0/1, HPA setting seems invalid (buggy kernel device driver?)",
        "66055248/1(156301488?), HPA setting seems invalid (buggy kernel device driver?)",
        "0/0, HPA is disabled",
        "1000/900, HPA is enabled",
    ],
)
def test_nonsense_is_no_determination(line: str) -> None:
    with pytest.raises(Unreliable):
        parse_max_sectors(n_out(line))
    report, reason = assess(n_out(line), None, 15_155_200)
    assert report is None and reason


def test_visible_max_must_match_the_kernel() -> None:
    report, reason = assess(n_out("3907029168/3907029168, HPA is disabled"), None, 15_155_200)
    assert report is None and "disagrees with the kernel" in reason


def test_dco_below_native_is_ignored_with_a_reason() -> None:
    report, reason = assess(n_out("1000/2000, HPA is enabled"), DCO_FULL.format(real=1500), 1000)
    assert report is not None and report.dco_max_sectors is None and "ignored" in reason


def test_device_that_does_not_answer() -> None:
    sg_io = (
        "\n/dev/sdb:\n SG_IO: bad/missing sense data, sb[]:  70 00 05 00 00 00 00 0a 00 00\n"
        " READ_NATIVE_MAX_ADDRESS_EXT failed: Input/output error\n"
    )
    report, reason = assess(sg_io, None, 1000)
    assert report is None and "READ_NATIVE_MAX_ADDRESS_EXT failed" in reason


def fake_hdparm(bin_dir: Path, n_text: str, dco_text: str) -> Path:
    """An ``hdparm`` that answers -N and --dco-identify like an ATA disk and logs calls."""
    bin_dir.mkdir()
    log = bin_dir / "calls.log"
    script = bin_dir / "hdparm"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        'case "$1" in\n'
        f"  -N) cat <<'EOF'\n{n_text}EOF\n;;\n"
        f"  --dco-identify) cat <<'EOF'\n{dco_text}EOF\n;;\n"
        "  *) echo unexpected >&2; exit 9;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return log


def test_hidden_areas_runs_only_read_only_queries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = fake_hdparm(
        tmp_path / "bin",
        n_out("312579695/312581808, HPA is enabled"),
        DCO_FULL.format(real=312581808),
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    device = BlockDevice(
        kernel_name="sdq", devnode="/dev/sdq", devtype="disk", size=312579695 * 512, bus="ata"
    )
    report, reason = hidden_areas(device)
    assert report is not None and reason == "hdparm"
    assert report.to_dict()["hpa_sectors"] == 2113
    # only the two queries, never a SET MAX (-N with a value) or a DCO change
    assert log.read_text().split("\n")[:2] == ["-N /dev/sdq", "--dco-identify /dev/sdq"]


ATA_DISK = '''#!{python}
"""A fake ATA disk behind hdparm: visible max kept in a state file, native fixed."""
import sys
from pathlib import Path
state = Path({state!r})
native = {native}
refuse = {refuse}
args = [a for a in sys.argv[1:] if a != "--yes-i-know-what-i-am-doing"]
with open(Path({log!r}), "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
visible = int(state.read_text())
if args[0] == "-N" and len(args) == 3:
    if refuse:
        print(" SG_IO: bad/missing sense data", file=sys.stderr)
        print(" SET_MAX_ADDRESS_EXT failed: Input/output error", file=sys.stderr)
        sys.exit(5)
    state.write_text(args[1])
    visible = int(args[1])
if args[0] == "-N":
    flag = "enabled" if visible < native else "disabled"
    print(f"\\n{{args[-1]}}:\\n max sectors   = {{visible}}/{{native}}, HPA is {{flag}}")
    sys.exit(0)
sys.exit(9)
'''


def ata_disk(tmp_path: Path, *, visible: int, native: int, refuse: bool = False) -> Path:
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    state, log = tmp_path / "visible", tmp_path / "calls.log"
    state.write_text(str(visible))
    script = bin_dir / "hdparm"
    script.write_text(
        ATA_DISK.format(
            python=sys.executable, state=str(state), native=native, refuse=refuse, log=str(log)
        )
    )
    script.chmod(0o755)
    return log


def test_set_visible_max_is_volatile_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custodyd.hardware.hdparm import set_visible_max

    log = ata_disk(tmp_path, visible=1000, native=1200)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    device = BlockDevice(kernel_name="sdq", devnode="/dev/sdq", devtype="disk", size=1000 * 512)
    assert set_visible_max(device, 1200) == (1200, 1200)
    assert set_visible_max(device, 1000) == (1000, 1200)
    calls = log.read_text().splitlines()
    # a volatile change only: never the "p" (permanent) prefix, never a DCO command
    assert calls[0] == "--yes-i-know-what-i-am-doing -N 1200 /dev/sdq"
    assert not any(" p" in c or "dco" in c for c in calls)


def test_set_visible_max_refused_by_a_write_blocker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custodyd.hardware.hdparm import HiddenAreaChangeFailed, set_visible_max

    ata_disk(tmp_path, visible=1000, native=1200, refuse=True)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    device = BlockDevice(kernel_name="sdq", devnode="/dev/sdq", devtype="disk", size=1000 * 512)
    with pytest.raises(HiddenAreaChangeFailed, match="SET_MAX_ADDRESS_EXT failed"):
        set_visible_max(device, 1200)
