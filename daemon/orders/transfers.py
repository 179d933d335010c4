"""Transfers of personal data to (or from) another authority.

A transfer records the recipient, the purpose, the consented period, the deadline
by which the data are returned or destroyed, and whether onward sharing with a
third party has prior written consent. Items may be transferred whole or in part
(``part`` describes which: e.g. the traffic data identifying another provider,
§2); each included item gets ``transfer.created`` and, when outgoing,
``evidence.released`` in the ledger. Later steps: the recipient's report of use
(``transfer.reported``), a consented extension (``transfer.extended``; asked in
advance, so refused once the deadline has passed), consent to onward sharing
with one **named** third party (``transfer.consent_recorded``), a release to a
third party (``transfer.third_party_release``; refused with
:class:`ReleaseRefused` unless that party's prior written consent is recorded)
and the closing return or destruction (``transfer.returned`` /
``transfer.destroyed``). The deadline gets the same alerts as an order's expiry.

Personal data **received** (an incoming transfer, consolidated text art. 57)
are really returned or destroyed when the transfer is closed: every item held
under it goes through the ordinary disposition (refused while an order stands),
and the disposition records name the transfer. While such a transfer is open,
its items are handed over (custody transfer, outgoing transfer) only to a party
the sender consented to, or back to the sender (:func:`assert_may_hand_over`).
``recipient`` names the other party: the receiving authority of an outgoing
transfer, the sending authority of an incoming one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, col, select

from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.cases import get_case
from custodyd.daemon.clock import Clock, utc
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import Conflict, InvalidInput, NotFound, ReleaseRefused
from custodyd.daemon.models import (
    Case,
    Evidence,
    ThirdPartyRelease,
    Transfer,
    TransferConsent,
    TransferItem,
)
from custodyd.daemon.orders.access import can_see, only_visible
from custodyd.daemon.orders.lifecycle import case_ref_of
from custodyd.daemon.orders.records import audited_page, record_access, recorded_step, today
from custodyd.daemon.orders.states import Closing, Direction, DisposalMethod, TransferStatus
from custodyd.daemon.orders.views import (
    ClosingDisposal,
    ConsentView,
    ThirdPartyReleaseView,
    TransferItemView,
    TransferView,
)


@dataclass
class TransferRequest:
    recipient: str
    purpose: str
    consented_days: int
    items: Sequence[tuple[str, str | None]]  # (evidence id, part or None for the whole item)
    transferred_on: date | None = None
    deadline: date | None = None
    case_ref: str | None = None
    ref: str | None = None
    direction: str = "outgoing"
    third_party_consent: bool = False
    consent_ref: str | None = None
    lead_days: list[int] | None = None
    alert_to: list[str] = field(default_factory=list)


def get_transfer(session: Session, transfer_id: int) -> Transfer:
    if not 1 <= transfer_id < 2**63:
        raise NotFound(f"no transfer {transfer_id}")
    transfer = session.get(Transfer, transfer_id)
    if transfer is None:
        raise NotFound(f"no transfer {transfer_id}", transfer=transfer_id)
    return transfer


def transfer_view(session: Session, transfer: Transfer, clock: Clock) -> TransferView:
    assert transfer.id is not None
    items = [
        TransferItemView(evidence_id=i.evidence_id, part=i.part)
        for i in session.exec(select(TransferItem).where(TransferItem.transfer_id == transfer.id))
    ]
    consents = session.exec(
        select(TransferConsent)
        .where(TransferConsent.transfer_id == transfer.id)
        .order_by(col(TransferConsent.id))
    )
    releases = session.exec(
        select(ThirdPartyRelease).where(ThirdPartyRelease.transfer_id == transfer.id)
    )
    return TransferView(
        id=transfer.id,
        ref=transfer.ref,
        direction=Direction(transfer.direction),
        case_id=transfer.case_id,
        recipient=transfer.recipient,
        purpose=transfer.purpose,
        transferred_on=transfer.transferred_on.isoformat(),
        consented_days=transfer.consented_days,
        deadline=transfer.deadline.isoformat(),
        third_party_consent=transfer.third_party_consent,
        consent_ref=transfer.consent_ref,
        status=TransferStatus(transfer.status),
        use_report=transfer.use_report,
        reported_at=utc(transfer.reported_at).isoformat() if transfer.reported_at else None,
        closed_at=utc(transfer.closed_at).isoformat() if transfer.closed_at else None,
        lead_days=transfer.lead_days,
        alert_to=transfer.alert_to,
        entered_by=transfer.entered_by,
        entered_at=utc(transfer.entered_at).isoformat(),
        days_left=(transfer.deadline - today(clock)).days,
        case=case_ref_of(session, transfer.case_id),
        items=items,
        evidence=sorted({i.evidence_id for i in items}),
        consents=[
            ConsentView(
                third_party=c.third_party,
                consent_ref=c.consent_ref,
                recorded_by=c.recorded_by,
                recorded_at=utc(c.recorded_at).isoformat(),
            )
            for c in consents
        ],
        third_party_releases=[
            ThirdPartyReleaseView(
                third_party=r.third_party,
                part=r.part,
                consent_ref=r.consent_ref,
                released_by=r.released_by,
                released_at=utc(r.released_at).isoformat(),
            )
            for r in releases
        ],
    )


def _payload(transfer: Transfer, **extra: Any) -> dict[str, Any]:
    return {
        "transfer_id": transfer.id,
        "transfer_ref": transfer.ref,
        "direction": transfer.direction,
        "recipient": transfer.recipient,
        "deadline": transfer.deadline.isoformat(),
        **extra,
    }


def create_transfer(ctx: AppContext, request: TransferRequest, *, actor: str) -> TransferView:
    if request.direction not in tuple(Direction):
        raise InvalidInput(f"direction must be outgoing or incoming, not {request.direction!r}")
    if not request.recipient.strip() or not request.purpose.strip():
        raise InvalidInput("a transfer needs a recipient and a purpose")
    if request.consented_days <= 0:
        raise InvalidInput("the consented period must be at least one day")
    if not request.items:
        raise InvalidInput("a transfer includes at least one evidence item", field="evidence")
    now_day = today(ctx.clock)
    sent_on = request.transferred_on or now_day
    if sent_on > now_day:
        raise InvalidInput(f"transfer date {sent_on} is in the future")
    deadline = request.deadline or sent_on + timedelta(days=request.consented_days)
    if deadline > sent_on + timedelta(days=request.consented_days):
        raise InvalidInput("the deadline lies beyond the consented period")
    if request.third_party_consent and not request.consent_ref:
        raise InvalidInput(
            "third-party consent must name the written consent document", field="consent_ref"
        )
    with ctx.session() as session:
        case_ids = set()
        for evidence_id, _part in request.items:
            item = session.get(Evidence, evidence_id)
            if item is None:
                raise NotFound(f"no evidence item {evidence_id!r}", evidence=evidence_id)
            if item.status == "disposed":
                raise Conflict(f"evidence {evidence_id} was already disposed of")
            if request.direction == Direction.OUTGOING:
                assert_may_hand_over(session, evidence_id, request.recipient)
            case_ids.add(item.case_id)
        if request.case_ref is not None:
            case_id = get_case(session, request.case_ref).id
            if case_ids - {case_id}:
                raise InvalidInput(f"not every item belongs to case {request.case_ref!r}")
        elif len(case_ids) == 1:
            case_id = case_ids.pop()
        else:
            raise InvalidInput("the items belong to different cases; one transfer each")
        assert case_id is not None
        transfer = Transfer(
            ref=request.ref,
            direction=request.direction,
            case_id=case_id,
            recipient=request.recipient.strip(),
            purpose=request.purpose.strip(),
            transferred_on=sent_on,
            consented_days=request.consented_days,
            deadline=deadline,
            third_party_consent=request.third_party_consent,
            consent_ref=request.consent_ref,
            status=TransferStatus.OPEN,
            lead_days=sorted(set(request.lead_days), reverse=True)
            if request.lead_days is not None
            else None,
            alert_to=list(request.alert_to) or None,
            entered_by=actor,
            entered_at=ctx.clock.now(),
        )
        session.add(transfer)
        session.flush()
        assert transfer.id is not None
        for evidence_id, part in request.items:
            session.add(TransferItem(transfer_id=transfer.id, evidence_id=evidence_id, part=part))
        session.flush()
        result = transfer_view(session, transfer, ctx.clock)
        from custodyd.daemon.ledger.service import Event

        events = []
        for entry in result.items:
            payload = _payload(transfer, part=entry.part, purpose=transfer.purpose)
            events.append(Event("transfer.created", actor, result.case, entry.evidence_id, payload))
            if transfer.direction == Direction.OUTGOING:
                events.append(
                    Event("evidence.released", actor, result.case, entry.evidence_id, payload)
                )
        ctx.ledger.stage(session, events)
    ctx.ledger.flush_pending()
    return result


def _open(session: Session, transfer_id: int, doing: str) -> Transfer:
    transfer = get_transfer(session, transfer_id)
    if transfer.status != TransferStatus.OPEN:
        raise Conflict(
            f"transfer {transfer_id} is closed ({transfer.status}); cannot {doing}",
            transfer=transfer_id,
        )
    return transfer


Change = Callable[[Session, Transfer], dict[str, Any]]


def _step(
    ctx: AppContext, transfer_id: int, action: str, actor: str, change: Change, doing: str
) -> TransferView:
    """Apply ``change`` to the transfer (open, unless ``doing`` is empty) and record ``action``."""

    def load(session: Session) -> Transfer:
        if doing:
            return _open(session, transfer_id, doing)
        return get_transfer(session, transfer_id)

    return recorded_step(
        ctx,
        action,
        actor=actor,
        load=load,
        change=change,
        view=lambda session, transfer: transfer_view(session, transfer, ctx.clock),
        payload=lambda transfer, added: _payload(transfer, **added),
    )


def report_use(ctx: AppContext, transfer_id: int, report: str, *, actor: str) -> TransferView:
    """The recipient's report of how the data were used (the sender may ask, §4)."""
    if not report.strip():
        raise InvalidInput("the report of use is empty")

    def change(_s: Session, t: Transfer) -> dict[str, Any]:
        t.use_report = report
        t.reported_at = ctx.clock.now()
        return {"report": report}

    return _step(ctx, transfer_id, "transfer.reported", actor, change, "")


