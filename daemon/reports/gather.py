"""Gather a :class:`~custodyd.daemon.reports.records.Report` from the domain's records.

**The state a report covers.** An evidence report covers the item's custody
timeline, ``ledger.history(evidence_id)``: every entry whose ``evidence`` is the
item. A case report covers ``ledger.case_history(ref)``. Every proof is checked
against the *first* signed checkpoint containing the newest of those entries
(:meth:`Ledger.checkpoint_covering`), and the report's time (and the PDF's
creation date) is that entry's time. Reads, exports and issued reports are
recorded with the item named in their *payload* (see
:mod:`custodyd.daemon.auth.audit`), so they never enter these timelines: issuing
a report, or anybody reading anything, leaves the next render byte-identical.
Only a new custody event (a transfer, a verification, an order step...) changes
the state, and with it the report.

Everything shown comes from the records the API serves: the manifest
(:func:`~custodyd.daemon.acquisition.get_manifest`), the ledger entries, and
the orders as :func:`~custodyd.daemon.orders.lifecycle.order_view` describes
them. An order's "in force" is judged at the report's time, not at printing,
so the same state always reads the same. Confidential orders follow the orders
service's need-to-know (``knowable_orders``, ``redaction.timeline_for``): a
reader not entitled to one reads only that the item is held under a
confidential order, and its timeline entries as that notice (proofs intact).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from custodyd.daemon.acquisition import get_manifest, tool_version
from custodyd.daemon.auth.casework import visible_case
from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.auth.visibility import visible_evidence_case
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import NotFound
from custodyd.daemon.imaging.piecewise import window_range
from custodyd.daemon.ledger import LedgerEntry
from custodyd.daemon.ledger.note import Checkpoint
from custodyd.daemon.models import Case, Evidence, PreservationOrder
from custodyd.daemon.orders.confidentiality import HELD_NOTICE
from custodyd.daemon.orders.lifecycle import (
    in_force,
    knowable_orders,
    order_view,
    orders_covering,
)
from custodyd.daemon.orders.redaction import timeline_for
from custodyd.daemon.reports.records import (
    CaseInfo,
    Digest,
    Filesystem,
    ImageFile,
    Item,
    OrderRecord,
    Partition,
    PieceRow,
    ProvenEntry,
    ReadErrorRow,
    Report,
    SignedCheckpoint,
    SourceIdentity,
    Verification,
)

DETAIL_LIMIT = 240  # characters per payload value in the timeline; the leaf has them all


@dataclass(frozen=True)
class _FixedClock:
    """The report's own time, for everything that is judged "as of now"."""

    at: datetime

    def now(self) -> datetime:
        return self.at


def evidence_report(ctx: AppContext, principal: Principal, evidence_id: str) -> Report:
    """The report of one item as ``principal`` may see it; 404 when it may not."""
    with ctx.session() as session:
        ref = visible_evidence_case(session, principal, evidence_id)
    entries = ctx.ledger.history(evidence_id)
    if not entries:
        raise NotFound(f"evidence {evidence_id!r} has no ledger entries yet", evidence=evidence_id)
    as_of = entries[-1].timestamp
    with ctx.session() as session:
        case = _case_info(session, ref)
        item = _item(ctx, session, principal, evidence_id, entries, as_of)
    return _report(ctx, principal, "evidence", evidence_id, case, [item], entries)


def case_report(ctx: AppContext, principal: Principal, ref: str) -> Report:
    """The report of a whole case: every item that has entered its ledger timeline."""
    with ctx.session() as session:
        visible_case(session, principal, ref)
    entries = ctx.ledger.case_history(ref)
    if not entries:
        raise NotFound(f"case {ref!r} has no ledger entries yet", case=ref)
    as_of = entries[-1].timestamp
    ids = list(dict.fromkeys(e.evidence for e in entries if e.evidence is not None))
    with ctx.session() as session:
        case = _case_info(session, ref)
        items = [
            _item(ctx, session, principal, eid, [e for e in entries if e.evidence == eid], as_of)
            for eid in ids
            if _in_case(session, eid, ref)
        ]
    return _report(ctx, principal, "case", ref, case, items, entries)


def _report(
    ctx: AppContext,
    principal: Principal,
    kind: Any,
    subject: str,
    case: CaseInfo,
    items: list[Item],
    entries: Sequence[LedgerEntry],
) -> Report:
    last = entries[-1]
    size, note = ctx.ledger.checkpoint_covering(last.index)
    with ctx.session() as session:  # entries about orders the reader may not know: a notice
        visible = timeline_for(session, principal, [e.to_dict() for e in entries])
    body = Checkpoint.parse(note.split("\n\n")[0] + "\n")
    return Report(
        kind=kind,
        subject=subject,
        case=case,
        items=items,
        timeline=[_prove(ctx, e, shown, size) for e, shown in zip(entries, visible, strict=True)],
        checkpoint=SignedCheckpoint(
            origin=body.origin,
            size=size,
            root_hex=body.root.hex(),
            note=note,
            public_key=ctx.ledger.public_key(),
        ),
        as_of=last.time,
        last_index=last.index,
        generator=f"custodyd {tool_version()}",
    )


