"""Full verification of a ledger copy: every leaf, every stored node, every checkpoint.

One streaming pass re-hashes every stored leaf (hashlib, C speed), checks that
the entries are numbered 0..n-1 and that each leaf names its own position,
rebuilds every complete subtree level by level and compares it with the stored
node hashes, then checks each signed checkpoint: signature, origin, root at its
size, and a consistency proof from the checkpoint before it. The same core
serves the database (:meth:`Ledger.verify`) and an export bundle
(:mod:`custodyd.daemon.ledger.offline`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from custodyd.daemon.ledger import merkle
from custodyd.daemon.ledger.entry import LedgerEntry
from custodyd.daemon.ledger.note import Checkpoint, NoteError, Verifier
from custodyd.daemon.ledger.trust import KEY_ACTIONS, TrustList, key_event

# (index as stored, leaf bytes, the fields stored beside the leaf in COLUMN_FIELDS order or None)
EntryRow = tuple[int, bytes, tuple[Any, ...] | None]
# level -> stored (idx, hash) rows of that level, ascending idx
StoredLevel = Callable[[int], Iterable[tuple[int, bytes]]]


@dataclass
class Problem:
    """One finding. ``index`` is the entry it names; ``exact`` is False when it is only
    the start of the range a signed root says changed (a leaf-level finding is better)."""

    index: int | None
    message: str
    exact: bool = True


@dataclass
class VerifyReport:
    """Outcome of a verification. ``first_bad_index`` is the lowest entry index involved."""

    ok: bool
    size: int
    root: str | None = None
    checkpoints: int = 0
    first_bad_index: int | None = None
    bad_checkpoint: int | None = None
    message: str = ""
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    witnesses: int = 0
    trust: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # worth knowing, not a failure

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "root": self.root,
            "checkpoints": self.checkpoints,
            "first_bad_index": self.first_bad_index,
            "bad_checkpoint": self.bad_checkpoint,
            "message": self.message,
            "problems": [{"index": p.index, "message": p.message} for p in self.problems[:20]],
            "seconds": round(self.seconds, 3),
            "witnesses": self.witnesses,
            "notes": self.notes,
            "trust": self.trust,
        }


COLUMN_FIELDS = ("time", "actor", "action", "case", "evidence")


@functools.lru_cache(maxsize=1 << 16)
def _quote(value: Any) -> str:
    """RFC 8785 form of a string or null, fast for the plain text ids and names hold."""
    if value is None:
        return "null"
    if isinstance(value, str) and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return json.dumps(value, ensure_ascii=False)


def _expected_frame(idx: int, fields: tuple[Any, ...]) -> tuple[bytes, bytes]:
    """The canonical leaf's head (up to the payload) and tail (the time) for these fields."""
    time, actor, action, case, evidence = fields
    head = (
        f'{{"action":{_quote(action)},"actor":{_quote(actor)},"case":{_quote(case)},'
        f'"evidence":{_quote(evidence)},"index":{idx},"payload":{{'
    )
    return head.encode(), f',"time":{_quote(time)}}}'.encode()


def _slow_check(idx: int, leaf: bytes, fields: tuple[Any, ...] | None) -> str | None:
    """Decode the leaf and say what is wrong with it, or None when it is fine."""
    try:
        entry = LedgerEntry.from_leaf(leaf)
    except ValueError as exc:
        return f"entry {idx}: leaf is not a ledger entry ({exc})"
    if entry.index != idx:
        return f"entry {idx}: leaf is entry {entry.index} (entries reordered?)"
    if fields is not None:
        for name, value in zip(COLUMN_FIELDS, fields, strict=True):
            if value != getattr(entry, name):
                return f"entry {idx}: stored {name} disagrees with the signed leaf"
    return None


