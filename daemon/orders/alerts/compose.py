"""The text of alerts: mail subject and body, and the webhook JSON.

An alert's subject names the order ref (or transfer) and the deadline; its body
names the evidence ids, every date of the order and the rule (with its article)
that gave the expiry. Confidential orders say so and leave out the authority,
the offence and the summary (mail leaves the appliance); the outbox refuses to
send them over plain SMTP.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from custodyd.daemon.models import PreservationOrder, Transfer
from custodyd.daemon.orders.regimes import RegimeSpec


def _when(deadline: date, on: date) -> str:
    days = (deadline - on).days
    if days > 1:
        return f"in {days} days"
    if days == 1:
        return "tomorrow"
    if days == 0:
        return "today"
    return f"{-days} days ago"


def order_alert(
    order: PreservationOrder,
    regime: RegimeSpec,
    *,
    case_ref: str,
    evidence_ids: list[str],
    lead_days: int,
    on: date,
) -> dict[str, Any]:
    when = _when(order.expires_on, on)
    items = ", ".join(evidence_ids) if evidence_ids else "(whole case, no items yet)"
    verb = "expired" if order.expires_on < on else "expires"
    subject = (
        f"[custodyd] Preservation order {order.ref} {verb} {order.expires_on.isoformat()} ({when})"
    )
    lines = [
        f"Preservation order {order.ref} (id {order.id}) {verb} on "
        f"{order.expires_on.isoformat()} ({when}); this is the {lead_days}-day alert.",
        "",
        f"Case:          {case_ref}",
        f"Evidence:      {items}",
        f"Legal basis:   {regime.id} - {regime.name} ({regime.citation})",
        *date_lines(order),
        f"Status:        {order.status}"
        + (f", decision {order.decision}" if order.decision else ""),
        f"Renewals:      {order.renewals}",
    ]
    lines += substance_lines(order)
    lines += [
        "",
        "Before the expiry: renew it (custodyd orders renew), record a follow-up request "
        "(custodyd orders followup: hold until decision), or let it expire; the items "
        "become disposable once no order or hold covers them.",
    ]
    return {
        "event": "order.expiry_alert",
        "subject": subject,
        "body": "\n".join(lines) + "\n",
        "case": case_ref,
        "evidence": evidence_ids,
        "confidential": order.confidential,
        "data": {
            "order_id": order.id,
            "order_ref": order.ref,
            "regime": regime.id,
            **date_fields(order),
            "lead_days": lead_days,
            "status": order.status,
            "confidential": order.confidential,
            "case": case_ref,
            "evidence": evidence_ids,
        },
    }


def date_lines(order: PreservationOrder) -> list[str]:
    return [
        f"Issued on:     {order.issued_on.isoformat()}",
        f"Received on:   {order.received_on.isoformat()}",
        f"Effected on:   {order.effected_on.isoformat()}",
        f"Expires on:    {order.expires_on.isoformat()}",
        f"Expiry rule:   {order.expiry_rule}",
    ]


def date_fields(order: PreservationOrder) -> dict[str, Any]:
    return {
        "issued_on": order.issued_on.isoformat(),
        "received_on": order.received_on.isoformat(),
        "effected_on": order.effected_on.isoformat(),
        "expires_on": order.expires_on.isoformat(),
        "expiry_rule": order.expiry_rule,
    }


def substance_lines(order: PreservationOrder) -> list[str]:
    """Authority and offence for ordinary orders; a warning only for confidential ones."""
    if order.confidential:
        return ["CONFIDENTIAL: do not notify the user; keep this order confidential."]
    lines = []
    if order.authority:
        lines.append(f"Authority:     {order.authority}")
    if order.offence:
        lines.append(f"Offence:       {order.offence}")
    return lines


def contact_alert(
    order: PreservationOrder,
    regime: RegimeSpec,
    *,
    event: str,
    case_ref: str,
    evidence_ids: list[str],
) -> dict[str, Any]:
    """The immediate alert to the 24/7 point of contact (art. 67)."""
    what = (
        "a preservation request/order was entered"
        if event == "entered"
        else "a follow-up request (search, seizure or disclosure) arrived: hold until decision"
    )
    items = ", ".join(evidence_ids) if evidence_ids else "(whole case, no items yet)"
    subject = f"[custodyd] 24/7: preservation order {order.ref}: {what}"
    lines = [
        f"Preservation order {order.ref} (id {order.id}): {what}.",
        "",
        f"Case:          {case_ref}",
        f"Evidence:      {items}",
        f"Legal basis:   {regime.id} - {regime.name} ({regime.citation})",
        *date_lines(order),
        f"Status:        {order.status}",
        *substance_lines(order),
    ]
    return {
        "event": "order.contact_247",
        "subject": subject,
        "body": "\n".join(lines) + "\n",
        "case": case_ref,
        "evidence": evidence_ids,
        "confidential": order.confidential,
        "data": {
            "order_id": order.id,
            "order_ref": order.ref,
            "what": event,
            "regime": regime.id,
            **date_fields(order),
            "status": order.status,
            "confidential": order.confidential,
            "case": case_ref,
            "evidence": evidence_ids,
        },
    }


def smtp_refusal_alert(row_id: int, kind: str, subject_id: str, reason: str) -> dict[str, Any]:
    """Webhook alert: a confidential alert was not mailed because the link was not encrypted."""
    return {
        "event": "alert.smtp_refused",
        "subject": f"[custodyd] alert {row_id} about a confidential {kind} not sent by mail",
        "body": reason,
        "case": None,
        "evidence": [],
        "data": {"outbox_id": row_id, "kind": kind, "subject_id": subject_id, "reason": reason},
    }


def transfer_alert(
    transfer: Transfer,
    *,
    case_ref: str,
    evidence_ids: list[str],
    lead_days: int,
    on: date,
) -> dict[str, Any]:
    when = _when(transfer.deadline, on)
    name = transfer.ref or f"#{transfer.id}"
    subject = (
        f"[custodyd] Transfer {name} to {transfer.recipient}: return/destroy deadline "
        f"{transfer.deadline.isoformat()} ({when})"
    )
    lines = [
        f"Personal data transferred ({transfer.direction}) under {name} (id {transfer.id}) "
        f"must be returned or destroyed by {transfer.deadline.isoformat()} ({when}); "
        f"this is the {lead_days}-day alert.",
        "",
        f"Case:          {case_ref}",
        f"Evidence:      {', '.join(evidence_ids)}",
        f"Recipient:     {transfer.recipient}",
        f"Purpose:       {transfer.purpose}",
        f"Transferred:   {transfer.transferred_on.isoformat()}",
        f"Consented for: {transfer.consented_days} days",
        "",
        "If more time is needed, ask the sender in advance (custodyd transfers extend).",
    ]
    return {
        "event": "transfer.deadline_alert",
        "subject": subject,
        "body": "\n".join(lines) + "\n",
        "case": case_ref,
        "evidence": evidence_ids,
        "data": {
            "transfer_id": transfer.id,
            "transfer_ref": transfer.ref,
            "recipient": transfer.recipient,
            "deadline": transfer.deadline.isoformat(),
            "lead_days": lead_days,
            "case": case_ref,
            "evidence": evidence_ids,
        },
    }


def fixity_alert(evidence_id: str, case_ref: str | None, result: dict[str, Any]) -> dict[str, Any]:
    subject = f"[custodyd] FIXITY MISMATCH: evidence {evidence_id} no longer matches its hash"
    windows = [
        w.get("index", w) if isinstance(w, dict) else w
        for w in result.get("mismatched_windows") or []
    ]
    body = (
        f"Scheduled re-verification found that the image of evidence {evidence_id} "
        f"(case {case_ref}) does not match its recorded BLAKE3 hash.\n\n"
        f"Expected: {result.get('expected')}\nFound:    {result.get('blake3')}\n"
        f"Mismatched windows: {windows}\n\nThe item is marked 'mismatch'. Investigate at once.\n"
    )
    return {
        "event": "evidence.fixity_mismatch",
        "subject": subject,
        "body": body,
        "case": case_ref,
        "evidence": [evidence_id],
        "data": {"evidence_id": evidence_id, "case": case_ref, "result": result},
    }