def extend(
    ctx: AppContext, transfer_id: int, days: int, *, consent_ref: str, actor: str
) -> TransferView:
    """More time, consented in advance by the sender: the deadline moves by ``days``."""
    if days <= 0:
        raise InvalidInput("an extension is at least one day")
    if not consent_ref.strip():
        raise InvalidInput("an extension needs the sender's consent reference")

    def change(_s: Session, t: Transfer) -> dict[str, Any]:
        on = today(ctx.clock)
        if on > t.deadline:
            raise Conflict(
                f"transfer {transfer_id}'s deadline {t.deadline} has passed; more time must be "
                "asked of the sender in advance (art. 57): return or destroy the data",
                transfer=transfer_id,
            )
        previous = t.deadline
        t.deadline = previous + timedelta(days=days)
        t.consented_days += days
        return {"previous_deadline": previous.isoformat(), "consent_ref": consent_ref}

    return _step(ctx, transfer_id, "transfer.extended", actor, change, "extend it")


def _party(name: str) -> str:
    return " ".join(name.split()).casefold()


def consented_parties(session: Session, transfer_id: int) -> set[str]:
    rows = session.exec(
        select(TransferConsent.third_party).where(TransferConsent.transfer_id == transfer_id)
    )
    return {_party(r) for r in rows}


