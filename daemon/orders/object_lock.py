"""The object store's own lock follows the orders: what S3 Object Lock must say of an item.

For evidence stored in S3, every object of the item (image, manifest, log,
inventory) gets COMPLIANCE retention until the end of the latest expiry day of the
orders in force that cover it (extended, never shortened, when an order is renewed
or a later one added), and a legal hold ON while a follow-up hold or an executing
grant stands, OFF when none does. Each change is recorded in the ledger
(``evidence.object_lock``). Called after every order change that can move either.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from custodyd.daemon.context import AppContext
from custodyd.daemon.models import Case, Evidence
from custodyd.daemon.orders.lifecycle import in_force, orders_covering
from custodyd.daemon.orders.records import end_of, today
from custodyd.daemon.orders.retention import retention_status

ITEM_OBJECTS = ("manifest.json", "inventory.json", "acquisition.log", "ddrescue.map")


def _wanted(session: Session, ctx: AppContext, evidence_id: str) -> tuple[Any, bool]:
    on = today(ctx.clock)
    latest = None
    for order in orders_covering(session, evidence_id):
        if in_force(order, on):
            latest = order.expires_on if latest is None else max(latest, order.expires_on)
    status = retention_status(session, evidence_id, clock=ctx.clock)
    return (end_of(latest) if latest is not None else None), status.hold


def lock_new_item(ctx: AppContext, manifest: dict[str, Any], *, actor: str) -> None:
    """After an acquisition into S3: orders already covering its case lock it at once."""
    if str(manifest.get("image_path") or "").startswith("s3://"):
        sync_object_lock(ctx, [manifest["evidence_id"]], actor=actor)


def sync_object_lock(ctx: AppContext, evidence_ids: list[str], *, actor: str) -> list[dict]:
    """Bring the S3 Object Lock of each listed S3-stored item in line with its orders."""
    from custodyd.daemon.store.s3 import S3Store, S3Url
    from custodyd.daemon.store.s3_item import report_objects

    results = []
    for evidence_id in evidence_ids:
        with ctx.session() as session:
            item = session.get(Evidence, evidence_id)
            if item is None or not item.image_path.startswith("s3://"):
                continue
            if item.status not in ("sealed", "mismatch"):
                continue
            case = session.get(Case, item.case_id)
            until, hold = _wanted(session, ctx, evidence_id)
            image = S3Url.parse(item.image_path)
        folder = image.key.rsplit("/", 1)[0]
        store = S3Store(f"s3://{image.bucket}/")
        objects = [  # every E01 segment, and the reports issued and kept beside it
            *store.image_objects(str(image)),
            *(S3Url(image.bucket, f"{folder}/{name}") for name in ITEM_OBJECTS),
            *report_objects(store, S3Url(image.bucket, folder)),
        ]
        locked = store.lock(objects, until=until, legal_hold=hold)
        payload = {
            "retain_until": until.isoformat() if until else None,
            "mode": "COMPLIANCE",
            "legal_hold": hold,
            "objects": locked,
        }
        ctx.ledger.append(
            "evidence.object_lock",
            actor=actor,
            case=case.ref if case else None,
            evidence=evidence_id,
            payload=payload,
        )
        results.append({"evidence_id": evidence_id, **payload})
    return results
