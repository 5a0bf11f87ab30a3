"""/metrics: protected, labelled by route template, fed by the cache, the ingest queue and
Reflex's event processing."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from app.cache import MemoryCache, RedisCache
from app.observability import metrics
from app.observability.middleware import ObservabilityMiddleware
from app.routes import build_api
from tests.observability.conftest import sample


def _client() -> TestClient:
    return TestClient(ObservabilityMiddleware(build_api()))


def test_metrics_are_off_without_a_token(settings_env) -> None:
    settings_env(METRICS_TOKEN="")
    assert _client().get("/metrics").status_code == 404
    assert _client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_metrics_need_the_bearer_token(settings_env) -> None:
    settings_env(METRICS_TOKEN="scrape-me")
    client = _client()
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Basic scrape-me"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
    assert "lorastudio_http_requests_total" in ok.text


def test_requests_are_counted_by_route_template_not_raw_path(settings_env) -> None:
    settings_env(METRICS_TOKEN="t")
    route = "/runtime/models/{name}"
    before = sample("lorastudio_http_requests_total", route=route, status="404")
    client = _client()
    for name in ("a.bin", "b.bin", "c.bin"):
        assert client.get(f"/runtime/models/{name}").status_code == 404
    assert sample("lorastudio_http_requests_total", route=route, status="404") == before + 3
    text = client.get("/metrics", headers={"Authorization": "Bearer t"}).text
    assert "a.bin" not in text, "raw paths never become label values"
    assert f'lorastudio_http_request_duration_seconds_count{{method="GET",route="{route}"}}' in text


def test_cache_hits_misses_and_errors_are_counted() -> None:
    hits = sample("lorastudio_cache_lookups_total", cache="memory", result="hit")
    misses = sample("lorastudio_cache_lookups_total", cache="memory", result="miss")
    cache = MemoryCache()
    cache.set("k", b"v")
    assert cache.get("k") == b"v" and cache.get("k") == b"v" and cache.get("nope") is None
    assert sample("lorastudio_cache_lookups_total", cache="memory", result="hit") == hits + 2
    assert sample("lorastudio_cache_lookups_total", cache="memory", result="miss") == misses + 1

    errors = sample("lorastudio_cache_lookups_total", cache="redis", result="error")
    down = RedisCache("redis://127.0.0.1:1/0")
    assert down.get("k") is None  # degraded: a miss, not an exception
    down.set("k", b"v")  # dropped, not raised
    start = time.monotonic()
    assert down.get("k") is None
    assert time.monotonic() - start < 0.05, "while Redis is down the cache does not retry on every read"
    assert sample("lorastudio_cache_lookups_total", cache="redis", result="error") == errors + 2


def test_ingest_queue_depth_is_a_gauge() -> None:
    metrics.set_ingest_queue_depth(7)
    assert sample("lorastudio_ingest_queue_depth") == 7
    metrics.set_ingest_queue_depth(0)
    assert sample("lorastudio_ingest_queue_depth") == 0


def test_reflex_event_timings_arrive_through_reflex_instrumentation(json_logs) -> None:
    from reflex_base import otel

    assert metrics.install_event_metrics()
    assert otel.enabled
    name = "state.catalog_state.search"
    before = sample("lorastudio_event_duration_seconds_count", event=name, outcome="ok")
    otel._event_duration.record(0.012, {otel.ATTR_EVENT_NAME: name, otel.ATTR_EVENT_BACKGROUND: False})
    otel._event_duration.record(0.5, {otel.ATTR_EVENT_NAME: name, otel.ATTR_ERROR_TYPE: "OperationalError"})
    otel.record_connection(1)
    assert sample("lorastudio_event_duration_seconds_count", event=name, outcome="ok") == before + 1
    assert sample("lorastudio_event_duration_seconds_count", event=name, outcome="OperationalError") >= 1
    assert sample("lorastudio_websocket_connections") >= 1
    otel.record_connection(-1)
    events = json_logs.records("lorastudio.events")
    assert events[-1]["event"] == name and events[-1]["outcome"] == "OperationalError"
    assert events[-1]["duration_ms"] == 500.0


def test_the_analytics_writer_publishes_its_backlog(tmp_path) -> None:
    """Events the writer cannot store yet (here: an unreachable database) show as queue depth."""
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from app.analytics.pipeline import Envelope, MemoryQueue, Writer
    from tests.analytics.factory import event

    queue = MemoryQueue(capacity=100)
    for _ in range(3):
        queue.put(Envelope(received_at=datetime.now(UTC), user_id=None, events=[event(), event("page_view")]))
    unreachable = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite'}")
    writer = Writer(queue, unreachable, max_delay_s=0.05, idle_wait_s=0.05).start()
    try:
        deadline = time.monotonic() + 10
        while sample("lorastudio_ingest_queue_depth") != 6:
            assert time.monotonic() < deadline, "the writer never reported its 6 waiting events"
            time.sleep(0.05)
    finally:
        # Cannot drain into a missing database: stop gives up instead of retrying (and logging
        # "unable to open database file") until the test process exits.
        assert writer.stop(timeout=0.5) is False
    assert not writer.alive
    metrics.set_ingest_queue_depth(0)