def record_consent(
    ctx: AppContext, transfer_id: int, third_party: str, consent_ref: str, *, actor: str
) -> TransferView:
    """The sender's prior written consent to share with ``third_party`` was received."""
    if not third_party.strip():
        raise InvalidInput("name the third party the consent covers", field="third_party")
    if not consent_ref.strip():
        raise InvalidInput("name the written consent (its reference)", field="consent_ref")

    def change(session: Session, t: Transfer) -> dict[str, Any]:
        assert t.id is not None
        session.add(
            TransferConsent(
                transfer_id=t.id,
                third_party=third_party.strip(),
                consent_ref=consent_ref.strip(),
                recorded_by=actor,
                recorded_at=ctx.clock.now(),
            )
        )
        t.third_party_consent = True
        t.consent_ref = consent_ref.strip()
        return {"third_party": third_party.strip(), "consent_ref": consent_ref.strip()}

    return _step(ctx, transfer_id, "transfer.consent_recorded", actor, change, "record consent")


def release_to_third_party(
    ctx: AppContext,
    transfer_id: int,
    third_party: str,
    *,
    actor: str,
    part: str | None = None,
) -> TransferView:
    """Share the transferred data onward; refused without that party's written consent."""
    if not third_party.strip():
        raise InvalidInput("name the third party", field="third_party")
    with ctx.session() as session:
        _open(session, transfer_id, "release its data")
        if _party(third_party) not in consented_parties(session, transfer_id):
            raise ReleaseRefused(
                f"transfer {transfer_id} has no prior written consent to share with "
                f"{third_party.strip()!r}; record that consent first",
                transfer=transfer_id,
                third_party=third_party.strip(),
            )

    def change(session: Session, t: Transfer) -> dict[str, Any]:
        consents = session.exec(select(TransferConsent).where(TransferConsent.transfer_id == t.id))
        ref = next(c.consent_ref for c in consents if _party(c.third_party) == _party(third_party))
        session.add(
            ThirdPartyRelease(
                transfer_id=t.id,  # type: ignore[arg-type]
                third_party=third_party.strip(),
                consent_ref=ref,
                part=part,
                released_by=actor,
                released_at=ctx.clock.now(),
            )
        )
        return {"third_party": third_party.strip(), "part": part, "consent_ref": ref}

    return _step(
        ctx, transfer_id, "transfer.third_party_release", actor, change, "release its data"
    )


