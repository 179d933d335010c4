"""The ledger service: durable, serialized appends; history; proofs; checkpoints.

Writes are serialized across processes by the database itself: SQLite takes
its write lock up front (``BEGIN IMMEDIATE``), PostgreSQL an advisory
transaction lock; the next index is read under that lock, so concurrent
appenders get distinct consecutive indices and nothing is lost. Each append (or
batch from :meth:`Ledger.append_many`) writes its entries, the Merkle subtrees
it completes and a newly signed checkpoint in one transaction, committed
durably (SQLite WAL with ``synchronous=FULL``; PostgreSQL synchronous commit)
before the call returns.

After each commit the newest signed checkpoint is also written to a *witness*
file in the data directory (``$CUSTODYD_HOME/ledger-witness-<db tag>.note``); ``verify``
insists the ledger still contains it, so removing the newest entries together
with their nodes and checkpoints from the database does not go unnoticed. (An
outside witness is stronger still: publish ``custodyd ledger checkpoint``.)

Because SQLite allows one writer, do not call :meth:`Ledger.append` while the
same thread holds an uncommitted write in another session on the same SQLite
database: commit first (the append would wait for that lock).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import create_engine

from custodyd.daemon.db import make_engine
from custodyd.daemon.db.raw import raw_cursor
from custodyd.daemon.errors import (
    InvalidInput,
    LedgerInconsistent,
    LedgerIntegrityError,
    LedgerKeyMissing,
    LedgerKeyUntrusted,
    LedgerPendingRejected,
    NotFound,
)
from custodyd.daemon.ledger import keys, merkle, verify
from custodyd.daemon.ledger.entry import (
    LedgerEntry,
    canonical_json,
    entry_document,
    format_time,
)
from custodyd.daemon.ledger.note import (
    Checkpoint,
    NoteError,
    Verifier,
    raw_public_key,
    sign_note,
    verifier_key,
)
from custodyd.daemon.ledger.trust import KEY_ACTIONS, TrustList, key_event
from custodyd.daemon.ledger.witness import Witnessed, Witnesses, note_size
from custodyd.daemon.models.ledger import (
    LedgerCheckpointRow,
    LedgerEntryRow,
    LedgerNodeRow,
    LedgerPendingRow,
)

if TYPE_CHECKING:
    from sqlmodel import Session

    from custodyd.daemon.ledger.host import LedgerHost

ENTRIES = LedgerEntryRow.__table__  # type: ignore[attr-defined]
NODES = LedgerNodeRow.__table__  # type: ignore[attr-defined]
CHECKPOINTS = LedgerCheckpointRow.__table__  # type: ignore[attr-defined]
PENDING = LedgerPendingRow.__table__  # type: ignore[attr-defined]

log = logging.getLogger(__name__)
T = TypeVar("T")
KEY_ACTIONS_SQL = "(" + ", ".join(f"'{a}'" for a in KEY_ACTIONS) + ")"
FOREIGN = "staged by another enrolled appliance"  # left for that appliance to flush
PG_LOCK_KEY = 0x6375_7374_6C65_6467  # "custledg": the advisory lock of the appender
FETCH_BATCH = 20_000


TIMELINE_COUNT_LIMIT = 100_000


@dataclass(frozen=True)
class Timeline:
    """A page of a timeline (:meth:`Ledger.timeline`): the entries' stored leaf bytes
    (RFC 8785 JSON of each entry), the timeline's length (None past the count limit)
    and the index to continue after (None on the last page)."""

    leaves: list[bytes]
    total: int | None
    next_after: int | None


@dataclass(frozen=True)
class Event:
    """One entry to append (see :meth:`Ledger.append_many`)."""

    action: str
    actor: str
    case: str | None = None
    evidence: str | None = None
    payload: Mapping[str, Any] | None = None


class Ledger:
    """The custody ledger of one database. Obtain it as ``ctx.ledger``."""

    def __init__(self, ctx: LedgerHost) -> None:
        self.ctx = ctx
        self.origin = ctx.settings.ledger_origin
        self.key_name = ctx.settings.ledger_key_name
        self._lock = threading.Lock()
        self._key: Any = None
        self._witnessed_in_tx = False
        self._signed_in_tx: tuple[str, int] | None = None
        self._replace_witness = False
        self._lock_file: Any = None
        self._trust_cache: tuple[str | None, int, TrustList] | None = None
        self._witness_cache: dict[Path, tuple[str, Checkpoint]] = {}
        self._opened: dict[tuple[str, int, int], Checkpoint] = {}
        self._witnesses: tuple[list[Path], Witnesses] | None = None

    @classmethod
    def open(cls, ctx: LedgerHost) -> Ledger:
        return cls(ctx)

    # --- engines --------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        return self.ctx.engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @cached_property
    def _write_engine(self) -> Engine:
        """SQLite: a separate engine whose transactions start with BEGIN IMMEDIATE."""
        if self.dialect != "sqlite":
            return self.engine
        engine = make_engine(self.ctx.settings.db_url)

        @event.listens_for(engine, "connect")
        def _autocommit_driver(dbapi_conn: Any, _record: Any) -> None:
            _tune_sqlite(dbapi_conn)
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    @cached_property
    def _hot_engine(self) -> Engine:
        """PostgreSQL: an engine without the pool's pre-ping for proofs and history.

        The pre-ping is a round trip per checkout, a third of a proof's time; a
        connection dropped meanwhile (server restart) is retried once instead
        (:meth:`_hot`; these reads are idempotent).
        """
        if self.dialect != "postgresql":
            return self.engine
        return create_engine(
            self.ctx.settings.db_url, pool_pre_ping=False, pool_size=2, max_overflow=4
        )

    def _hot(self, read: Callable[[Connection], T]) -> T:
        for attempt in range(2):
            try:
                with self._reading(self._hot_engine) as conn:
                    return read(conn)
            except DBAPIError as exc:
                if attempt or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def _reading(self, engine: Engine | None = None) -> Iterator[Connection]:
        """A pooled read connection; on SQLite tuned once for the ledger's random reads."""
        with (engine or self.engine).connect() as conn:
            if self.dialect == "sqlite":
                info = conn.connection.info
                if not info.get("custodyd_ledger_tuned"):
                    _tune_sqlite(conn.connection.dbapi_connection)
                    info["custodyd_ledger_tuned"] = True
            yield conn

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A transaction holding the ledger's single-writer lock, committed on exit.

        The newest checkpoint signed in it is written to the witnesses after the
        commit, still under this appliance's lock file (``$CUSTODYD_HOME/ledger.lock``):
        so another process of the same appliance never sees a committed checkpoint
        whose witness is not written yet (it would take it for a deleted witness).
        """
        with self._lock, self._appliance_lock():
            self._signed_in_tx = None
            with self._write_engine.begin() as conn:
                self._witnessed_in_tx = False  # the first signature checks the witnesses
                if self.dialect == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
                yield conn
            signed, self._signed_in_tx = self._signed_in_tx, None
            if signed is not None:
                self.witnesses.write(*signed, replace=self._replace_witness)
            self._replace_witness = False

    @contextmanager
    def _appliance_lock(self) -> Iterator[None]:
        if self._lock_file is None:
            home = self.ctx.settings.home
            home.mkdir(parents=True, exist_ok=True)
            self._lock_file = open(home / "ledger.lock", "a+")  # noqa: SIM115 (kept open)
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        for name in ("_write_engine", "_hot_engine"):
            engine = self.__dict__.get(name)
            if engine is not None and engine is not self.engine:
                engine.dispose()

    # --- keys and the trust list ------------------------------------------------

    @property
    def witnesses(self) -> Witnesses:
        dirs = self.ctx.settings.witnesses
        cached = self._witnesses
        if cached is None or cached[0] != dirs:  # asked twice for every append
            cached = self._witnesses = (dirs, Witnesses(dirs, self.origin))
        return cached[1]

    def local_key(self) -> Any:
        """This appliance's signing key, or None when it has none (never created here)."""
        if self._key is None:
            self._key = keys.load(keys.key_path(self.ctx.settings.key_dir))
        return self._key

    def local_verifier(self) -> Verifier | None:
        key = self.local_key()
        if key is None:
            return None
        return Verifier.parse(verifier_key(self.key_name, raw_public_key(key.public_key())))

    def public_key(self) -> str:
        """The C2SP verifier key (``name+hash+base64``) of this appliance's signing key."""
        verifier = self.local_verifier()
        if verifier is None:
            raise LedgerKeyMissing(
                "this appliance has no ledger signing key "
                f"({keys.key_path(self.ctx.settings.key_dir)}"
                " is missing); it is never created implicitly once the ledger has entries: "
                "run `custodyd ledger init-key` (see README, Security and integrity)"
            )
        return str(verifier)

    @property
    def verifier(self) -> Verifier:
        """The founding key (the trust anchor an outside verifier is given)."""
        founding = self.trust().founding
        if founding is None:
            return Verifier.parse(self.public_key())
        return founding

    def trust(self) -> TrustList:
        """The trust list as the database holds it now (founding key + key entries)."""
        with self._reading() as conn:
            return self._trust(conn)

    def _trust(self, conn: Connection) -> TrustList:
        row = _fetch_one(conn, "SELECT signer FROM ledger_checkpoints ORDER BY size LIMIT 1")
        founding_text = row[0] if row is not None else None
        if row is not None and founding_text is None:  # a ledger begun before signers were kept
            local = self.local_verifier()
            founding_text = str(local) if local else None
        cached = self._trust_cache
        size = _size(conn)
        if cached is None or cached[0] != founding_text or cached[1] > size:
            founding = Verifier.parse(founding_text) if founding_text else None
            cached = (founding_text, 0, TrustList(founding))
        scanned = cached[1]
        if size > scanned:
            cursor, p = _driver(conn)
            try:
                cursor.execute(
                    f"SELECT idx, leaf FROM ledger_entries WHERE action IN {KEY_ACTIONS_SQL} "
                    f"AND idx >= {p} ORDER BY idx",
                    (scanned,),
                )
                events = [key_event(int(r[0]), bytes(r[1])) for r in cursor.fetchall()]
            finally:
                cursor.close()
            cached[2].add(e for e in events if e is not None)
            cached = (cached[0], size, cached[2])
        self._trust_cache = cached
        return cached[2]

    def _signer(self, conn: Connection, trusted: TrustList, previous: int, empty: bool) -> Any:
        """The key to sign the next checkpoint with; never a new key on a non-empty ledger."""
        key_dir = self.ctx.settings.key_dir
        key = self.local_key()
        if key is None and empty:
            key = self._key = keys.create(keys.key_path(key_dir))  # the first entry ever
            log.warning("created the ledger signing key %s (first entry)", keys.key_path(key_dir))
        if key is None:
            raise self._refuse(
                LedgerKeyMissing,
                f"refusing to sign: no ledger signing key ({keys.key_path(key_dir)} is missing) "
                "while the ledger has entries; restore the key file, or run "
                "`custodyd ledger init-key` and enrol the new key (README, Security and integrity)",
            )
        if trusted.founding is None:
            return key
        for attempt in range(2):
            mine = self.local_verifier()
            assert mine is not None
            if trusted.is_trusted(mine, previous):
                return key
            if attempt == 0:  # rotated by another process meanwhile? read the files again
                self._promote_rotated(trusted, previous)
                self._key = None
                key = self.local_key()
                if key is None:
                    break
        raise self._refuse(
            LedgerKeyUntrusted,
            f"refusing to sign: this appliance's key {mine} is not in the ledger's trust list "
            "(not enrolled yet, removed, or rotated away); enrol it with "
            "`custodyd ledger enroll-key NAME PUBLIC_KEY` on an enrolled appliance",
        )

    def _promote_rotated(self, trusted: TrustList, previous: int) -> None:
        """A rotation that committed but died before its key file was promoted: finish it."""
        key_dir = self.ctx.settings.key_dir
        nxt = keys.load(keys.next_key_path(key_dir))
        if nxt is None:
            return
        vkey = Verifier.parse(verifier_key(self.key_name, raw_public_key(nxt.public_key())))
        if trusted.is_trusted(vkey, previous):
            keys.promote_next(key_dir)

    def _refuse(self, kind: type[LedgerIntegrityError], message: str, **extra: Any) -> Exception:
        """Log a refusal loudly (it is an incident, not a user error) and return it to raise."""
        log.critical("LEDGER REFUSES TO SIGN: %s", message)
        return kind(message, **extra)

    # --- appending --------------------------------------------------------------

    def append(
        self,
        action: str,
        *,
        actor: str,
        case: str | None = None,
        evidence: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> LedgerEntry:
        """Append one entry; durable (and covered by a signed checkpoint) on return."""
        return self.append_many([Event(action, actor, case, evidence, payload)])[0]

    def append_many(self, events: Sequence[Event]) -> list[LedgerEntry]:
        """Append a batch in one transaction with one checkpoint; all or nothing.

        Batches staged earlier (:meth:`stage`) and not yet flushed are appended
        first, in the same transaction, so the ledger's order stays causal.
        """
        if not events:
            return []
        _check_events(events)
        with self._writing() as conn:
            self._flush_in(conn)  # its checkpoints precede ours; the witness takes the newest
            entries, _, _ = self._append_in(conn, events)
        return entries

    def _append_in(
        self, conn: Connection, events: Sequence[Event]
    ) -> tuple[list[LedgerEntry], str, int]:
        """Write one batch's entries, nodes and checkpoint inside the open write transaction.

        Returns the entries, the checkpoint note and the new size; the caller writes
        the witness file only after the transaction committed.
        """
        size = _size(conn)
        try:
            stack = _peaks(conn, size)
        except LedgerIntegrityError as exc:  # the tree cannot be extended: refuse, loudly
            raise self._refuse(
                LedgerInconsistent, f"refusing to append: {exc.detail}", **exc.extra
            ) from exc
        entries: list[LedgerEntry] = []
        entry_rows: list[tuple[Any, ...]] = []
        node_rows: list[tuple[int, int, bytes]] = []
        now = format_time(self.ctx.clock.now())
        for offset, ev in enumerate(events):
            index = size + offset
            doc = entry_document(index, now, ev.actor, ev.action, ev.case, ev.evidence, ev.payload)
            leaf = canonical_json(doc)
            entry = LedgerEntry.from_document(doc, leaf)
            entries.append(entry)
            entry_rows.append((index, now, ev.actor, ev.action, ev.case, ev.evidence, leaf))
            _push(stack, (0, index, merkle.leaf_hash(leaf)), node_rows)
        _insert(conn, ENTRY_INSERT, entry_rows)
        _insert(conn, NODE_INSERT, node_rows)
        new_size = size + len(events)
        note = self._sign(conn, new_size, merkle.fold([h for _, _, h in stack]), size)
        return entries, note, new_size

    # --- the outbox (ledger_pending) ----------------------------------------------

    @cached_property
    def _mac_key(self) -> bytes:
        return keys.mac_key(self.ctx.settings.key_dir)

    def _mac(self, owner: str, created_at: str, events: Any) -> str:
        body = canonical_json({"owner": owner, "created_at": created_at, "events": events})
        return hmac.new(self._mac_key, b"custodyd-pending\n" + body, hashlib.sha256).hexdigest()

    def stage(self, session: Session, events: Sequence[Event]) -> None:
        """Stage ``events`` as one batch through the CALLER's session (the outbox).

        The row commits or rolls back with the caller's domain change; after the
        commit call :meth:`flush_pending` (a crash before that is repaired by the
        next :func:`~custodyd.daemon.context.open_context` or append). Payloads are
        made plain JSON here, so a value the ledger would refuse fails the caller's
        transaction instead of blocking the flush (and so every later append). The
        row carries this appliance's name and an HMAC under its pending-row key, so a
        row inserted by anyone else is refused, never signed.
        """
        if not events:
            return
        self.check_appendable()  # refused now: the caller's change rolls back with it
        now = format_time(self.ctx.clock.now())
        batch = []
        for ev in events:
            doc = entry_document(0, now, ev.actor, ev.action, ev.case, ev.evidence, ev.payload)
            canonical_json(doc)  # refuse now what the flush would refuse (it would block)
            batch.append({k: doc[k] for k in ("action", "actor", "case", "evidence", "payload")})
        session.execute(
            PENDING.insert().values(
                created_at=now,
                events=batch,
                owner=self.key_name,
                mac=self._mac(self.key_name, now, batch),
            )
        )

    def check_appendable(self) -> None:
        """Raise now what the next signature would refuse (fork, witness, key, forged row).

        A read-only pre-check (no write lock), so a domain change staged for the ledger
        is refused *before* it commits instead of committing and waiting in the outbox.
        The check at signing time (:meth:`_sign`) stays the authoritative one.
        """
        witnessed = self.witnesses.read()  # before the snapshot: never newer than it
        with self._reading() as conn, _snapshot(conn):  # one snapshot: appends go on
            trusted = self._trust(conn)
            size = _size(conn)
            last = _latest_checkpoint(conn)
            try:
                root = merkle.root_from_nodes(size, _reader(conn)) if size else merkle.EMPTY_ROOT
            except LedgerIntegrityError as exc:
                raise self._refuse(
                    LedgerInconsistent, f"refusing to append: {exc.detail}", **exc.extra
                ) from exc
            previous = None
            if last is not None:
                try:
                    previous = Checkpoint.parse(last[1].split("\n\n")[0] + "\n")
                except NoteError:
                    previous = None
            if previous is not None and (previous.size, previous.root) != (size, root):
                raise self._refuse(
                    LedgerInconsistent,
                    f"refusing to append: the database's last checkpoint (size {previous.size}) "
                    f"does not describe its {size} entries",
                )
            saved, self._witnessed_in_tx = self._witnessed_in_tx, False
            try:
                self._check_witnesses(conn, trusted, previous, size, root, witnessed)
            finally:
                self._witnessed_in_tx = saved
            bad = self.pending_problems(conn)
            if bad:
                raise self._refuse(
                    LedgerPendingRejected,
                    f"refusing to append: staged ledger_pending row {bad[0][0]}: {bad[0][1]}; "
                    "`custodyd ledger discard-pending ID --reason ...`",
                    pending_rows=[i for i, _ in bad],
                )
        mine = self.local_verifier()
        if mine is None:
            if size or last is not None:
                raise self._refuse(
                    LedgerKeyMissing,
                    f"refusing to append: no ledger signing key "
                    f"({keys.key_path(self.ctx.settings.key_dir)} is missing) while the ledger "
                    "has entries; restore it, or `custodyd ledger init-key` and enrol the key",
                )
        elif trusted.founding is not None and not trusted.is_trusted(mine, size):
            self._promote_rotated(trusted, size)
            self._key = None
            mine = self.local_verifier()
            if mine is None or not trusted.is_trusted(mine, size):
                raise self._refuse(
                    LedgerKeyUntrusted,
                    f"refusing to append: this appliance's key {mine} is not in the ledger's "
                    "trust list; enrol it with `custodyd ledger enroll-key NAME PUBLIC_KEY` on "
                    "an enrolled appliance",
                )

    def flush_pending(self) -> list[LedgerEntry]:
        """Append every staged batch (oldest first) and delete its row, in one transaction.

        Each batch gets its own checkpoint, exactly as :meth:`append_many` would. As
        the rows are deleted in the transaction that appends them, a batch lands
        exactly once whatever the moment the process dies. A forged or malformed row
        refuses the whole flush (:class:`LedgerPendingRejected`, naming it); the
        genuine rows stay staged until an administrator deals with it.
        """
        with self._writing() as conn:
            entries, _ = self._flush_in(conn)
        return entries

    def has_pending(self) -> bool:
        """Cheap: is any staged batch waiting (no key, no write lock)?"""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(PENDING.c.id).limit(1)).first() is not None

    def pending_problems(self, conn: Connection | None = None) -> list[tuple[int, str]]:
        """(row id, what is wrong) for every staged row that must not be signed."""
        if conn is None:
            with self._reading() as reading:
                return self.pending_problems(reading)
        names = {n for n, _ in self._trust(conn).ever_at(1 << 62)} | {self.key_name}
        bad = []
        for row in conn.execute(sa.select(PENDING).order_by(PENDING.c.id)).all():
            problem = self._row_problem(row, names, for_report=True)
            if problem is not None and problem != FOREIGN:
                bad.append((int(row.id), problem))
        return bad

    def _row_problem(self, row: Any, names: set[str], for_report: bool = False) -> str | None:
        """None if the row is ours and authentic; FOREIGN if another enrolled appliance's."""
        owner, mac = getattr(row, "owner", None), getattr(row, "mac", None)
        if not isinstance(owner, str) or not isinstance(mac, str):
            return "no appliance name or MAC (not staged by custodyd)"
        if owner != self.key_name:
            # only that appliance can sign it (and only if its MAC verifies there);
            # `ledger verify` reports rows of appliances the trust list never held
            return (
                FOREIGN
                if owner in names or not for_report
                else (f"staged by unknown appliance {owner[:40]!r}")
            )
        events, created_at = row.events, row.created_at
        try:
            expected = self._mac(owner, created_at, events)
        except (InvalidInput, TypeError, ValueError) as exc:
            return f"not well formed ({str(exc)[:80]})"
        if not hmac.compare_digest(expected, mac):
            return "MAC does not verify (forged or altered)"
        if not _well_formed(events):
            return "not well formed (events)"
        return None

    def _flush_in(self, conn: Connection) -> tuple[list[LedgerEntry], tuple[str, int] | None]:
        if _fetch_one(conn, "SELECT 1 FROM ledger_pending LIMIT 1") is None:
            return [], None  # the usual case, answered by the driver alone
        rows = conn.execute(sa.select(PENDING).order_by(PENDING.c.id)).all()
        if not rows:
            return [], None
        names = {n for n, _ in self._trust(conn).ever_at(1 << 62)} | {self.key_name}
        ours, bad = [], []
        for row in rows:
            problem = self._row_problem(row, names)
            if problem is None:
                ours.append(row)
            elif problem != FOREIGN:
                bad.append(f"row {row.id}: {problem}")
        if bad:
            raise self._refuse(
                LedgerPendingRejected,
                f"refusing to sign staged ledger_pending {'; '.join(bad[:5])}"
                f"{f' (and {len(bad) - 5} more)' if len(bad) > 5 else ''}; genuine staged "
                "entries wait; `custodyd ledger discard-pending ID --reason ...` records and "
                "removes the bad row(s)",
                pending_rows=[b.split(":")[0] for b in bad],
            )
        entries: list[LedgerEntry] = []
        witness: tuple[str, int] | None = None
        for row in ours:
            events = [Event(**ev) for ev in row.events]
            if events:
                _check_events(events)
                done, note, size = self._append_in(conn, events)
                entries.extend(done)
                witness = (note, size)
            conn.execute(PENDING.delete().where(PENDING.c.id == row.id))
        return entries, witness

    def discard_pending(self, ids: Sequence[int], *, actor: str, reason: str) -> LedgerEntry:
        """Remove refused staged rows, recording what they held in a ledger entry."""
        if not reason.strip():
            raise InvalidInput("a reason is required")
        with self._writing() as conn:
            problems = dict(self.pending_problems(conn))
            unknown = [i for i in ids if i not in problems]
            if unknown:
                raise InvalidInput(
                    f"ledger_pending row(s) {unknown} are not refused rows; only forged or "
                    "malformed rows can be discarded (genuine ones are flushed)"
                )
            rows = conn.execute(sa.select(PENDING).where(PENDING.c.id.in_(list(ids)))).all()
            record = [
                {
                    "id": int(r.id),
                    "problem": problems[int(r.id)],
                    "created_at": str(r.created_at)[:40],
                    "owner": None if r.owner is None else str(r.owner)[:80],
                    "content": _excerpt(r.events),
                }
                for r in rows
            ]
            conn.execute(PENDING.delete().where(PENDING.c.id.in_(list(ids))))
            entries, _, _ = self._append_in(
                conn,
                [
                    Event(
                        "ledger.pending_discarded",
                        actor,
                        payload={"reason": reason, "rows": record},
                    )
                ],
            )
        return entries[0]

    # --- checkpoints --------------------------------------------------------------

    def _sign(self, conn: Connection, size: int, root: bytes, before: int) -> str:
        """Sign a checkpoint for ``size``/``root`` (``before`` entries preceded this batch).

        Refuses (:class:`LedgerInconsistent`, logged loudly) unless the new tree is
        provably an extension of (1) the last checkpoint in the database, signed by a
        key the trust list held then, with no unsigned entries after it, and (2) the
        checkpoint held by every witness outside the database (RFC 9162 consistency
        proofs). A database restored from an older copy, or with rows deleted, never
        gets a signature.
        """
        trusted = self._trust(conn)
        last = _latest_checkpoint(conn)
        previous: Checkpoint | None = None
        if last is None:
            if before:
                raise self._refuse(
                    LedgerInconsistent,
                    f"refusing to sign: the database holds {before} ledger entries but no "
                    "signed checkpoint (inserted outside custodyd?)",
                    first_bad_index=0,
                )
        else:
            if last[0] != before:
                raise self._refuse(
                    LedgerInconsistent,
                    f"refusing to sign: entries {last[0]}..{before - 1} carry no signed "
                    f"checkpoint (the last one is of size {last[0]}): inserted outside custodyd?",
                    first_bad_index=min(last[0], before),
                )
            found = _fetch_one(
                conn, "SELECT max(size) FROM ledger_checkpoints WHERE size < {p}", (last[0],)
            )
            earlier = found[0] if found is not None else None
            try:
                previous = self._open_last(trusted, last[1], int(earlier or 0))
            except NoteError as exc:
                raise self._refuse(
                    LedgerInconsistent,
                    f"refusing to sign: the last checkpoint (size {last[0]}) does not verify "
                    f"against the ledger's trust list: {exc}",
                    bad_checkpoint=last[0],
                ) from exc
            if previous.size == size and previous.root == root:
                self._signed_in_tx = (last[1], size)
                return last[1]
            self._prove(
                conn, previous, size, root, f"the signed checkpoint of size {previous.size}"
            )
        self._check_witnesses(
            conn, trusted, previous, size, root, verified_note=last[1] if last else None
        )
        key = self._signer(conn, trusted, before, empty=last is None and before == 0)
        text = Checkpoint(self.origin, size, root).text()
        note = sign_note(text, self.key_name, key)
        signer = verifier_key(self.key_name, raw_public_key(key.public_key()))
        signed_at = format_time(self.ctx.clock.now())
        _insert(conn, CHECKPOINT_INSERT, [(size, root, note, signed_at, signer)])
        self._signed_in_tx = (note, size)  # witnessed once committed (_writing)
        # the next append opens this very note as "last": signed here, so known good
        self._opened[(note, len(trusted.events), before)] = Checkpoint(self.origin, size, root)
        return note

    def _prove(self, conn: Connection, old: Checkpoint, size: int, root: bytes, what: str) -> None:
        if old.size > size:
            raise self._refuse(
                LedgerInconsistent,
                f"refusing to sign size {size}: {what} covers {old.size} entries, the database "
                f"only {size} (restored from an older copy, or entries deleted)",
                first_bad_index=size,
            )
        try:
            proof = merkle.consistency_proof(old.size, size, _reader(conn))
            merkle.verify_consistency(old.size, size, old.root, root, proof)
        except (merkle.ProofError, KeyError, ValueError, LedgerIntegrityError) as exc:
            raise self._refuse(
                LedgerInconsistent,
                f"refusing to sign size {size}: not consistent with {what} "
                f"(a fork: the database is not an extension of it): {exc}",
                first_bad_index=old.size,
            ) from exc

    def _open_last(self, trusted: TrustList, note: str, earlier: int) -> Checkpoint:
        """Verify the database's last checkpoint (cached: usually the one signed last here).

        The cache key is the exact note text, the key events known and the size the
        rule looks at, so a changed note or trust list is verified afresh.
        """
        key = (note, len(trusted.events), earlier)
        hit = self._opened.get(key)
        if hit is not None:
            return hit
        cp, _ = trusted.open(note, self.origin, earlier)
        if len(self._opened) > 8:
            self._opened.clear()
        self._opened[key] = cp
        return cp

    def _check_witnesses(
        self,
        conn: Connection,
        trusted: TrustList,
        previous: Checkpoint | None,
        size: int,
        root: bytes,
        witnessed: list[Witnessed] | None = None,
        verified_note: str | None = None,
    ) -> None:
        if self._witnessed_in_tx:
            return  # proven for this transaction's first batch; later ones extend it (_prove)
        for found in self.witnesses.read() if witnessed is None else witnessed:
            what = f"the witness {found.path}"
            if found.note is None:
                if found.error or previous is not None:
                    raise self._refuse(
                        LedgerInconsistent,
                        f"refusing to sign: {what} is {found.error or 'missing'} while the "
                        f"ledger has {previous.size if previous else 0} entries; "
                        "`custodyd ledger rewitness --reason ...` after checking why",
                    )
                continue  # an empty ledger: nothing witnessed yet
            if verified_note is not None and found.note == verified_note:
                continue  # the last checkpoint itself: verified and proven just before
            try:
                claimed = note_size(found.note)
            except NoteError as exc:
                raise self._refuse(
                    LedgerInconsistent, f"refusing to sign: {what} is not a checkpoint: {exc}"
                ) from exc
            if claimed > size:
                raise self._refuse(
                    LedgerInconsistent,
                    f"refusing to sign size {size}: {what} covers {claimed} entries, the "
                    f"database only {size} (restored from an older copy, or entries deleted)",
                    first_bad_index=size,
                )
            cp = self._witnessed(found.path, found.note, trusted)
            if previous is not None and (cp.size, cp.root) == (previous.size, previous.root):
                continue  # proven together with the last checkpoint
            self._prove(conn, cp, size, root, f"{what} (size {cp.size})")
        self._witnessed_in_tx = True

    def _witnessed(self, path: Path, note: str, trusted: TrustList) -> Checkpoint:
        cached = self._witness_cache.get(path)
        if cached is not None and cached[0] == note:
            return cached[1]
        try:
            cp, _ = trusted.open(note, self.origin, note_size(note) or 1, ever=True)
        except NoteError as exc:
            raise self._refuse(
                LedgerInconsistent,
                f"refusing to sign: the witness {path} does not verify: {exc}",
            ) from exc
        self._witness_cache[path] = (note, cp)
        return cp

    def checkpoint(self) -> str:
        """The latest signed checkpoint note; signs a new one first if the tree grew."""
        with self._reading() as conn:
            latest = _latest_checkpoint(conn)
            size = _size(conn)
        if latest is not None and latest[0] == size:
            return latest[1]
        with self._writing() as conn:
            size = _size(conn)
            root = merkle.root_from_nodes(size, _reader(conn)) if size else merkle.EMPTY_ROOT
            note = self._sign(conn, size, root, size)
        return note

    # --- witnesses ------------------------------------------------------------------

    def witness(self) -> str | None:
        """The note of the first witness (None when missing)."""
        return self.witnesses.read()[0].note

    def checkpoint_covering(self, index: int) -> tuple[int, str]:
        """The first signed checkpoint whose tree contains entry ``index``: (size, note).

        Every append signs one, so this is the checkpoint of the batch that wrote the
        entry. It never changes afterwards, which is what makes a report of a fixed
        set of entries reproducible however much the ledger grows later.
        """
        query = (
            sa.select(CHECKPOINTS.c.size, CHECKPOINTS.c.note)
            .where(CHECKPOINTS.c.size > index)
            .order_by(CHECKPOINTS.c.size)
            .limit(1)
        )
        row = self._hot(lambda conn: conn.execute(query).first())
        if row is None:  # only a ledger written without checkpoints (never by us): sign one
            note = self.checkpoint()
            size = Checkpoint.parse(note.split("\n\n")[0] + "\n").size
            if size <= index:
                raise NotFound(f"ledger entry {index} does not exist")
            return size, note
        return int(row.size), str(row.note)

    def checkpoints(self) -> list[str]:
        with self._reading() as conn:
            rows = conn.execute(sa.select(CHECKPOINTS.c.note).order_by(CHECKPOINTS.c.size))
            return [r.note for r in rows]

    def root(self, size: int | None = None) -> bytes:
        def compute(conn: Connection) -> bytes:
            current = _size(conn)
            tree_size = current if size is None else size
            _check_size(tree_size, current)
            if not tree_size:
                return merkle.EMPTY_ROOT
            return merkle.root_from_nodes(tree_size, _reader(conn))

        return self._hot(compute)

    # --- reading ----------------------------------------------------------------

    def size(self) -> int:
        return self._hot(_size)

    def leaf(self, index: int) -> bytes:
        query = sa.select(ENTRIES.c.leaf).where(ENTRIES.c.idx == index)
        value = self._hot(lambda conn: conn.execute(query).scalar_one_or_none())
        if value is None:
            raise NotFound(f"ledger entry {index} does not exist")
        return bytes(value)

    def entry(self, index: int) -> LedgerEntry:
        return LedgerEntry.from_leaf(self.leaf(index))

    def history(self, evidence_id: str) -> list[LedgerEntry]:
        """Every entry about one evidence item, oldest first."""
        return self._select(ENTRIES.c.evidence_id == evidence_id)

    def case_history(self, case_ref: str) -> list[LedgerEntry]:
        """Every entry about one case (by case ref), oldest first."""
        return self._select(ENTRIES.c.case_ref == case_ref)

    def timeline(
        self,
        *,
        evidence_id: str | None = None,
        case_ref: str | None = None,
        after: int = -1,
        offset: int = 0,
        limit: int = 100,
        count_up_to: int = TIMELINE_COUNT_LIMIT,
    ) -> Timeline:
        """One page of the entries about an item (or a case), oldest first, from SQL.

        Keyset pagination on the leaf index: entries with ``index > after`` (then
        ``offset`` more skipped), at most ``limit``. Only the page's rows are read,
        as stored leaf bytes (the canonical JSON of each entry, never re-encoded);
        ``total`` counts the timeline's index entries up to ``count_up_to`` (None
        beyond), so no read ever loads a whole timeline.
        """
        column, key = (
            ("evidence_id", evidence_id) if evidence_id is not None else ("case_ref", case_ref)
        )
        if key is None:
            raise InvalidInput("a timeline is of an evidence item or of a case")

        with raw_cursor(self.engine) as (cursor, p):
            cursor.execute(
                f"SELECT idx, leaf FROM ledger_entries WHERE {column} = {p} AND idx > {p}"
                f" ORDER BY idx LIMIT {p} OFFSET {p}",
                (key, after, limit + 1, offset),
            )
            rows = cursor.fetchall()
            cursor.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM ledger_entries WHERE {column} = {p}"
                f" LIMIT {p}) AS t",
                (key, count_up_to + 1),
            )
            counted = int(cursor.fetchone()[0])
        more = len(rows) > limit
        rows = rows[:limit]
        return Timeline(
            leaves=[bytes(r[1]) for r in rows],
            total=counted if counted <= count_up_to else None,
            next_after=int(rows[-1][0]) if more else None,
        )

    def entries(self, start: int = 0, limit: int | None = None) -> list[LedgerEntry]:
        query = sa.select(ENTRIES.c.leaf).where(ENTRIES.c.idx >= start).order_by(ENTRIES.c.idx)
        if limit is not None:
            query = query.limit(limit)
        return self._hot(
            lambda conn: [LedgerEntry.from_leaf(bytes(r.leaf)) for r in conn.execute(query)]
        )

    def _select(self, where: Any) -> list[LedgerEntry]:
        query = sa.select(ENTRIES.c.leaf).where(where).order_by(ENTRIES.c.idx)
        return self._hot(
            lambda conn: [LedgerEntry.from_leaf(bytes(r.leaf)) for r in conn.execute(query)]
        )

    # --- proofs -------------------------------------------------------------------

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``tree_size`` entries."""

        def prove(conn: Connection) -> list[bytes]:
            size = _size(conn) if tree_size is None else tree_size
            if not 0 <= index < size:
                raise InvalidInput(f"entry {index} is not in a tree of size {size}")
            with _beyond_end(conn, size):
                return merkle.inclusion_proof(index, size, _reader(conn))

        return self._hot(prove)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from tree size ``first`` to ``second``."""

        def prove(conn: Connection) -> list[bytes]:
            size = _size(conn) if second is None else second
            if not 0 <= first <= size:
                raise InvalidInput(f"no consistency proof from size {first} to {size}")
            with _beyond_end(conn, size):
                return merkle.consistency_proof(first, size, _reader(conn))

        return self._hot(prove)

    # --- verification and export ----------------------------------------------------

    def verify(self, checkpoints: Sequence[tuple[str, str]] = ()) -> verify.VerifyReport:
        """Re-check the whole ledger; see :mod:`custodyd.daemon.ledger.verify`.

        Besides every entry, node and stored checkpoint (each signed by a key the
        trust list held then), the ledger must extend the checkpoint in every
        witness (missing ones fail while the ledger has entries) and each of
        ``checkpoints`` ((label, note) kept elsewhere). Staged rows that would be
        refused are reported too. Reads one consistent snapshot, so it can run while
        appends continue; the witnesses are read first (they can only be older).
        """
        witnessed = [
            (f"the witness {w.path}", w.note if not w.error else f"unreadable: {w.error}")
            for w in self.witnesses.read()
        ]
        with self._reading() as conn, _snapshot(conn):
            notes = [
                (int(r[0]), str(r[1]))
                for r in _stream(conn, "SELECT size, note FROM ledger_checkpoints ORDER BY size")
            ]
            founding = self._trust(conn).founding

            def stored(level: int) -> Iterable[tuple[int, bytes]]:
                sql = f"SELECT idx, hash FROM ledger_nodes WHERE level = {int(level)} ORDER BY idx"
                for idx, value in _stream(conn, sql):
                    yield idx, bytes(value)

            report = verify.run(
                _entry_rows(conn),
                notes,
                founding,
                self.origin,
                stored,
                witnesses=[*witnessed, *checkpoints],
            )
            pending = self.pending_problems(conn)
        failures = [
            f"ledger_pending row {row_id} is refused: {problem}" for row_id, problem in pending
        ]
        mine = self.local_verifier()
        if mine is None and report.size:
            failures.append(
                "this appliance has no ledger signing key "
                f"({keys.key_path(self.ctx.settings.key_dir)}"
                " is missing): appends are refused; restore the key file, or run "
                "`custodyd ledger init-key` and enrol the new key"
            )
        elif mine is not None and founding is not None:
            with self._reading() as conn:
                now = self._trust(conn)
            if not now.is_trusted(mine, 1 << 62):
                report.notes.append(
                    f"this appliance's key {mine} is not in the trust list: it cannot append "
                    "until enrolled (`custodyd ledger enroll-key` on an enrolled appliance)"
                )
        for failure in failures:
            report.problems.append(verify.Problem(None, failure))
        if failures:
            report.ok = False
            if report.message.endswith("all verified"):
                report.message = failures[0]
        return report

    def export_bundle(self) -> dict[str, Any]:
        """Everything a third party needs to verify offline (with the founding key).

        The trust list travels inside: its key entries are ledger entries, and the
        founding key is named (an outside verifier must get it independently).
        """
        checkpoint = self.checkpoint()
        with self._reading() as conn:
            notes = [
                str(r.note)
                for r in conn.execute(sa.select(CHECKPOINTS.c.note).order_by(CHECKPOINTS.c.size))
            ]
            entries = [
                LedgerEntry.from_leaf(leaf).to_dict(with_leaf=True)
                for _, leaf, _ in _entry_rows(conn)
            ]
            trusted = self._trust(conn)
        founding = str(trusted.founding) if trusted.founding else self.public_key()
        return {
            "format": "custodyd-ledger-bundle/1",
            "origin": self.origin,
            "public_key": founding,
            "founding_key": founding,
            "trust": trusted.to_dict(),
            "checkpoint": checkpoint,
            "checkpoints": notes,
            "entries": entries,
        }


