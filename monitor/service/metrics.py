"""Prometheus metrics: counters and durations of polls, fetches, articles and deliveries, served on
127.0.0.1 when `MONITOR_METRICS_PORT` is set. The only module that imports prometheus_client.

Each `Metrics` owns its `CollectorRegistry` rather than the library's global default, so tests (and
a process that restarts its runner) can make several without names clashing. The runner feeds it
the records it already has: a `SourceReport` per poll, a `FetchOutcome` per request, and the
outcome of each delivery.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import start_http_server

from monitor.core.records import FetchOutcome, SourceReport

if TYPE_CHECKING:
    from monitor.deliver.jobs import DigestRun

POLL_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
ARTICLE_KINDS = ("new", "updated", "duplicate", "relevant", "empty")
DELIVERY_OUTCOMES = ("sent", "retrying", "failed", "unknown")  # the lists of a SendReport


class MetricsServer:
    """The running endpoint; calling it stops the server."""

    def __init__(self, server: WSGIServer) -> None:
        self.host = str(server.server_address[0])
        self.port = server.server_port
        self._server: WSGIServer | None = server

    def __call__(self) -> None:
        server = self._server
        if server is None:
            return
        self._server = None
        server.shutdown()
        server.server_close()


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        counter = functools.partial(Counter, registry=self.registry)
        histogram = functools.partial(Histogram, registry=self.registry)
        self.polls = counter(
            "monitor_polls", "Polls of a source by outcome.", ["source", "outcome"]
        )
        self.fetches = counter(
            "monitor_fetches",
            "HTTP requests by purpose and status (HTTP code or error kind).",
            ["purpose", "status"],
        )
        self.articles = counter(
            "monitor_articles",
            "Article pages by source and kind (new, updated, duplicate, relevant, empty).",
            ["source", "kind"],
        )
        self.deliveries = counter(
            "monitor_deliveries", "Deliveries by channel and outcome.", ["channel", "outcome"]
        )
        self.poll_seconds = histogram(
            "monitor_poll_seconds", "Duration of a poll.", ["source"], buckets=POLL_BUCKETS
        )
        self.fetch_seconds = histogram(
            "monitor_fetch_seconds",
            "Duration of a request, retries included.",
            ["purpose"],
            buckets=FETCH_BUCKETS,
        )

    def observe_report(self, report: SourceReport) -> None:
        source = report.source
        self.polls.labels(source, "ok" if report.ok else "failed").inc()
        counts = (report.new, report.updated, report.duplicates, report.relevant, report.empty)
        for kind, count in zip(ARTICLE_KINDS, counts, strict=True):
            self.articles.labels(source, kind).inc(count)  # zeros too: the series exist at once
        if report.finished_at is not None:
            seconds = (report.finished_at - report.started_at).total_seconds()
            self.poll_seconds.labels(source).observe(max(seconds, 0.0))

    def observe_fetch(self, outcome: FetchOutcome) -> None:
        status = str(outcome.status) if outcome.status is not None else None
        self.fetches.labels(outcome.purpose, status or outcome.error_kind or "error").inc()
        self.fetch_seconds.labels(outcome.purpose).observe(max(outcome.duration, 0.0))

    def observe_delivery(self, channel: str, outcome: str) -> None:
        self.deliveries.labels(channel, outcome).inc()

    def observe_digest(self, run: DigestRun) -> None:
        """Count what one digest job's sends came to, per channel and outcome."""
        for report in run.reports:
            for outcome in DELIVERY_OUTCOMES:
                for _ in getattr(report, outcome):
                    self.observe_delivery(report.channel, outcome)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)

    def serve(self, port: int, addr: str = "127.0.0.1") -> MetricsServer:
        """Serve `/metrics` on `addr:port` (0 picks a free port) from a daemon thread."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        return MetricsServer(server)