def check_entries(
    rows: Iterable[EntryRow], problems: list[Problem], key_leaves: list[tuple[int, bytes]]
) -> list[bytes]:
    """Leaf hashes in stored order; numbering, the leaf's own index and side fields checked.

    Fast path: the canonical leaf must start with the head and end with the tail
    the side fields imply (no JSON decoding; a million leaves take seconds).
    Anything else is decoded to say exactly what is wrong. Key entries (the trust
    list) are collected in ``key_leaves``.
    """
    hashes: list[bytes] = []
    append = hashes.append
    sha = hashlib.sha256
    expected = 0
    for idx, leaf, fields in rows:
        position = expected
        expected += 1
        append(sha(b"\x00" + leaf).digest())
        if fields is not None and fields[2] in KEY_ACTIONS:
            key_leaves.append((position, leaf))
        if idx != position:
            if idx > position:
                problems.append(Problem(position, f"entry {position} is missing (next is {idx})"))
                expected = idx + 1
            else:
                problems.append(Problem(idx, f"entry {idx} appears twice or out of order"))
            continue
        if fields is not None:
            head, tail = _expected_frame(idx, fields)
            if leaf.startswith(head) and leaf.endswith(tail):
                continue
        problem = _slow_check(idx, leaf, fields)
        if problem:
            problems.append(Problem(idx, problem))
    return hashes


def check_nodes(
    levels: list[list[bytes]], size: int, stored: StoredLevel, problems: list[Problem]
) -> None:
    """Check every stored complete-subtree hash.

    Level 0 must equal the re-hashed leaves; a node above must equal the hash of
    its two *stored* children. Together that means the stored tree is exactly
    the tree of the leaves, and a changed leaf is reported once, at its index
    (not again at each ancestor).
    """
    sha = hashlib.sha256
    below: list[bytes] | None = None  # the stored level underneath, when complete
    level = 0
    while True:
        computed = levels[level] if level < len(levels) else []
        if level == 0 or below is None:
            expected = computed
        else:
            expected = [
                sha(b"\x01" + a + b).digest()
                for a, b in zip(below[0::2], below[1::2], strict=False)
            ]
        seen: list[bytes] = []
        intact = True
        beyond = False
        for idx, value in stored(level):
            if idx != len(seen):
                intact = False
                if idx > len(seen):
                    first = len(seen) << level
                    problems.append(
                        Problem(first, f"stored tree node (level {level}, {len(seen)}) is missing")
                    )
                break
            if idx >= len(expected):
                if not beyond:
                    problems.append(
                        Problem(
                            min(idx << level, size),
                            f"stored tree node (level {level}, {idx}) lies beyond the "
                            f"{size} entries present (entries removed from the end?)",
                        )
                    )
                beyond = True
                seen.append(bytes(value))
                continue
            value = bytes(value)
            if value != expected[idx]:
                first = idx << level
                last = ((idx + 1) << level) - 1
                what = f"entry {first}" if level == 0 else f"entries {first}..{last}"
                problems.append(
                    Problem(first, f"stored hash of {what} (level {level}) does not match")
                )
            seen.append(value)
        else:
            if len(seen) < len(computed):
                problems.append(
                    Problem(
                        len(seen) << level,
                        f"{len(computed) - len(seen)} stored tree nodes missing at level {level}",
                    )
                )
                intact = False
        below = seen if intact else None
        level += 1
        if size >> level == 0:
            break


def check_checkpoints(
    notes: Iterable[tuple[int | None, str]],
    levels: list[list[bytes]],
    size: int,
    trusted: TrustList,
    origin: str | None,
    problems: list[Problem],
) -> tuple[int, int | None]:
    """Check signed checkpoints in order of size. Returns (count, first bad checkpoint size)."""
    read = merkle.levels_reader(levels)
    previous: Checkpoint | None = None
    count = 0
    bad: int | None = None

    def fail(index: int | None, cp_size: int | None, message: str, exact: bool = True) -> None:
        nonlocal bad
        problems.append(Problem(index, message, exact))
        if bad is None:
            bad = cp_size

    for stored_size, note in notes:
        count += 1
        label = f"checkpoint of size {stored_size}" if stored_size is not None else "checkpoint"
        try:
            cp, _ = trusted.open(note, origin, previous.size if previous else 0)
        except NoteError as exc:
            fail(None, stored_size, f"{label}: {exc}")
            continue
        label = f"checkpoint of size {cp.size}"
        if stored_size is not None and stored_size != cp.size:
            fail(None, stored_size, f"{label} is stored under size {stored_size}")
            continue
        if cp.size > size:
            fail(
                size,
                cp.size,
                f"{label} covers entries {size}..{cp.size - 1}, which are missing "
                "(ledger truncated?)",
            )
            continue
        root = merkle.root_from_nodes(cp.size, read) if cp.size else merkle.EMPTY_ROOT
        if root != cp.root:
            since = previous.size if previous else 0
            fail(
                since,
                cp.size,
                f"{label}: signed root does not match the entries "
                f"(a change among entries {since}..{cp.size - 1})",
                exact=False,
            )
            continue
        if previous is not None:
            proof = merkle.consistency_proof(previous.size, cp.size, read)
            try:
                merkle.verify_consistency(previous.size, cp.size, previous.root, cp.root, proof)
            except merkle.ProofError as exc:
                fail(
                    previous.size, cp.size, f"{label} inconsistent with size {previous.size}: {exc}"
                )
                continue
        previous = cp
    return count, bad


