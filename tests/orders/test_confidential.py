"""Need-to-know for a confidential order, through the real API, with three principals;
the salted commitment in the ledger, verified with and without the salt; audited reads;
alerts about confidential orders refused over plain SMTP (real aiosmtpd without STARTTLS)
and sent, without the substance, over STARTTLS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from custodyd.api.app import create_app
from custodyd.daemon.auth import create_token_unrecorded
from custodyd.daemon.auth.users import add_user_unrecorded
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from custodyd.daemon.orders.alerts.outbox import check
from custodyd.daemon.orders.confidentiality import HELD_NOTICE, commitment, verify_commitment
from custodyd.daemon.orders.lifecycle import OrderRequest, create_order
from tests.orders.conftest import REQUEST, Mailbox, Receiver, make_evidence
from tests.orders.test_smtp_tls import tls_server  # noqa: F401  (fixture)

SECRET_WORDS = (REQUEST["offence"], REQUEST["summary"], REQUEST["authority"], "CONF-9")


@pytest.fixture
def client(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), raise_server_exceptions=False) as c:
        yield c


def user_token(ctx: AppContext, name: str, role: str, cases: tuple[str, ...] = ()) -> dict:
    with ctx.session() as session:
        add_user_unrecorded(session, ctx.clock, name, role)
        new = create_token_unrecorded(session, ctx.clock, role=role, cases=cases, user=name)
    return {"Authorization": f"Bearer {new.secret}"}


def test_need_to_know_through_the_api(
    ctx: AppContext, clock: ManualClock, client: TestClient
) -> None:
    make_evidence(ctx, "EV1", case_ref="C1")
    officer = user_token(ctx, "olga", "compliance")
    named = user_token(ctx, "ivy", "investigator", ("C1",))
    member = user_token(ctx, "eric", "examiner", ("C1",))
    body = {
        "regime": "intl-expedited-90",
        "ref": "CONF-9",
        "issued_on": clock.now().date().isoformat(),
        "evidence": ["EV1"],
        "confidential": True,
        "need_to_know": ["ivy"],
        **REQUEST,
    }
    made = client.post("/v1/orders", json=body, headers=officer)
    assert made.status_code == 201, made.text
    oid = made.json()["id"]

    # the examiner, a member of the case, learns nothing of it
    hidden = client.get(f"/v1/orders/{oid}", headers=member)
    absent = client.get("/v1/orders/999999", headers=member)
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json()["detail"].replace(str(oid), "N") == absent.json()["detail"].replace(
        "999999", "N"
    )
    for query in ("", "?case=C1", "?evidence=EV1"):
        assert client.get(f"/v1/orders{query}", headers=member).json()["items"] == []
    retention = client.get("/v1/retention/EV1", headers=member).json()
    assert retention["disposable"] is False and retention["blocking"] == []
    assert retention["held"] == HELD_NOTICE and retention["retain_until"] is None
    clock.advance(timedelta(days=80))
    assert client.get("/v1/retention/due?days=30", headers=member).json()["items"] == []
    for path in ("/v1/evidence/EV1/custody", "/v1/cases/C1/custody"):
        timeline = client.get(path, headers=member)
        assert timeline.status_code == 200, timeline.text
        items = timeline.json()["items"]
        held = [i for i in items if i["action"] == "retention.held"]
        assert held and held[0]["payload"] == {"notice": HELD_NOTICE}
        assert not [i for i in items if i["action"].startswith("order.")]
        assert not any(word in timeline.text for word in SECRET_WORDS)

    # the named investigator and the compliance officer see it in full
    for who in (named, officer):
        seen = client.get(f"/v1/orders/{oid}", headers=who).json()
        assert seen["ref"] == "CONF-9" and seen["offence"] == REQUEST["offence"]
        assert seen["need_to_know"] == ["ivy"]
        assert [o["id"] for o in client.get("/v1/orders?case=C1", headers=who).json()["items"]] == [
            oid
        ]
        assert client.get("/v1/retention/due?days=30", headers=who).json()["items"][0]["id"] == oid
    timeline = client.get("/v1/evidence/EV1/custody", headers=named).json()["items"]
    created = next(i for i in timeline if i["action"] == "order.created")

    # the ledger holds a commitment, never the fields; the salt opens it
    raw = ctx.ledger.history("EV1")[0]
    assert raw.action == "order.created"
    assert not any(word in json.dumps(raw.payload) for word in SECRET_WORDS)
    assert created["payload"]["commitment"] == raw.payload["commitment"]
    opened = client.get(f"/v1/orders/{oid}", headers=named).json()["commitment"]
    assert opened["fields"]["offence"] == REQUEST["offence"] and opened["fields"]["ref"] == "CONF-9"
    assert verify_commitment(raw.payload["commitment"], opened["salt"], opened["fields"])
    # without the salt (or with another one) the fields cannot be confirmed
    assert not verify_commitment(raw.payload["commitment"], "", opened["fields"])
    assert not verify_commitment(raw.payload["commitment"], "00" * 32, opened["fields"])
    assert not verify_commitment(
        raw.payload["commitment"], opened["salt"], {**opened["fields"], "offence": "theft"}
    )
    assert commitment(opened["salt"], opened["fields"]) == raw.payload["commitment"]

    # reads of orders are audited, by whom and what
    reads = [e for e in ctx.ledger.entries() if e.action == "order.accessed"]
    readers = {(e.actor, e.payload.get("order_id")) for e in reads}
    assert ("user:ivy", oid) in readers and ("user:olga", oid) in readers
    assert ("user:eric", oid) not in readers  # a refused read reveals and records nothing


def test_transfer_reads_are_audited(ctx: AppContext, client: TestClient) -> None:
    make_evidence(ctx, "EV1", case_ref="C1")
    officer = user_token(ctx, "olga", "compliance")
    made = client.post(
        "/v1/transfers",
        json={
            "recipient": "State B",
            "purpose": "trial",
            "consented_days": 30,
            "items": [{"evidence_id": "EV1"}],
        },
        headers=officer,
    ).json()
    assert client.get(f"/v1/transfers/{made['id']}", headers=officer).status_code == 200
    reads = [e for e in ctx.ledger.entries() if e.action == "transfer.accessed"]
    assert [(e.actor, e.payload["transfer_id"]) for e in reads] == [("user:olga", made["id"])]


def confidential_order(ctx: AppContext, ref: str = "CONF-M") -> dict:
    make_evidence(ctx, "EV-C")
    day = ctx.clock.now().date() - timedelta(days=55)
    return create_order(
        ctx,
        OrderRequest(
            regime="intl-expedited-60",
            ref=ref,
            issued_on=day,
            effected_on=day,
            evidence_ids=["EV-C"],
            confidential=True,
            **REQUEST,
        ),
        actor="user:olga",
    )


def test_confidential_alert_refused_over_plain_smtp(
    ctx: AppContext,
    smtp_server: tuple[str, Mailbox],
    webhook_server: tuple[str, Receiver],
) -> None:
    smtp_url, mailbox = smtp_server  # a real aiosmtpd that offers no STARTTLS
    hook_url, receiver = webhook_server
    ctx.settings = ctx.settings.model_copy(
        update={"smtp_url": smtp_url, "alert_to": ["duty@lab.example"], "webhook_url": hook_url}
    )
    order = confidential_order(ctx)
    report = check(ctx, webhook_backoff=())
    assert mailbox.messages == []
    assert report.failed == 1 and "plain SMTP" in report.errors[0]
    events = [json.loads(body) for _, body in receiver.requests]
    refused = [e for e in events if e["event"] == "alert.smtp_refused"]
    assert len(refused) == 1 and "plain SMTP" in refused[0]["reason"]
    assert refused[0]["subject_id"] == str(order.id)
    # the expiry alert itself still reached the webhook, without the substance
    expiry = [e for e in events if e["event"] == "order.expiry_alert"]
    assert expiry and not any(w in json.dumps(expiry) for w in SECRET_WORDS[:3])
    entries = [e for e in ctx.ledger.entries() if e.action == "alert.refused"]
    assert len(entries) == 1 and entries[0].payload["channel"] == "smtp"
    # refused for good: never retried
    assert check(ctx, webhook_backoff=()).sent == 0 and mailbox.messages == []


def test_confidential_alert_goes_over_starttls_without_substance(
    ctx: AppContext,
    tls_server: tuple[int, Mailbox, list[str]],  # noqa: F811
) -> None:
    port, mailbox, _ = tls_server
    url = f"smtp+starttls://alerts%40lab:p%3Ass%20word@127.0.0.1:{port}"
    ctx.settings = ctx.settings.model_copy(
        update={"smtp_url": url, "alert_to": ["duty@lab.example"]}
    )
    confidential_order(ctx)
    assert check(ctx).sent == 1
    mail = mailbox.messages[0]
    text = mail.get_payload(decode=True).decode()
    assert "CONF-M" in mail["Subject"] and "EV-C" in text and "CONFIDENTIAL" in text
    for word in SECRET_WORDS[:3]:
        assert word not in text
    assert "Effected on:" in text and "68(7)" in text
