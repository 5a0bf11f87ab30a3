"""Prometheus metrics for every worker process, served together by GET /metrics.

Workers write their samples to files in PROMETHEUS_MULTIPROC_DIR (procenv.py); any worker
answering /metrics aggregates all of them, so a scrape through a load balancer sees the whole
pod. Reflex's event-handler latencies arrive through Reflex's own instrumentation points
(`reflex_base.otel`), fed here by a minimal meter instead of an OpenTelemetry SDK.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from app.observability.procenv import ensure_metrics_dir

ensure_metrics_dir()  # before prometheus_client is imported: it picks its storage at import time
from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter(
    "lorastudio_http_requests_total",
    "HTTP requests by route template, method and status code.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "lorastudio_http_request_duration_seconds",
    "Time to the end of the response, by route template and method.",
    ["route", "method"],
    buckets=_LATENCY_BUCKETS,
)
EVENT_LATENCY = Histogram(
    "lorastudio_event_duration_seconds",
    "Reflex event handler run time, by event and outcome (ok or the exception type).",
    ["event", "outcome"],
    buckets=_LATENCY_BUCKETS,
)
STATE_ACQUIRE = Histogram(
    "lorastudio_state_acquire_duration_seconds",
    "Time an event waited to lock and load its session state (Redis in production).",
    buckets=_LATENCY_BUCKETS,
)
WS_CONNECTIONS = Gauge(
    "lorastudio_websocket_connections",
    "Open browser websocket connections (Reflex sessions).",
    multiprocess_mode="livesum",
)
INGEST_QUEUE = Gauge(
    "lorastudio_ingest_queue_depth",
    "Analytics events accepted but not yet written to the database.",
    # With Redis the queue is one stream that every worker sees whole; without Redis there is
    # one worker. Either way the largest value reported by a live worker is the backlog.
    multiprocess_mode="livemax",
)
CACHE_LOOKUPS = Counter(
    "lorastudio_cache_lookups_total",
    "Cache lookups by cache and result (hit, miss, error). Hit rate: hit / (hit + miss).",
    ["cache", "result"],
)

_events_log = logging.getLogger("lorastudio.events")


# ---- the small functions other modules call ----


def set_ingest_queue_depth(depth: int) -> None:
    """Called by the analytics writer whenever its in-process queue changes size."""
    INGEST_QUEUE.set(depth)


def record_cache_lookup(*, hit: bool | None, cache: str = "app") -> None:
    """One cache read: hit=True/False, or None when the cache could not be reached."""
    CACHE_LOOKUPS.labels(cache=cache, result="error" if hit is None else "hit" if hit else "miss").inc()


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    HTTP_LATENCY.labels(route=route, method=method).observe(seconds)


def render() -> tuple[bytes, str]:
    """The exposition text of every worker of this server, and its content type."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


# ---- Reflex event processing, through reflex_base.otel's instrumentation points ----


class _Instrument:
    def __init__(self, name: str) -> None:
        self.name = name

    def record(self, value: float, attributes: dict[str, Any] | None = None, *_: Any, **__: Any) -> None:
        attributes = attributes or {}
        if self.name == "reflex.event.duration":
            _record_event(value, attributes)
        elif self.name == "reflex.state.acquire.duration":
            STATE_ACQUIRE.observe(value)

    def add(self, amount: float, attributes: dict[str, Any] | None = None, *_: Any, **__: Any) -> None:
        if self.name == "reflex.websocket.connections":
            WS_CONNECTIONS.inc(amount)


class _Meter:
    def create_histogram(self, name: str, *_: Any, **__: Any) -> _Instrument:
        return _Instrument(name)

    def create_up_down_counter(self, name: str, *_: Any, **__: Any) -> _Instrument:
        return _Instrument(name)

    def create_counter(self, name: str, *_: Any, **__: Any) -> _Instrument:
        return _Instrument(name)


class _MeterProvider:
    def get_meter(self, *_: Any, **__: Any) -> _Meter:
        return _Meter()


def _record_event(seconds: float, attributes: dict[str, Any]) -> None:
    event = str(attributes.get("reflex.event.name", "unknown"))
    outcome = str(attributes.get("error.type", "ok"))
    EVENT_LATENCY.labels(event=event, outcome=outcome).observe(seconds)
    txid, session = _event_ids()
    _events_log.info(
        "event",
        extra={
            "event": event,
            "event_id": txid,
            "session_hash": session,
            "duration_ms": round(seconds * 1000, 2),
            "outcome": outcome,
        },
    )


def _event_ids() -> tuple[str | None, str | None]:
    """The event's transaction id, and a pseudonymous session id (the client token authorizes
    access to the session's state, so only a digest of it may leave the process)."""
    try:
        from reflex_base.event.context import EventContext

        ctx = EventContext.get()
    except (LookupError, ImportError):
        return None, None
    return ctx.txid, hashlib.sha256(ctx.token.encode()).hexdigest()[:16]


def install_event_metrics() -> bool:
    """Turn on Reflex's instrumentation points with our meter. False if unavailable."""
    try:
        from reflex_base import otel

        otel.enable(meter_provider=_MeterProvider())  # type: ignore[arg-type]
    except ImportError:  # opentelemetry-api missing: HTTP metrics still work
        logging.getLogger("lorastudio.metrics").warning("event metrics off: opentelemetry-api is not installed")
        return False
    return True