def assert_may_hand_over(session: Session, evidence_id: str, to_party: str) -> None:
    """Refuse handing ``evidence_id`` to ``to_party`` when the item was received under an
    open incoming transfer whose sender did not consent to that party (art. 57)."""
    query = (
        select(Transfer)
        .join(TransferItem, col(TransferItem.transfer_id) == col(Transfer.id))
        .where(
            TransferItem.evidence_id == evidence_id,
            Transfer.direction == Direction.INCOMING,
            Transfer.status == TransferStatus.OPEN,
        )
    )
    for transfer in session.exec(query).unique():
        assert transfer.id is not None
        allowed = consented_parties(session, transfer.id) | {_party(transfer.recipient)}
        if _party(to_party) not in allowed:
            raise ReleaseRefused(
                f"evidence {evidence_id} was received under transfer {transfer.id} "
                f"({transfer.ref or 'no ref'}); the sender has not consented to sharing it "
                f"with {to_party.strip()!r}; record the sender's written consent to that "
                f"party on transfer {transfer.id} first",
                evidence=evidence_id,
                transfer=transfer.id,
            )


def close_transfer(
    ctx: AppContext, transfer_id: int, outcome: str, *, actor: str, note: str | None = None
) -> TransferView:
    """The data came back or were destroyed: the record of their destruction (art. 57).

    For an incoming transfer every item held under it is disposed of through the
    ordinary disposition first (``destroyed``: destroy; ``returned``: return to the
    sender), all of them checked before any is touched; the closing entry lists
    the disposition records. An outgoing transfer's closing records what the
    recipient reported: our own items stay under our own orders.
    """
    from custodyd.daemon.orders.disposition import dispose
    from custodyd.daemon.orders.retention import assert_disposable

    if outcome not in tuple(Closing):
        raise InvalidInput(f"outcome must be returned or destroyed, not {outcome!r}")
    with ctx.session() as session:
        transfer = _open(session, transfer_id, "close it")
        direction, sender = transfer.direction, transfer.recipient
        items = sorted(
            set(
                session.exec(
                    select(TransferItem.evidence_id).where(TransferItem.transfer_id == transfer_id)
                )
            )
        )
        held = []
        if direction == Direction.INCOMING:
            for evidence_id in items:
                item = session.get(Evidence, evidence_id)
                if item is not None and item.status != "disposed":
                    assert_disposable(session, evidence_id, clock=ctx.clock)
                    held.append(evidence_id)
    returned = outcome == Closing.RETURNED
    dispositions = []
    for evidence_id in held:
        done = dispose(
            ctx,
            evidence_id,
            method=DisposalMethod.RETURN if returned else DisposalMethod.DESTROY,
            reason=f"transfer {transfer_id} closed as {outcome} (art. 57)"
            + (f": {note}" if note else ""),
            actor=actor,
            returned_to=sender if returned else None,
            transfer_id=transfer_id,
        )
        dispositions.append(ClosingDisposal(evidence_id=evidence_id, disposition_id=done.id))

    def change(_s: Session, t: Transfer) -> dict[str, Any]:
        t.status = TransferStatus(outcome)
        t.closed_at = ctx.clock.now()
        return {"note": note, "dispositions": [d.model_dump() for d in dispositions]}

    result = _step(ctx, transfer_id, f"transfer.{outcome}", actor, change, "close it")
    return result.model_copy(update={"dispositions": dispositions})


