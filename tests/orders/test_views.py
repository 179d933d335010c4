"""The orders, transfers, retention and extract routers answer typed models (no open
``extra="allow"`` bag): the OpenAPI document names every field and the states' words."""

from __future__ import annotations

from typing import Any

from custodyd.api.app import create_app
from custodyd.daemon.context import AppContext
from custodyd.daemon.orders.states import OrderStatus, TransferStatus


def _response_schema(spec: dict[str, Any], path: str, method: str, code: str) -> dict[str, Any]:
    content = spec["paths"][path][method]["responses"][code]["content"]["application/json"]
    ref = content["schema"]["$ref"].rsplit("/", 1)[-1]
    return spec["components"]["schemas"][ref]


def _enum(spec: dict[str, Any], prop: dict[str, Any]) -> list[str]:
    ref = prop["$ref"].rsplit("/", 1)[-1]
    return spec["components"]["schemas"][ref]["enum"]


def test_responses_are_closed_models_with_enum_states(ctx: AppContext) -> None:
    spec = create_app(ctx).openapi()
    routes = [
        ("/v1/orders/{order_id}", "get", "200"),
        ("/v1/transfers/{transfer_id}", "get", "200"),
        ("/v1/retention/{evidence_id}", "get", "200"),
        ("/v1/retention/{evidence_id}/disposition", "post", "201"),
        ("/v1/evidence/{evidence_id}/extract", "post", "201"),
    ]
    for path, method, code in routes:
        schema = _response_schema(spec, path, method, code)
        assert schema.get("additionalProperties") is not True, path
        assert "properties" in schema and len(schema["properties"]) >= 4, path
    order = _response_schema(spec, "/v1/orders/{order_id}", "get", "200")
    assert _enum(spec, order["properties"]["status"]) == [s.value for s in OrderStatus]
    assert {"case", "evidence", "in_force", "hold", "notices", "commitment"} <= set(
        order["properties"]
    )
    transfer = _response_schema(spec, "/v1/transfers/{transfer_id}", "get", "200")
    assert _enum(spec, transfer["properties"]["status"]) == [s.value for s in TransferStatus]


def test_list_reads_are_recorded_with_the_ids_shown(ctx: AppContext) -> None:
    """A page of orders or transfers read through the domain's audited list is one
    ``*.accessed`` entry naming exactly the ids of that page."""
    from custodyd.daemon.auth.principal import Principal
    from custodyd.daemon.auth.roles import COMPLIANCE
    from custodyd.daemon.orders.lifecycle import OrderRequest, create_order, read_orders
    from custodyd.daemon.orders.transfers import TransferRequest, create_transfer, read_transfers
    from tests.orders.conftest import make_evidence

    make_evidence(ctx, "EV1", case_ref="C1")
    day = ctx.clock.now().date()
    for ref in ("A", "B", "C"):
        create_order(
            ctx,
            OrderRequest(regime="domestic-180", ref=ref, issued_on=day, evidence_ids=["EV1"]),
            actor="user:o",
        )
    create_transfer(
        ctx,
        TransferRequest(recipient="R", purpose="p", consented_days=9, items=[("EV1", None)]),
        actor="user:o",
    )
    officer = Principal(actor="user:olga", role=COMPLIANCE)
    items, nxt = read_orders(ctx, officer, case_ref="C1", offset=1, limit=1)
    assert [o.ref for o in items] == ["B"] and nxt == 2
    assert read_orders(ctx, officer, offset=2, limit=5)[1] is None
    transfers, nxt = read_transfers(ctx, officer, offset=0, limit=5)
    assert len(transfers) == 1 and nxt is None
    orders_read = [e.payload for e in ctx.ledger.entries() if e.action == "order.accessed"]
    assert orders_read[0]["order_ids"] == [items[0].id] and orders_read[0]["case"] == "C1"
    assert [p["what"] for p in orders_read] == ["orders", "orders"]
    transfers_read = [e.payload for e in ctx.ledger.entries() if e.action == "transfer.accessed"]
    assert [p["transfer_ids"] for p in transfers_read] == [[transfers[0].id]]
