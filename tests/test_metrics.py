"""Prometheus metrics: observed records show up in the exposition text, scraped over real HTTP on
127.0.0.1, and several `Metrics` live side by side without clashing."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.core.records import FetchOutcome, SourceReport
from monitor.service.metrics import Metrics, MetricsServer

T0 = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


def report(source: str, seconds: float, *, error: str | None = None, **counts: int) -> SourceReport:
    made = SourceReport(source=source, started_at=T0, finished_at=T0 + timedelta(seconds=seconds))
    if error:
        made.errors.append(error)
    for field, value in counts.items():
        setattr(made, field, value)
    return made


def fetch(
    purpose: str, status: int | None, duration: float, kind: str | None = None
) -> FetchOutcome:
    return FetchOutcome(
        source="azertag",
        url="https://azertag.az/rss",
        purpose=purpose,
        at=T0,
        status=status,
        bytes=100,
        duration=duration,
        attempts=1,
        error_kind=kind,
    )


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def metrics() -> Metrics:
    metrics = Metrics()
    metrics.observe_report(report("azertag", 12, new=3, updated=1, duplicates=1, relevant=2))
    metrics.observe_report(report("azertag", 3, error="feed: timed out"))
    metrics.observe_report(report("apa", 0.5, new=2, empty=2))
    metrics.observe_fetch(fetch("feed", 200, 0.2))
    metrics.observe_fetch(fetch("article", 200, 0.3))
    metrics.observe_fetch(fetch("article", 200, 7.0))
    metrics.observe_fetch(fetch("feed", 304, 0.04))
    metrics.observe_fetch(fetch("feed", None, 10.0, kind="timeout"))
    metrics.observe_delivery("telegram", "sent")
    metrics.observe_delivery("telegram", "sent")
    metrics.observe_delivery("email", "failed")
    return metrics


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(metrics: Metrics) -> Iterator[MetricsServer]:
    stop = metrics.serve(free_port())
    try:
        yield stop
    finally:
        stop()


def scrape(port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain")
        return bytes(answer.read())


def test_scraped_values(metrics: Metrics, served: MetricsServer) -> None:
    found = samples(scrape(served.port))
    assert value(found, "monitor_polls_total", source="azertag", outcome="ok") == 1
    assert value(found, "monitor_polls_total", source="azertag", outcome="failed") == 1
    assert value(found, "monitor_polls_total", source="apa", outcome="ok") == 1
    assert value(found, "monitor_articles_total", source="azertag", kind="new") == 3
    assert value(found, "monitor_articles_total", source="azertag", kind="updated") == 1
    assert value(found, "monitor_articles_total", source="azertag", kind="duplicate") == 1
    assert value(found, "monitor_articles_total", source="azertag", kind="relevant") == 2
    assert value(found, "monitor_articles_total", source="apa", kind="empty") == 2
    assert value(found, "monitor_articles_total", source="apa", kind="relevant") == 0
    assert value(found, "monitor_fetches_total", purpose="feed", status="200") == 1
    assert value(found, "monitor_fetches_total", purpose="feed", status="304") == 1
    assert value(found, "monitor_fetches_total", purpose="feed", status="timeout") == 1
    assert value(found, "monitor_fetches_total", purpose="article", status="200") == 2
    assert value(found, "monitor_deliveries_total", channel="telegram", outcome="sent") == 2
    assert value(found, "monitor_deliveries_total", channel="email", outcome="failed") == 1
    assert value(found, "monitor_poll_seconds_count", source="azertag") == 2
    assert value(found, "monitor_poll_seconds_sum", source="azertag") == 15
    assert value(found, "monitor_poll_seconds_bucket", source="azertag", le="5.0") == 1
    assert value(found, "monitor_fetch_seconds_count", purpose="article") == 2
    assert value(found, "monitor_fetch_seconds_bucket", purpose="article", le="1.0") == 1
    assert value(found, "monitor_fetch_seconds_sum", purpose="feed") == pytest.approx(10.24)


def test_the_endpoint_follows_new_observations(metrics: Metrics, served: MetricsServer) -> None:
    metrics.observe_delivery("file", "sent")
    found = samples(scrape(served.port))
    assert value(found, "monitor_deliveries_total", channel="file", outcome="sent") == 1


def test_serves_on_loopback_only_and_stops(metrics: Metrics) -> None:
    stop = metrics.serve(0)
    assert (stop.host, stop.port > 0) == ("127.0.0.1", True)
    scrape(stop.port)
    stop()
    stop()  # a second stop is harmless
    with pytest.raises(OSError):
        scrape(stop.port)


def test_render_matches_the_endpoint_text(metrics: Metrics) -> None:
    text = metrics.render()
    assert b"# TYPE monitor_polls_total counter" in text
    assert b"# TYPE monitor_poll_seconds histogram" in text


def test_two_instances_do_not_clash() -> None:
    first, second = Metrics(), Metrics()
    first.observe_delivery("telegram", "sent")
    found = samples(second.render())
    assert ("monitor_deliveries_total", (("channel", "telegram"), ("outcome", "sent"))) not in found
    assert (
        value(
            samples(first.render()), "monitor_deliveries_total", channel="telegram", outcome="sent"
        )
        == 1
    )
    first_server, second_server = first.serve(0), second.serve(0)
    try:
        assert b"monitor_deliveries_total{" in scrape(first_server.port)
        assert b"monitor_deliveries_total{" not in scrape(second_server.port)
    finally:
        first_server()
        second_server()