def _case_info(session: Session, ref: str) -> CaseInfo:
    from custodyd.daemon.cases import get_case

    case = get_case(session, ref)
    created = case.created_at.isoformat() if case.created_at else None
    return CaseInfo(ref=case.ref, title=case.title, created_at=created)


def _in_case(session: Session, evidence_id: str, ref: str) -> bool:
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        return False
    case = session.get(Case, evidence.case_id)
    return case is not None and case.ref == ref


def _prove(ctx: AppContext, entry: LedgerEntry, shown: dict[str, Any], size: int) -> ProvenEntry:
    """The entry as the reader may see it, with the proof of the real leaf.

    An entry about a confidential order the reader may not know is shown as the
    orders service shows it (:func:`~custodyd.daemon.orders.redaction.timeline_for`):
    its leaf bytes are withheld, its leaf hash and proof are not (they prove the
    entry is there without telling what it says).
    """
    redacted = shown["action"] != entry.action or shown["payload"] != entry.payload
    return ProvenEntry(
        index=entry.index,
        time=shown["time"],
        actor=shown["actor"],
        action=shown["action"],
        case=shown.get("case"),
        evidence=shown.get("evidence"),
        payload=shown["payload"],
        details=details(shown["payload"]),
        leaf="" if redacted else entry.leaf.decode("utf-8"),
        leaf_hash=entry.leaf_hash.hex(),
        proof=[h.hex() for h in ctx.ledger.inclusion_proof(entry.index, size)],
    )


def details(payload: dict[str, Any]) -> str:
    """``key: value; ...`` for people (nested values as compact JSON, long ones cut)."""
    parts = []
    for key in sorted(payload):
        value = payload[key]
        if value is None or value == [] or value == {}:
            continue
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        if len(text) > DETAIL_LIMIT:
            text = text[: DETAIL_LIMIT - 1] + "\u2026"
        parts.append(f"{key}: {text}")
    return "; ".join(parts)


# --- one item -------------------------------------------------------------------------


def _item(
    ctx: AppContext,
    session: Session,
    principal: Principal,
    evidence_id: str,
    entries: Sequence[LedgerEntry],
    as_of: datetime,
) -> Item:
    manifest = get_manifest(ctx, evidence_id)
    sealed_sha256 = _last_payload(entries, "evidence.sealed", "manifest_sha256")
    store = None
    evidence = session.get(Evidence, evidence_id)
    if evidence is not None and evidence.image_path.startswith("s3://"):
        from custodyd.daemon.reports.stored import from_store

        manifest, store = from_store(evidence.image_path, manifest, sealed_sha256)
    covering = orders_covering(session, evidence_id)
    orders = knowable_orders(session, principal, covering)
    hidden = [o for o in covering if o not in orders]
    records = [_order(session, order, as_of) for order in orders]
    return Item(
        evidence_id=evidence_id,
        case=str(manifest.get("case")),
        status=str(manifest.get("status")),
        examiner=manifest.get("examiner"),
        acquired_by=manifest.get("actor"),
        notes=manifest.get("notes"),
        source=_source(manifest),
        started_at=manifest.get("started_at"),
        finished_at=manifest.get("finished_at"),
        seconds=manifest.get("seconds"),
        rate_bps=manifest.get("rate_bps"),
        bytes=manifest.get("bytes"),
        image=_image(manifest),
        hashes=_hashes(manifest.get("hashes") or {}),
        manifest_sha256=sealed_sha256,
        piecewise_window=(manifest.get("piecewise") or {}).get("window"),
        piecewise=_pieces(manifest),
        read_errors=[ReadErrorRow(**_known(ReadErrorRow, r)) for r in _rows(manifest)],
        read_error_bytes=int(manifest.get("read_error_bytes") or 0),
        verified_at_acquisition=manifest.get("verified"),
        verifications=_verifications(entries),
        volume_system=(manifest.get("inventory") or {}).get("volume_system"),
        partitions=[Partition(**_known(Partition, p)) for p in _inventory(manifest, "partitions")],
        filesystems=[
            Filesystem(**_known(Filesystem, f)) for f in _inventory(manifest, "filesystems")
        ],
        inventory_notes=[str(n) for n in _inventory(manifest, "notes")],
        orders=records,
        retained_until=_retained_until(records),
        hold=any(r.hold for r in records),
        held_notice=HELD_NOTICE if any(in_force(o, as_of.date()) for o in hidden) else None,
        tool=_tool(manifest),
        store=store,
    )