# --- helpers on a connection ------------------------------------------------------

SQLITE_CACHE_KIB = 64 * 1024
SQLITE_MMAP_BYTES = 1 << 30


def _tune_sqlite(dbapi_conn: Any) -> None:
    """Proofs and history are a few dozen random B-tree probes: keep the interior pages
    in memory (64 MiB page cache) and read the file through mmap instead of one
    syscall per page (measured: p99 of a proof at 1M entries from ~6 to ~1 ms)."""
    dbapi_conn.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    dbapi_conn.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")


def _check_events(events: Sequence[Event]) -> None:
    for ev in events:
        if not ev.action or not ev.actor:
            raise InvalidInput("a ledger entry needs an action and an actor")


def _well_formed(events: Any) -> bool:
    if not isinstance(events, list):
        return False
    for ev in events:
        if not isinstance(ev, dict) or set(ev) != {
            "action",
            "actor",
            "case",
            "evidence",
            "payload",
        }:
            return False
        if not (isinstance(ev["action"], str) and ev["action"]):
            return False
        if not (isinstance(ev["actor"], str) and ev["actor"]):
            return False
        if not all(ev[k] is None or isinstance(ev[k], str) for k in ("case", "evidence")):
            return False
        if not (ev["payload"] is None or isinstance(ev["payload"], dict)):
            return False
    return True


