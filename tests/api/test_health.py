"""Liveness, readiness and metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import MakeToken


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    client.get("/healthz")
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'custodyd_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert "custodyd_acquired_bytes_total 0.0" in text
    assert "custodyd_ledger_entries 0.0" in text and "# TYPE custodyd_alerts gauge" in text


def test_readyz_without_runtime(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["ready"] is True
    assert body["checks"]["database"]["ok"] and body["checks"]["ledger"]["detail"] == "0 entries"


def test_readyz_reports_failing_runtime_part(app: FastAPI) -> None:
    class Runtime:  # a runtime whose scheduler died: only ready() is consulted
        def ready(self) -> tuple[bool, dict[str, str]]:
            return False, {"database": "ok", "workers": "ok", "scheduler": "not running"}

    app.state.runtime = Runtime()
    with TestClient(app) as client:
        r = client.get("/readyz")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["scheduler"] == {"ok": False, "detail": "not running"}
    assert checks["workers"]["ok"] is True


def test_runtime_endpoints_need_a_runtime(client: TestClient, make_token: MakeToken) -> None:
    examiner = make_token("examiner")
    for path in ("/v1/media", "/v1/acquisitions"):
        r = client.get(path, headers=examiner)
        assert r.status_code == 503, path
        assert r.json()["type"] == "urn:custodyd:problem:unavailable"
    assert client.get("/v1/media", headers=make_token("investigator")).status_code == 403


def test_metrics_count_real_acquisitions(client: TestClient, acquired: Callable[..., Any]) -> None:
    manifest = acquired("M-1", size=128 * 1024)
    text = client.get("/metrics").text
    assert 'custodyd_evidence_items{status="sealed"} 1.0' in text
    states = [line for line in text.splitlines() if line.startswith("custodyd_acquisitions{")]
    assert states and all(line.endswith(" 1.0") for line in states), states
    assert manifest["bytes"] == 128 * 1024
