"""Find one file in an image with The Sleuth Kit (``pytsk3``), and read it.

The image is opened through :func:`custodyd.daemon.inventory.tsk.open_image`,
the one readable-image abstraction of custodyd: raw files and devices, E01
containers decoded by libewf, and reader objects (``size``, ``read(offset,
length)``) such as the ranged-GET reader of an ``s3://`` store object, as The
Sleuth Kit ``Img_Info`` objects. Another container format plugs in there and
extraction follows.

Partition ``N`` is the N-th (from 1) of the allocated partitions that
``custodyd inventory`` lists, in the same order; without it the file system
must start at offset 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytsk3

from custodyd.daemon.errors import InvalidInput, NotFound, SourceError
from custodyd.daemon.inventory.tsk import FS_TYPE_NAMES, open_image

CHUNK = 4 * 1024 * 1024


@dataclass
class Located:
    """An open file of a file system inside an image."""

    file: Any
    fs_type: str
    offset_bytes: int
    partition: int | None
    path: str | None
    inode: int
    size: int


def partition_offsets(img: Any) -> list[int]:
    """Byte offsets of the allocated partitions, in ``custodyd inventory`` order."""
    try:
        vs = pytsk3.Volume_Info(img)
    except (OSError, RuntimeError):
        return []
    sector = int(vs.info.block_size)
    return [
        (int(part.start) + int(vs.info.offset) // sector) * sector
        for part in vs
        if int(part.flags) & int(pytsk3.TSK_VS_PART_FLAG_ALLOC)
    ]


def _offset(img: Any, partition: int | None) -> int:
    if partition is None:
        return 0
    offsets = partition_offsets(img)
    if not 1 <= partition <= len(offsets):
        raise InvalidInput(
            f"partition {partition} does not exist: the image has {len(offsets)} allocated "
            "partition(s), numbered from 1 as custodyd inventory lists them",
            field="partition",
        )
    return offsets[partition - 1]


def readable(image_ref: str) -> Any:
    """What :func:`open_image` takes for an item's ``image_path``: a local path, or a
    ranged-GET reader of an ``s3://`` object."""
    if image_ref.startswith("s3://"):
        from custodyd.daemon.acquisition import media_of

        return media_of(image_ref)
    return image_ref


def locate(
    image_path: str, *, path: str | None, inode: int | None, partition: int | None
) -> tuple[Any, Located]:
    """(the opened image, the file) for ``path`` or ``inode``; raises a clear error."""
    if (path is None) == (inode is None):
        raise InvalidInput(
            "name the file by path or by inode (one of them)", fields=["path", "inode"]
        )
    if path is not None and not path.startswith("/"):
        raise InvalidInput(f"the path is absolute within the file system: {path!r}", field="path")
    try:
        img = open_image(readable(image_path))
    except (OSError, RuntimeError, ImportError) as exc:
        raise SourceError(f"cannot open the image {image_path}: {exc}") from None
    offset = _offset(img, partition)
    try:
        fs = pytsk3.FS_Info(img, offset=offset)
    except (OSError, RuntimeError):
        where = f"partition {partition}" if partition else "offset 0"
        raise InvalidInput(
            f"no file system The Sleuth Kit recognises at {where} (byte {offset}); "
            "name the partition (its number in the item's inventory, from 1)",
            field="partition",
        ) from None
    try:
        found = fs.open(path) if path is not None else fs.open_meta(inode=inode)
    except (OSError, RuntimeError):
        what = f"path {path!r}" if path is not None else f"inode {inode}"
        raise NotFound(f"no file at {what} in that file system") from None
    meta = found.info.meta
    if meta is None or meta.type != pytsk3.TSK_FS_META_TYPE_REG:
        what = path if path is not None else f"inode {inode}"
        raise InvalidInput(f"{what} is not a regular file", field="path" if path else "inode")
    return img, Located(
        file=found,
        fs_type=FS_TYPE_NAMES.get(fs.info.ftype, f"unknown (0x{int(fs.info.ftype):x})"),
        offset_bytes=offset,
        partition=partition,
        path=path,
        inode=int(meta.addr),
        size=int(meta.size),
    )


def chunks(located: Located) -> Iterator[bytes]:
    """The file's content (its default data attribute, as ``icat`` prints it)."""
    done = 0
    while done < located.size:
        want = min(CHUNK, located.size - done)
        data = located.file.read_random(done, want)
        if not data:
            raise SourceError(f"the file system ended the file at byte {done} of {located.size}")
        done += len(data)
        yield data
