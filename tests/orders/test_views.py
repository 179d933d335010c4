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
