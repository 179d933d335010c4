"""Durable files: the one place custodyd writes a small file that must survive a crash.

A file that custody depends on (a manifest, the signing key, the ledger witness,
the first admin token) must, after a power cut, be either the old version or the
new one in full, never empty or half-written. That takes four steps in order:
write every byte to a temporary file beside the target, ``fsync`` it, rename it
over the target, ``fsync`` the directory. Each step's failure is raised
(``OSError``): a caller that cannot make a record durable must not report
success. Callers map ``OSError`` to their own domain error where they know what
the file is for.

Large streamed files (the image) keep their own writer, but use :func:`write_all`
and :func:`fsync_dir` from here.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
from contextlib import suppress
from pathlib import Path
from typing import Any


def write_all(fd: int, data: bytes | memoryview) -> int:
    """Write every byte of ``data`` to ``fd``; return the count.

    ``os.write`` may write fewer bytes than asked (a signal, a nearly full
    filesystem, a pipe), and ignoring its result silently truncates the file. A
    write that makes no progress at all raises ``ENOSPC`` instead of looping.
    """
    view = memoryview(data).cast("B")
    pos = 0
    while pos < len(view):
        n = os.write(fd, view[pos:])
        if n == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        pos += n
    return pos


def fsync_dir(path: Path) -> None:
    """Make the directory entries of ``path`` durable (a create, rename, link or unlink).

    A rename only changes the directory; until the directory itself is on disk a
    crash can bring back the old name, or no name at all. Errors propagate.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)  # why: see the docstring — the directory entry, not the file data
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o640, replace: bool = True) -> bool:
    """Put ``data`` at ``path`` atomically and durably; ``mode`` exactly (umask ignored).

    With ``replace=False`` an existing ``path`` is kept (the new content is
    dropped) and ``False`` returned: for files created once by whichever process
    gets there first, such as the ledger signing key. Otherwise returns ``True``.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            os.fchmod(fd, mode)
            write_all(fd, data)
            # why: the rename below must never make the new name point at a file
            # whose data is still only in the page cache (after a crash: empty).
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the file exists: keep the first one
            except FileExistsError:
                return False
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()
    # why: the rename/link is a change to the directory; without this a crash can
    # undo it although the caller was told the file is in place.
    fsync_dir(path.parent)
    return True


def write_json_atomic(path: Path, obj: Any, *, mode: int = 0o640) -> None:
    """:func:`write_atomic` of ``obj`` as indented JSON (``default=str``) and a newline."""
    write_atomic(path, (json.dumps(obj, indent=2, default=str) + "\n").encode(), mode=mode)