def _excerpt(value: Any, limit: int = 2000) -> str:
    """What a refused row held, as bounded text for the record."""
    try:
        text = canonical_json(value).decode()
    except (InvalidInput, TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _size(conn: Connection) -> int:
    top = conn.exec_driver_sql("SELECT max(idx) FROM ledger_entries").scalar()
    return 0 if top is None else int(top) + 1


# The statements only an append runs, for every batch, go straight to the driver on
# the write transaction's own connection: through SQLAlchemy's statement machinery
# each cost ~0.1 ms of CPU, a dozen of them a batch, more than the rest of a group
# commit's Python work. ``{p}`` is the driver's placeholder (sqlite3 ``?``, psycopg
# ``%s``). Statements shared with the read paths (``_size``, the node reader) stay on
# SQLAlchemy, whose error translation the PostgreSQL reads' reconnect relies on (a
# driver error on the write connection still rolls back and discards it).
ENTRY_INSERT = (
    "INSERT INTO ledger_entries (idx, time, actor, action, case_ref, evidence_id, leaf)"
    " VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})"
)
NODE_INSERT = "INSERT INTO ledger_nodes (level, idx, hash) VALUES ({p}, {p}, {p})"
CHECKPOINT_INSERT = (
    "INSERT INTO ledger_checkpoints (size, root, note, signed_at, signer)"
    " VALUES ({p}, {p}, {p}, {p}, {p})"
)


def _driver(conn: Connection) -> tuple[Any, str]:
    """A DBAPI cursor on ``conn``'s connection (inside its transaction) and the placeholder."""
    raw: Any = conn.connection.dbapi_connection
    return raw.cursor(), "?" if conn.dialect.name == "sqlite" else "%s"


def _fetch_one(conn: Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    cursor, p = _driver(conn)
    try:
        cursor.execute(sql.format(p=p) if params else sql, tuple(params))
        return cursor.fetchone()
    finally:
        cursor.close()


def _insert(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    cursor, p = _driver(conn)
    try:
        cursor.executemany(sql.format(p=p), rows)
    finally:
        cursor.close()


@contextmanager
def _beyond_end(conn: Connection, size: int) -> Iterator[None]:
    """Nodes of a tree larger than the ledger are missing: say so as bad input.

    Proofs for an explicit size skip counting the entries (one query less on
    the hot path); only when nodes are missing is the size checked.
    """
    try:
        yield
    except LedgerIntegrityError:
        _check_size(size, _size(conn))
        raise


def _check_size(size: int, current: int) -> None:
    if not 0 <= size <= current:
        raise InvalidInput(f"tree size {size} is beyond the ledger's {current} entries")


def _reader(conn: Connection) -> merkle.NodeReader:
    def read(ids: set[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
        if not ids:
            return {}
        # OR of (level, idx) pairs: both engines answer it with one index probe per pair
        # (SQLite does not use the key for a row-value IN list). The values are ints
        # formatted here, so the text is safe, and building it is ~50x cheaper than
        # an SQLAlchemy expression (proofs must stay well under 5 ms).
        where = " OR ".join(f"(level = {int(lv)} AND idx = {int(i)})" for lv, i in sorted(ids))
        query = f"SELECT level, idx, hash FROM ledger_nodes WHERE {where}"
        rows = conn.exec_driver_sql(query)
        found = {(int(r[0]), int(r[1])): bytes(r[2]) for r in rows}
        missing = ids - found.keys()
        if missing:
            raise LedgerIntegrityError(
                f"stored tree nodes missing: {sorted(missing)[:5]}",
                first_bad_index=min(i << lv for lv, i in missing),
            )
        return found

    return read


def _peaks(conn: Connection, size: int) -> list[tuple[int, int, bytes]]:
    ids = merkle.peaks(size)
    nodes = _reader(conn)(set(ids))
    return [(lv, i, nodes[(lv, i)]) for lv, i in ids]


def _push(
    stack: list[tuple[int, int, bytes]],
    node: tuple[int, int, bytes],
    rows: list[tuple[int, int, bytes]],
) -> None:
    """Add a leaf to the right border, recording every subtree it completes
    (rows of ``(level, idx, hash)``)."""
    rows.append(node)
    stack.append(node)
    while len(stack) >= 2 and stack[-1][0] == stack[-2][0]:
        right = stack.pop()
        left = stack.pop()
        parent = (right[0] + 1, right[1] >> 1, merkle.node_hash(left[2], right[2]))
        rows.append(parent)
        stack.append(parent)


def _latest_checkpoint(conn: Connection) -> tuple[int, str] | None:
    row = _fetch_one(conn, "SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
    return None if row is None else (int(row[0]), str(row[1]))


def _entry_rows(conn: Connection) -> Iterator[verify.EntryRow]:
    sql = (
        "SELECT idx, leaf, time, actor, action, case_ref, evidence_id "
        "FROM ledger_entries ORDER BY idx"
    )
    for idx, leaf, *fields in _stream(conn, sql):  # fields in verify.COLUMN_FIELDS order
        yield idx, bytes(leaf), tuple(fields)


@contextmanager
def _snapshot(conn: Connection) -> Iterator[None]:
    """One read snapshot for several queries (SQLite: a read transaction; PG: repeatable read)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield
        return
    raw: Any = conn.connection.dbapi_connection
    if raw.in_transaction:
        yield
        return
    raw.execute("BEGIN")
    try:
        yield
    finally:
        raw.rollback()


def _stream(conn: Connection, sql: str) -> Iterator[Any]:
    """Rows straight from the driver in batches (server-side cursor on PostgreSQL).

    Full verification reads millions of rows; the driver's tuples are several
    times cheaper than SQLAlchemy rows and keep memory bounded.
    """
    raw: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        if not raw.info.transaction_status:  # idle: a named cursor needs a transaction
            conn.exec_driver_sql("SELECT 1")
        cursor = raw.cursor(name=f"custodyd_ledger_{next(_cursor_ids)}")
        cursor.itersize = FETCH_BATCH
    else:
        cursor = raw.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(FETCH_BATCH):
            yield from rows
    finally:
        cursor.close()


_cursor_ids = itertools.count()
