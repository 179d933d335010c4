"""The udev rules, checked with the real udevadm against real devices.

``udevadm verify`` only exists from systemd 253; Debian 12 has 252, so the rules
are checked with ``udevadm test`` in a private mount namespace where
/etc/udev/rules.d holds only our files (the machine's running udevd never sees
them, so other users' loop devices are not affected). ``udevadm test`` lists
the RUN programs without running them; the test runs exactly those and checks
the device became read-only.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from custodyd.daemon.cli.udev import LOOP_RULES, RULES, install_rules, rules_dir
from custodyd.hardware import readonly
from tests.appliance.conftest import Loops, sha256_file
from tests.conftest import REPO, needs_root

needs_unshare = pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare")


def udevadm_test(sysfs: str, rules: list[Path], action: str = "change") -> str:
    copy = " && ".join(f"cp {shlex.quote(str(r))} /etc/udev/rules.d/" for r in rules)
    script = (
        "mount -t tmpfs custodyd-test /etc/udev/rules.d && "
        f"{copy or 'true'} && udevadm test --action={action} {shlex.quote(sysfs)}"
    )
    out = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout + out.stderr


def run_lines(output: str) -> list[str]:
    return re.findall(r"^run: '(.*)'$", output, re.M)


def all_rules() -> list[Path]:
    folder = REPO / "udev-rules"
    return [folder / name for name in RULES + LOOP_RULES]


def test_rules_are_shipped_and_found() -> None:
    assert rules_dir() == REPO / "udev-rules"
    for rule in all_rules():
        text = rule.read_text()
        assert 'RUN+="/sbin/blockdev --setro $devnode"' in text
        assert 'ENV{CUSTODYD_MEDIUM}="1"' in text


def test_install_udev_rules_command(tmp_path: Path) -> None:
    dest = tmp_path / "rules.d"
    out = subprocess.run(
        [
            str(REPO / ".venv/bin/custodyd"),
            "install-udev-rules",
            "--dest",
            str(dest),
            "--with-loop",
            "--no-reload",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(out.stdout)
    assert sorted(Path(p).name for p in report["installed"]) == sorted(RULES + LOOP_RULES)
    assert (dest / RULES[0]).read_bytes() == (REPO / "udev-rules" / RULES[0]).read_bytes()
    assert install_rules(tmp_path / "plain") == [tmp_path / "plain" / RULES[0]]


@needs_root
@needs_unshare
def test_rules_parse_without_errors() -> None:
    output = udevadm_test("/sys/class/block/loop0", all_rules())
    for rule in all_rules():
        assert f"Reading rules file: /etc/udev/rules.d/{rule.name}" in output
    mentions = [line for line in output.splitlines() if "custodyd" in line.lower()]
    bad = [m for m in mentions if re.search(r"invalid|error|unknown|failed", m, re.I)]
    assert not bad, bad


@needs_root
@needs_unshare
def test_rule_sets_an_attached_loop_read_only(tmp_path: Path, loops: Loops) -> None:
    image = tmp_path / "medium.raw"
    image.write_bytes(os.urandom(4 << 20))
    before = sha256_file(image)
    node = loops.attach(image, read_only=False)
    name = Path(node).name
    assert readonly.sysfs_ro(name) is False
    output = udevadm_test(f"/sys/class/block/{name}", all_rules())
    assert "CUSTODYD_MEDIUM=1" in output
    assert re.search(r"^TAGS=.*:custodyd:", output, re.M)
    runs = [r for r in run_lines(output) if "blockdev" in r]
    assert runs == [f"/sbin/blockdev --setro {node}"]
    for command in runs:  # what udevd would run at the end of the event
        subprocess.run(shlex.split(command), check=True)
    assert readonly.sysfs_ro(name) is True
    assert readonly.get_ro(node) is True
    assert sha256_file(image) == before


@needs_root
@needs_unshare
def test_loop_rule_gives_an_empty_loop_back_writable() -> None:
    empty = [
        p.name
        for p in Path("/sys/class/block").glob("loop*")
        if p.name[4:].isdigit() and (p / "size").read_text().strip() == "0"
    ]
    if not empty:
        pytest.skip("environment: no empty loop device to look at")
    output = udevadm_test(f"/sys/class/block/{empty[0]}", all_rules())
    assert "CUSTODYD_MEDIUM=1" not in output
    assert [r for r in run_lines(output) if "blockdev" in r] == [
        f"/sbin/blockdev --setrw /dev/{empty[0]}"
    ]


@needs_root
@needs_unshare
def test_plain_rules_ignore_loop_devices(tmp_path: Path, loops: Loops) -> None:
    image = tmp_path / "medium.raw"
    image.write_bytes(b"\0" * (1 << 20))
    node = loops.attach(image, read_only=False)
    name = Path(node).name
    plain = udevadm_test(f"/sys/class/block/{name}", [REPO / "udev-rules" / RULES[0]])
    assert "CUSTODYD_MEDIUM=1" not in plain, "a loop device is not external: only --with-loop"
    assert not [r for r in run_lines(plain) if "blockdev" in r]


@needs_root
@needs_unshare
def test_rules_never_match_the_system_disk() -> None:
    st = os.stat("/")
    sysfs = Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    if not sysfs.exists():
        pytest.skip("environment: / is not on a block device here")
    output = udevadm_test(str(sysfs.resolve()), all_rules())
    assert "CUSTODYD_MEDIUM=1" not in output
    assert not [r for r in run_lines(output) if "blockdev" in r]
