"""Prometheus metrics: HTTP requests/errors/latency, plus the service state read at scrape.

Each app has its own registry (several apps may live in one test process). The
service gauges (acquisitions by state, bytes acquired, throughput of finished
acquisitions, evidence by status, alerts sent/failed by channel, ledger size)
are computed from the database when ``/metrics`` is scraped, so they are true
for work done by any process sharing the database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custodyd.daemon.context import AppContext
from custodyd.daemon.stats import service_figures


class RequestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "custodyd_http_requests",
            "HTTP requests handled",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "custodyd_http_errors",
            "HTTP requests answered with a 5xx problem",
            ["route"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "custodyd_http_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self._service: ServiceCollector | None = None

    def watch(self, ctx: AppContext) -> None:
        """Add the scrape-time service gauges for ``ctx`` (once)."""
        if self._service is None:
            self._service = ServiceCollector(ctx)
            self.registry.register(self._service)

    class Middleware:
        def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
            self.app = app
            self.metrics = metrics

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            status = 500
            started = time.perf_counter()

            async def tracking_send(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            try:
                await self.app(scope, receive, tracking_send)
            finally:
                route_obj = scope.get("route")
                route = getattr(route_obj, "path", None) or "unmatched"
                self.metrics.requests.labels(scope.get("method", "?"), route, str(status)).inc()
                self.metrics.latency.labels(route).observe(time.perf_counter() - started)
                if status >= 500:
                    self.metrics.errors.labels(route).inc()


class ServiceCollector(Collector):
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Any]:
        acquisitions = GaugeMetricFamily(
            "custodyd_acquisitions", "Acquisitions by state", labels=["state"]
        )
        acquired = CounterMetricFamily(
            "custodyd_acquired_bytes", "Bytes imaged by finished acquisitions"
        )
        throughput = GaugeMetricFamily(
            "custodyd_acquisition_throughput_bytes_per_second",
            "Mean throughput of the last 20 finished acquisitions",
        )
        alerts = GaugeMetricFamily(
            "custodyd_alerts",
            "Alerts in the outbox by channel and state (sent, failed, ...)",
            labels=["channel", "state"],
        )
        evidence = GaugeMetricFamily(
            "custodyd_evidence_items", "Evidence items by status", labels=["status"]
        )
        figures = service_figures(self.ctx)  # counted by the domain; here only translated
        for state, count in figures.acquisitions_by_state.items():
            acquisitions.add_metric([state], count)
        for status, count in figures.evidence_by_status.items():
            evidence.add_metric([status], count)
        for (channel, state), count in figures.alerts_by_channel_state.items():
            alerts.add_metric([channel, state], count)
        acquired.add_metric([], float(figures.acquired_bytes))
        throughput.add_metric([], figures.throughput_bytes_per_second)
        yield acquisitions
        yield evidence
        yield alerts
        yield acquired
        yield throughput
        yield from self._ledger()

    def _ledger(self) -> Iterator[Any]:
        size = GaugeMetricFamily("custodyd_ledger_entries", "Entries in the custody ledger")
        try:
            size.add_metric([], float(self.ctx.ledger.size()))
        except Exception:  # a broken ledger must not break the scrape; /readyz reports it
            return
        yield size
