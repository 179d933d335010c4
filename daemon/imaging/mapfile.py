"""The rescue map: which bytes of a source are copied, still to try, or unreadable.

Kept in **GNU ddrescue's mapfile format** (ddrescue manual, "Mapfile structure") so
examiners can read it with ``ddrescuelog`` or ddrescueview and compare it with a
ddrescue run of their own. The map covers ``[0, size)`` with contiguous blocks, each
in one state:

``?`` non-tried, ``*`` non-trimmed (a read of a larger block failed here),
``/`` non-scraped (trimmed; sectors inside not yet tried one by one),
``-`` bad sector (a one-sector read failed), ``+`` finished (copied).

The status line carries ddrescue's *current status* (which pass runs), the current
position and pass number. Parsing is strict: a map that does not cover the source
exactly once is refused, never guessed at.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from custodyd.daemon import durable
from custodyd.daemon.errors import CustodydError, DestinationError, DestinationFull

NON_TRIED = "?"
NON_TRIMMED = "*"
NON_SCRAPED = "/"
BAD_SECTOR = "-"
FINISHED = "+"
BLOCK_STATES = frozenset({NON_TRIED, NON_TRIMMED, NON_SCRAPED, BAD_SECTOR, FINISHED})

# ddrescue's "current status" of the run as a whole.
COPYING = "?"
TRIMMING = "*"
SCRAPING = "/"
RETRYING = "-"
DONE = "+"
RUN_STATES = frozenset({COPYING, TRIMMING, SCRAPING, RETRYING, DONE, "F", "G"})


class MapfileError(CustodydError):
    """A rescue map that cannot be read (malformed, or for a source of another size)."""

    status = 422
    slug = "invalid-mapfile"
    exit_code = 20


@dataclass
class Block:
    pos: int
    size: int
    status: str

    @property
    def end(self) -> int:
        return self.pos + self.size


@dataclass
class RescueMap:
    """Blocks covering ``[0, size)``, sorted, adjacent blocks of one state merged."""

    size: int
    blocks: list[Block] = field(default_factory=list)
    current_pos: int = 0
    current_status: str = COPYING
    current_pass: int = 1

    @classmethod
    def new(cls, size: int) -> RescueMap:
        return cls(size, [Block(0, size, NON_TRIED)] if size else [])

    # -- queries ---------------------------------------------------------------------

    def areas(self, status: str) -> list[Block]:
        """Copies of the blocks in ``status`` (safe to iterate while the map changes)."""
        return [Block(b.pos, b.size, b.status) for b in self.blocks if b.status == status]

    def bytes_in(self, status: str) -> int:
        return sum(b.size for b in self.blocks if b.status == status)

    @property
    def finished(self) -> bool:
        """No byte is left to try (every block finished or a bad sector)."""
        return all(b.status in (FINISHED, BAD_SECTOR) for b in self.blocks)

    @property
    def rescued(self) -> int:
        return self.bytes_in(FINISHED)

    def all_finished(self, pos: int, end: int) -> bool:
        """Every byte of ``[pos, end)`` is read (no later pass will write into it)."""
        return all(b.status == FINISHED for b in self.blocks if b.pos < end and b.end > pos)

    def finished_prefix(self) -> int:
        """Bytes from 0 that are all finished: what a resumed pass can trust as read."""
        end = 0
        for block in self.blocks:
            if block.status != FINISHED:
                break
            end = block.end
        return end

    # -- changes ---------------------------------------------------------------------

    def set(self, pos: int, size: int, status: str) -> None:
        """Mark ``[pos, pos+size)`` as ``status`` (split and merge blocks as needed)."""
        if status not in BLOCK_STATES:
            raise ValueError(f"unknown block status {status!r}")
        end = min(pos + size, self.size)
        if size <= 0 or pos >= end:
            return
        pieces: list[Block] = [Block(pos, end - pos, status)]
        for block in self.blocks:
            if block.end <= pos or block.pos >= end:
                pieces.append(block)
                continue
            if block.pos < pos:
                pieces.append(Block(block.pos, pos - block.pos, block.status))
            if block.end > end:
                pieces.append(Block(end, block.end - end, block.status))
        merged: list[Block] = []
        for block in sorted(pieces, key=lambda b: b.pos):
            if merged and merged[-1].status == block.status and merged[-1].end == block.pos:
                merged[-1] = Block(merged[-1].pos, merged[-1].size + block.size, block.status)
            else:
                merged.append(block)
        self.blocks = merged
        self._check()

    def _check(self) -> None:
        pos = 0
        for block in self.blocks:
            if block.pos != pos or block.size <= 0:
                raise AssertionError(f"rescue map corrupt at {pos:#x}: {self.blocks}")
            pos = block.end
        if pos != self.size:
            raise AssertionError(f"rescue map covers {pos} of {self.size} bytes")

    # -- the GNU format --------------------------------------------------------------

    def render(self, *, tool: str = "custodyd", command: str = "") -> str:
        lines = [
            f"# Mapfile. Created by {tool}",
            f"# Command line: {command}",
            "# current_pos  current_status  current_pass",
            f"0x{self.current_pos:08X}     {self.current_status}               {self.current_pass}",
            "#      pos        size  status",
        ]
        lines += [f"0x{b.pos:08X}  0x{b.size:08X}  {b.status}" for b in self.blocks]
        return "\n".join(lines) + "\n"

    def write(self, path: Path, *, command: str = "") -> None:
        """Atomically replace ``path``: a crash leaves the old map or the new, never half.

        A full disk raises :class:`DestinationFull` (the old map stays, and it vouches
        for no more than the new one would)."""
        try:
            # The map is what a resume trusts: write_atomic syncs it before it replaces
            # the previous one, so a power cut leaves one whole map, never half of one.
            durable.write_atomic(path, self.render(command=command).encode())
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DestinationFull(f"destination full while saving the map {path}") from None
            raise DestinationError(f"cannot save the map {path}: {exc.strerror}") from None


_STATUS_LINE = re.compile(r"^(0x[0-9A-Fa-f]+|\d+)\s+(\S)(?:\s+(\d+))?\s*$")
_BLOCK_LINE = re.compile(r"^(0x[0-9A-Fa-f]+|\d+)\s+(0x[0-9A-Fa-f]+|\d+)\s+(\S)\s*$")


def parse(text: str, size: int | None = None) -> RescueMap:
    """Read a GNU ddrescue mapfile. With ``size``, the map must cover exactly that."""
    lines = [ln.strip() for ln in text.splitlines()]
    data = [ln for ln in lines if ln and not ln.startswith("#")]
    if not data:
        raise MapfileError("mapfile has no status line")
    status = _STATUS_LINE.match(data[0])
    if status is None or status.group(2) not in RUN_STATES:
        raise MapfileError(f"mapfile status line is malformed: {data[0][:80]!r}")
    blocks: list[Block] = []
    pos = 0
    for line in data[1:]:
        match = _BLOCK_LINE.match(line)
        if match is None or match.group(3) not in BLOCK_STATES:
            raise MapfileError(f"mapfile block line is malformed: {line[:80]!r}")
        start, length = int(match.group(1), 0), int(match.group(2), 0)
        if start != pos or length <= 0:
            raise MapfileError(f"mapfile blocks are not contiguous at {start:#x}")
        if blocks and blocks[-1].status == match.group(3):
            blocks[-1].size += length
        else:
            blocks.append(Block(start, length, match.group(3)))
        pos = start + length
    if size is not None and pos != size:
        raise MapfileError(f"mapfile covers {pos} bytes, the source has {size}")
    return RescueMap(
        pos,
        blocks,
        current_pos=int(status.group(1), 0),
        current_status=status.group(2),
        current_pass=int(status.group(3) or 1),
    )


def load(path: Path, size: int | None = None) -> RescueMap:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise MapfileError(f"cannot read mapfile {path}: {exc}") from None
    return parse(text, size)


def bad_ranges(rmap: RescueMap) -> Iterator[Block]:
    """Unreadable areas: everything not finished once the rescue is over."""
    for block in rmap.blocks:
        if block.status != FINISHED:
            yield block
