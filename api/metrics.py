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
from sqlalchemy import func
from sqlmodel import col, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custodyd.daemon.clock import utc
from custodyd.daemon.context import AppContext
from custodyd.daemon.models import Acquisition, AlertOutbox, Evidence


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
        with self.ctx.session() as session:
            for state, count in session.exec(
                select(Acquisition.state, func.count()).group_by(Acquisition.state)
            ):
                acquisitions.add_metric([state], count)
            for status, count in session.exec(
                select(Evidence.status, func.count()).group_by(Evidence.status)
            ):
                evidence.add_metric([status], count)
            for channel, state, count in session.exec(
                select(AlertOutbox.channel, AlertOutbox.state, func.count()).group_by(
                    AlertOutbox.channel, AlertOutbox.state
                )
            ):
                alerts.add_metric([channel, state], count)
            total = session.exec(
                select(func.coalesce(func.sum(Acquisition.bytes_done), 0)).where(
                    Acquisition.state == "done"
                )
            ).one()
            acquired.add_metric([], float(total))
            recent = session.exec(
                select(Acquisition)
                .where(Acquisition.state == "done")
                .where(col(Acquisition.finished_at).is_not(None))
                .order_by(col(Acquisition.id).desc())
                .limit(20)
            ).all()
        seconds = sum(
            max((utc(a.finished_at) - utc(a.started_at)).total_seconds(), 0.0)
            for a in recent
            if a.finished_at is not None
        )
        done = sum(a.bytes_done for a in recent)
        throughput.add_metric([], done / seconds if seconds > 0 else 0.0)
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