TRANSFER_ACCESSED = "transfer.accessed"


def read_transfer(
    ctx: AppContext,
    transfer_id: int,
    *,
    actor: str,
    principal: Principal | None = None,
) -> TransferView:
    """One transfer; the read is recorded (``transfer.accessed``).

    ``principal`` (API callers): a transfer of a case it does not see is reported
    exactly like one that does not exist.
    """
    with ctx.session() as session:
        data = transfer_view(session, get_transfer(session, transfer_id), ctx.clock)
    if principal is not None and not can_see(principal, data.case):
        raise NotFound(f"no transfer {transfer_id}")
    detail = {"transfer_id": transfer_id}
    record_access(ctx, TRANSFER_ACCESSED, actor=actor, what="transfer", subject=data, detail=detail)
    return data


def read_transfers(
    ctx: AppContext,
    principal: Principal,
    *,
    case_ref: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[TransferView], int | None]:
    """One page of the transfers ``principal`` may see (and the next offset, None on the
    last page); the read of a non-empty page is recorded (``transfer.accessed``)."""
    return audited_page(
        ctx,
        lambda session, rows: list_transfers(
            session,
            ctx.clock,
            case_ref=case_ref,
            status=status,
            offset=offset,
            limit=rows,
            principal=principal,
        ),
        offset=offset,
        limit=limit,
        action=TRANSFER_ACCESSED,
        actor=principal.actor,
        what="transfers",
        case_ref=case_ref,
    )


def list_transfers(
    session: Session,
    clock: Clock,
    *,
    case_ref: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 100,
    principal: Principal | None = None,
) -> list[TransferView]:
    """Transfers by case and status; with ``principal``, only those of the cases it sees
    (selected in SQL, so ``offset``/``limit`` page what the caller may see)."""
    query = select(Transfer).join(Case, col(Case.id) == col(Transfer.case_id))
    query = only_visible(query.order_by(col(Transfer.id)), principal)
    if case_ref is not None:
        if principal is not None and not can_see(principal, case_ref):
            return []
        query = query.where(Transfer.case_id == get_case(session, case_ref).id)
    if status is not None:
        query = query.where(Transfer.status == status)
    rows = session.exec(query.offset(offset).limit(limit))
    return [transfer_view(session, t, clock) for t in rows]
