"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient


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
