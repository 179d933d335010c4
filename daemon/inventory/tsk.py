"""Volume system and filesystem inventory through pytsk3, matching The Sleuth Kit's tools.

* ``partitions``: allocated volume-system entries (like ``mmls``' non-meta,
  non-unallocated rows) in units of the volume system's sector size, which TSK
  detects (512 or 4096 bytes for GPT).
* ``filesystems``: each filesystem found in an allocated partition, or at offset 0
  when there is no volume system. ``file_count`` is the number of rows
  ``fls -r -p`` prints: every name a recursive directory walk meets (allocated and
  deleted, the virtual ``$OrphanFiles`` directory and its orphans, FAT's virtual
  ``$MBR``/``$FAT1``/``$FAT2``), one row per NTFS data stream / index root, never
  ``.`` or ``..``. The recursion follows ``tsk_fs_dir_walk``'s rules.

E01 (EWF) containers are decoded with libewf (``pyewf``) and inventoried like raw media.
Anything unreadable yields a clear ``volume_system: null`` / ``type: "unknown"`` with a
``note``, never an exception.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytsk3

MAX_DEPTH = 128

FS_TYPE_NAMES = {
    pytsk3.TSK_FS_TYPE_NTFS: "NTFS",
    pytsk3.TSK_FS_TYPE_FAT12: "FAT12",
    pytsk3.TSK_FS_TYPE_FAT16: "FAT16",
    pytsk3.TSK_FS_TYPE_FAT32: "FAT32",
    pytsk3.TSK_FS_TYPE_EXFAT: "exFAT",
    pytsk3.TSK_FS_TYPE_FFS1: "UFS1",
    pytsk3.TSK_FS_TYPE_FFS1B: "UFS1b",
    pytsk3.TSK_FS_TYPE_FFS2: "UFS2",
    pytsk3.TSK_FS_TYPE_EXT2: "Ext2",
    pytsk3.TSK_FS_TYPE_EXT3: "Ext3",
    pytsk3.TSK_FS_TYPE_EXT4: "Ext4",
    pytsk3.TSK_FS_TYPE_SWAP: "Swap",
    pytsk3.TSK_FS_TYPE_RAW: "Raw",
    pytsk3.TSK_FS_TYPE_ISO9660: "ISO9660",
    pytsk3.TSK_FS_TYPE_HFS: "HFS+",
    pytsk3.TSK_FS_TYPE_YAFFS2: "YAFFS2",
    pytsk3.TSK_FS_TYPE_APFS: "APFS",
}

VS_TYPE_NAMES = {
    pytsk3.TSK_VS_TYPE_DOS: "DOS Partition Table",
    pytsk3.TSK_VS_TYPE_GPT: "GUID Partition Table (EFI)",
    pytsk3.TSK_VS_TYPE_BSD: "BSD Disk Label",
    pytsk3.TSK_VS_TYPE_SUN: "Sun Volume Table of Contents (Solaris)",
    pytsk3.TSK_VS_TYPE_MAC: "Mac Partition Map",
}

_DIR_NAME_TYPES = (pytsk3.TSK_FS_NAME_TYPE_DIR, pytsk3.TSK_FS_NAME_TYPE_VIRT_DIR)
_DIR_META_TYPES = (pytsk3.TSK_FS_META_TYPE_DIR, pytsk3.TSK_FS_META_TYPE_VIRT_DIR)
_NTFS_ROW_ATTRS = (pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA, pytsk3.TSK_FS_ATTR_TYPE_NTFS_IDXROOT)


def _text(raw: Any) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _is_dot(name: bytes) -> bool:
    return name in (b".", b"..")


def _rows(entry: Any, is_ntfs: bool) -> int:
    """How many rows ``fls`` prints for this name (see module docstring)."""
    meta = entry.info.meta
    if not is_ntfs or meta is None:
        return 1
    rows = 0
    printed = False
    try:
        for attr in entry:
            kind = attr.info.type
            if kind in _NTFS_ROW_ATTRS:
                printed = True
                rows += 1
    except (OSError, RuntimeError):
        pass
    return rows if printed else 1


def _walk(directory: Any, is_ntfs: bool, seen: list[int], depth: int) -> int:
    count = 0
    for entry in directory:
        name = entry.info.name
        if name is None or _is_dot(name.name):
            continue
        count += _rows(entry, is_ntfs)
        meta = entry.info.meta
        if (
            depth < MAX_DEPTH
            and name.type in _DIR_NAME_TYPES
            and meta is not None
            and meta.type in _DIR_META_TYPES
            and (
                int(name.flags) & int(pytsk3.TSK_FS_NAME_FLAG_ALLOC)
                or int(meta.flags) & int(pytsk3.TSK_FS_META_FLAG_UNALLOC)
            )
            and name.meta_addr not in seen
        ):
            try:
                sub = entry.as_directory()
            except (OSError, RuntimeError):
                continue
            seen.append(name.meta_addr)
            count += _walk(sub, is_ntfs, seen, depth + 1)
            seen.pop()
    return count


def filesystem_at(img: Any, offset_bytes: int, sector_size: int) -> dict[str, Any] | None:
    """The filesystem at ``offset_bytes``, or None when TSK recognises none there."""
    try:
        fs = pytsk3.FS_Info(img, offset=offset_bytes)
    except (OSError, RuntimeError):
        return None
    ftype = fs.info.ftype
    out: dict[str, Any] = {
        "offset_sectors": offset_bytes // sector_size,
        "offset_bytes": offset_bytes,
        "type": FS_TYPE_NAMES.get(ftype, f"unknown (0x{int(ftype):x})"),
        "file_count": None,
    }
    try:
        root = fs.open_dir(inode=fs.info.root_inum)
        out["file_count"] = _walk(root, ftype == pytsk3.TSK_FS_TYPE_NTFS, [fs.info.root_inum], 0)
    except (OSError, RuntimeError) as exc:
        out["note"] = f"directory walk failed: {exc}"
    return out


EWF_SIGNATURE = b"EVF\x09\x0d\x0a\xff\x00"


class EwfImage(pytsk3.Img_Info):  # type: ignore[misc]
    """An Expert Witness (E01) image for The Sleuth Kit, decoded by libewf (``pyewf``)."""

    def __init__(self, path: str) -> None:
        import pyewf

        self._handle = pyewf.handle()
        self._handle.open(pyewf.glob(path))
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def close(self) -> None:
        self._handle.close()

    def read(self, offset: int, size: int) -> bytes:
        self._handle.seek(offset)
        return bytes(self._handle.read(size))

    def get_size(self) -> int:
        return int(self._handle.get_media_size())


class ReaderImage(pytsk3.Img_Info):  # type: ignore[misc]
    """A raw image behind any object with ``size`` and ``read(offset, length)`` (e.g. an
    object in a store, read with ranged GETs)."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def close(self) -> None:
        pass

    def read(self, offset: int, size: int) -> bytes:
        return self._reader.read(offset, size)

    def get_size(self) -> int:
        return int(self._reader.size)