def _order(session: Session, order: PreservationOrder, as_of: datetime) -> OrderRecord:
    view = order_view(session, order, _FixedClock(as_of))
    return OrderRecord(
        id=view.id,
        ref=view.ref,
        regime=view.regime,
        status=view.status,
        issued_on=view.issued_on,
        received_on=view.received_on,
        effected_on=view.effected_on,
        expires_on=view.expires_on,
        expiry_rule=view.expiry_rule,
        in_force=view.in_force,
        hold=view.hold,
        confidential=view.confidential,
        whole_case=view.whole_case,
        authority=view.authority,
        offence=view.offence,
    )


def _retained_until(records: Sequence[OrderRecord]) -> str | None:
    """The latest expiry among the orders in force (ISO dates sort as text)."""
    dates = [r.expires_on for r in records if r.in_force and not r.hold]
    return max(dates) if dates else None


def _source(manifest: dict[str, Any]) -> SourceIdentity:
    source = dict(manifest.get("source") or {})
    medium = dict(manifest.get("medium") or {})
    chain = medium.get("usb_chain") or []
    return SourceIdentity(
        path=source.get("path"),
        device=source.get("device"),
        is_device=source.get("is_device"),
        vendor=medium.get("vendor"),
        model=source.get("model") or medium.get("model"),
        serial=source.get("serial") or medium.get("serial"),
        wwn=medium.get("wwn"),
        bus=medium.get("bus"),
        usb_bridge=medium.get("usb_id") or (chain[-1] if chain else None),
        usb_chain=[str(c) for c in chain],
        write_block=medium.get("write_block"),
        write_block_reason=medium.get("write_block_reason"),
        size=source.get("size"),
        logical_sector_size=source.get("logical_sector_size"),
        physical_sector_size=source.get("physical_sector_size"),
    )


def _image(manifest: dict[str, Any]) -> ImageFile:
    raw = manifest.get("image")
    info: dict[str, Any] = raw if isinstance(raw, dict) else {}
    fields = _known(ImageFile, info)
    fields["segments"] = [str(Path(s).name) for s in info.get("segments") or []]
    fields["format"] = manifest.get("format") or info.get("format")
    fields["path"] = manifest.get("image_path")
    return ImageFile(**fields)


def _hashes(hashes: dict[str, Any]) -> list[Digest]:
    order = sorted(hashes, key=lambda name: (name != "blake3", name))
    return [Digest(algorithm=name, hex=str(hashes[name])) for name in order]


def _pieces(manifest: dict[str, Any]) -> list[PieceRow]:
    piecewise = manifest.get("piecewise") or {}
    window = int(piecewise.get("window") or 0)
    size = int(manifest.get("bytes") or 0)
    rows = []
    for index, digest in enumerate(piecewise.get("digests") or []):
        offset, length = window_range(window, index, size)
        rows.append(PieceRow(index=index, offset=offset, length=length, blake3=str(digest)))
    return rows


def _verifications(entries: Sequence[LedgerEntry]) -> list[Verification]:
    out = []
    for e in entries:
        if e.action == "evidence.verified":
            kind = "acquisition" if e.payload.get("pass") == "acquisition" else "re-verification"
            match = e.payload.get("match")
        elif e.action == "evidence.fixity_mismatch":
            kind, match = "scheduled fixity check", False
        else:
            continue
        out.append(
            Verification(
                index=e.index,
                time=e.time,
                actor=e.actor,
                match=match if isinstance(match, bool) else None,
                kind=kind,
            )
        )
    return out


def _last_payload(entries: Sequence[LedgerEntry], action: str, key: str) -> str | None:
    for e in reversed(entries):
        if e.action == action and isinstance(e.payload.get(key), str):
            return str(e.payload[key])
    return None


def _rows(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in manifest.get("read_errors") or [] if isinstance(r, dict)]


def _inventory(manifest: dict[str, Any], key: str) -> list[Any]:
    inventory = manifest.get("inventory") or {}
    return list(inventory.get(key) or []) if isinstance(inventory, dict) else []


def _known(model: Any, row: Any) -> dict[str, Any]:
    fields = model.model_fields
    return {k: v for k, v in row.items() if k in fields} if isinstance(row, dict) else {}


def _tool(manifest: dict[str, Any]) -> str | None:
    tool = manifest.get("tool")
    if isinstance(tool, dict):
        return f"{tool.get('name', '?')} {tool.get('version', '?')}"
    return None
