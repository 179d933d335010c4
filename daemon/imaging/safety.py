"""Refusals before a single byte is written: unsafe sources and destinations.

* The destination must not be the source medium, nor a filesystem mounted from
  it (or from another partition of the same disk, or from a device stacked on it).
  Devices are compared through ``/sys/dev/block``: partitions resolve to their
  disk, device-mapper/md devices to their ``slaves``.
* The source must not be open for writing by any process (``/proc/*/fdinfo``
  flags) nor mounted read-write: its content could change while it is read.
* A missing or unreadable source is a :class:`SourceError`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from custodyd.daemon.errors import DestinationOnSource, SourceBusy, SourceError


def _sys_block(dev: int) -> Path | None:
    path = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    try:
        return path.resolve(strict=True)
    except OSError:
        return None


def underlying_disks(dev: int) -> set[str]:
    """Kernel names of the whole disks a block device (number) lives on, itself included."""
    out: set[str] = set()
    todo = [_sys_block(dev)]
    seen: set[Path] = set()
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        out.add(node.name)
        if (node / "partition").exists():  # a partition: its parent is the disk
            todo.append(node.parent)
        slaves = node / "slaves"
        if slaves.is_dir():
            todo.extend(p.resolve() for p in slaves.iterdir())
    return out


def _mountinfo() -> list[tuple[int, str, str, str]]:
    """(st_dev of the mount, mount point, mount source, options) per mount."""
    rows: list[tuple[int, str, str, str]] = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return rows
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        rfields = right.split()
        if len(fields) < 6 or len(rfields) < 2:
            continue
        major, minor = (int(x) for x in fields[2].split(":"))
        point = fields[4].replace("\\040", " ")
        rows.append((os.makedev(major, minor), point, rfields[1], fields[5]))
    return rows


def filesystem_devices(path: Path) -> set[int]:
    """Block device numbers backing the filesystem that holds ``path``.

    ``st_dev`` is the device for ordinary filesystems; btrfs and friends report an
    anonymous device, so the mount table's source device is added too.
    """
    st_dev = os.stat(path).st_dev
    devs = {st_dev}
    for dev, _point, source, _opts in _mountinfo():
        if dev == st_dev and source.startswith("/dev/"):
            try:
                st = os.stat(source)
            except OSError:
                continue
            if stat.S_ISBLK(st.st_mode):
                devs.add(st.st_rdev)
    return devs


def check_source(source: Path) -> os.stat_result:
    try:
        st = os.stat(source)
    except FileNotFoundError:
        raise SourceError(f"source {source} does not exist", source=str(source)) from None
    except OSError as exc:
        raise SourceError(f"source {source} cannot be examined: {exc.strerror}") from None
    if not (stat.S_ISBLK(st.st_mode) or stat.S_ISREG(st.st_mode)):
        raise SourceError(f"source {source} is neither a block device nor a regular file")
    if not os.access(source, os.R_OK):
        raise SourceError(f"source {source} is not readable (permission denied)")
    check_not_open_for_writing(source, st)
    return st


def check_destination(source: Path, destination_dir: Path) -> None:
    """Refuse a destination directory on the source medium (``DestinationOnSource``)."""
    st = os.stat(source)
    existing = destination_dir
    while not existing.exists():
        existing = existing.parent
    if not stat.S_ISBLK(st.st_mode):
        return  # an image file: the new evidence directory cannot be it
    source_disks = underlying_disks(st.st_rdev)
    for dev in filesystem_devices(existing):
        if dev == st.st_rdev or underlying_disks(dev) & source_disks:
            raise DestinationOnSource(
                f"destination {destination_dir} is on the source medium {source} "
                f"({', '.join(sorted(underlying_disks(dev) & source_disks)) or 'same device'})",
                source=str(source),
                destination=str(destination_dir),
            )


def _writers_of(target: os.stat_result) -> list[str]:
    """Processes holding the file/device open for writing, as "pid (comm)"."""
    is_dev = stat.S_ISBLK(target.st_mode)
    found: list[str] = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fds = list((proc / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(fd)
            except OSError:
                continue
            same = (
                (stat.S_ISBLK(st.st_mode) and st.st_rdev == target.st_rdev)
                if is_dev
                else (st.st_dev == target.st_dev and st.st_ino == target.st_ino)
            )
            if not same:
                continue
            try:
                info = (proc / "fdinfo" / fd.name).read_text()
            except OSError:
                continue
            flags = next(
                (
                    int(line.split()[1], 8)
                    for line in info.splitlines()
                    if line.startswith("flags:")
                ),
                0,
            )
            if flags & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR):
                try:
                    comm = (proc / "comm").read_text().strip()
                except OSError:
                    comm = "?"
                found.append(f"{proc.name} ({comm})")
                break
    return found


def check_not_open_for_writing(source: Path, st: os.stat_result | None = None) -> None:
    st = st or os.stat(source)
    writers = _writers_of(st)
    if writers:
        raise SourceBusy(
            f"source {source} is open for writing by process {', '.join(writers)}",
            source=str(source),
            processes=writers,
        )
    if stat.S_ISBLK(st.st_mode):
        node = _sys_block(st.st_rdev)
        for dev, point, _source, opts in _mountinfo():
            if os.major(dev) == 0 or "rw" not in opts.split(","):
                continue
            # A mounted device changes the source when it is the source, a partition
            # of it, or stacked on it.
            if node is not None and node.name in underlying_disks(dev):
                raise SourceBusy(
                    f"source {source} is mounted read-write at {point}; unmount it or "
                    "mount it read-only first",
                    source=str(source),
                    mountpoint=point,
                )