def open_image(path: Any) -> Any:
    """pytsk3 image of a raw file/device, of an E01 container's media data, or of a
    reader object (``size``, ``read(offset, length)``)."""
    if not isinstance(path, (str, Path)):
        return ReaderImage(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(len(EWF_SIGNATURE))
    except OSError:
        magic = b""
    if magic == EWF_SIGNATURE:
        return EwfImage(str(path))
    return pytsk3.Img_Info(str(path))


def inventory(path: Path | str | Any) -> dict[str, Any]:
    """Volume system, allocated partitions and filesystems of a raw/E01 image or device
    (or of a reader object: ``size``, ``read(offset, length)``, ``url``)."""
    source = path if not isinstance(path, (str, Path)) else None
    path = str(path) if source is None else str(getattr(source, "url", "reader"))
    result: dict[str, Any] = {
        "path": path,
        "sector_size": 512,
        "volume_system": None,
        "partitions": [],
        "filesystems": [],
        "notes": [],
    }
    try:
        img = open_image(source if source is not None else path)
    except (OSError, RuntimeError, ImportError) as exc:
        result["notes"].append(f"cannot open image: {exc}")
        return result
    result["format"] = "ewf" if isinstance(img, EwfImage) else "raw"
    result["size"] = img.get_size()
    try:
        vs = pytsk3.Volume_Info(img)
    except (OSError, RuntimeError):
        vs = None
    if vs is None:
        result["notes"].append("no volume system")
        fs = filesystem_at(img, 0, 512)
        if fs is None:
            result["notes"].append("unknown filesystem at offset 0")
        else:
            result["filesystems"].append(fs)
        return result
    sector = int(vs.info.block_size)
    result["sector_size"] = sector
    result["volume_system"] = VS_TYPE_NAMES.get(vs.info.vstype, f"type 0x{int(vs.info.vstype):x}")
    for part in vs:
        if not int(part.flags) & int(pytsk3.TSK_VS_PART_FLAG_ALLOC):
            continue
        start, length = int(part.start), int(part.len)
        result["partitions"].append(
            {"start_sector": start, "length_sectors": length, "description": _text(part.desc)}
        )
        offset = (start + int(vs.info.offset) // sector) * sector
        fs = filesystem_at(img, offset, sector)
        if fs is None:
            result["notes"].append(f"unknown filesystem in partition at sector {start}")
        else:
            result["filesystems"].append(fs)
    return result