def check_witness(
    label: str,
    note: str | None,
    levels: list[list[bytes]],
    size: int,
    trusted: TrustList,
    origin: str | None,
    problems: list[Problem],
) -> None:
    """A checkpoint kept outside the database must still describe a prefix of the ledger.

    ``note`` None means the witness is missing: a failure whenever the ledger has
    entries (deleting the witness must not silently disable the check).
    """
    if note is None:
        if size:
            problems.append(
                Problem(None, f"{label} is missing while the ledger holds {size} entries")
            )
        return
    try:
        claimed = Checkpoint.parse(note.split("\n\n")[0] + "\n").size
        cp, _ = trusted.open(note, origin, max(claimed, 1), ever=True)
    except NoteError as exc:
        problems.append(Problem(None, f"{label} does not verify: {exc}"))
        return
    if cp.size > size:
        problems.append(
            Problem(
                size,
                f"{label} covers {cp.size} entries but the ledger holds {size}: "
                f"entries {size}..{cp.size - 1} were removed (or the database is an older copy)",
            )
        )
        return
    read = merkle.levels_reader(levels)
    root = merkle.root_from_nodes(cp.size, read) if cp.size else merkle.EMPTY_ROOT
    if root != cp.root:
        problems.append(
            Problem(
                None,  # the stored checkpoints narrow it down better
                f"{label} (size {cp.size}) does not match the entries: the ledger is a fork "
                f"of what was witnessed (a change among entries 0..{cp.size - 1})",
            )
        )


def run(
    rows: Iterable[EntryRow],
    notes: Iterable[tuple[int | None, str]],
    founding: Verifier | None,
    origin: str | None,
    stored: StoredLevel | None = None,
    require_checkpoint: bool = True,
    witnesses: Iterable[tuple[str, str | None]] = (),
) -> VerifyReport:
    """Verify entries, nodes and checkpoints; the trust list grows from ``founding``
    with the key entries found among the rows. ``witnesses``: (label, note or None
    when missing) of checkpoints kept outside the ledger."""
    started = time.perf_counter()
    problems: list[Problem] = []
    key_leaves: list[tuple[int, bytes]] = []
    hashes = check_entries(rows, problems, key_leaves)
    size = len(hashes)
    levels = merkle.tree_levels(hashes)
    if stored is not None:
        check_nodes(levels, size, stored, problems)
    events = [key_event(i, leaf) for i, leaf in key_leaves]
    trusted = TrustList(founding, [e for e in events if e is not None])
    count, bad_cp = check_checkpoints(notes, levels, size, trusted, origin, problems)
    seen = 0
    for label, note in witnesses:
        seen += 1
        check_witness(label, note, levels, size, trusted, origin, problems)
    if count == 0 and require_checkpoint and size > 0:
        problems.append(Problem(None, "no signed checkpoint covers the entries"))
    root = merkle.root_from_nodes(size, merkle.levels_reader(levels)) if size else merkle.EMPTY_ROOT
    exact = [p.index for p in problems if p.index is not None and p.exact]
    ranges = [p.index for p in problems if p.index is not None and not p.exact]
    first = min(exact) if exact else min(ranges) if ranges else None
    if problems:
        head = next((p for p in problems if p.index == first), problems[0])
        message = head.message
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problem(s))"
    else:
        message = f"{size} entries, {count} checkpoint(s): all verified"
    return VerifyReport(
        ok=not problems,
        size=size,
        root=root.hex(),
        checkpoints=count,
        first_bad_index=first,
        bad_checkpoint=bad_cp,
        message=message,
        problems=problems,
        seconds=time.perf_counter() - started,
        witnesses=seen,
        trust=trusted.to_dict(),
    )
