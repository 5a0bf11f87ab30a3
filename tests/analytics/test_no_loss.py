"""No accepted event is lost: requests stay fast while the database is slow, and a clean
shutdown writes everything that was accepted (in-process queue and Redis stream)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.testclient import TestClient

from app.analytics import lifecycle
from app.analytics.pipeline import EventQueue, MemoryQueue, RedisStreamQueue
from app.routes.events import EVENTS_PATH, event_routes
from tests.analytics.conftest import count
from tests.analytics.factory import event
from tests.support import services

# A Redis database of its own: other suites flush theirs (tests.support.services.REDIS_URL).
STREAM_REDIS_URL = services.REDIS_URL.rsplit("/", 1)[0] + "/13"
DB_DELAY_S = 0.02  # every statement
COMMIT_DELAY_S = 0.25  # every commit


def slow_engine(url: str) -> sa.Engine:
    """The real database, answering slowly: a writer stuck behind it must not slow requests."""
    sqlite = url.startswith("sqlite")
    connect_args = {"check_same_thread": False, "timeout": 30} if sqlite else {}
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=connect_args)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _delay(*_args) -> None:  # noqa: ANN002
        time.sleep(DB_DELAY_S)

    @sa.event.listens_for(engine, "commit")
    def _delay_commit(*_args) -> None:  # noqa: ANN002
        time.sleep(COMMIT_DELAY_S)

    return engine


@pytest.fixture(params=["memory", "redis"])
def queue(request: pytest.FixtureRequest) -> Iterator[EventQueue]:
    if request.param == "memory":
        yield MemoryQueue(capacity=1_000_000)
        return
    if not services.redis_reachable(STREAM_REDIS_URL):
        services.unavailable(f"Redis not reachable at {STREAM_REDIS_URL}")
    key = f"test:analytics:{uuid.uuid4().hex}"
    stream = RedisStreamQueue(STREAM_REDIS_URL, capacity=1_000_000, key=key)
    yield stream
    stream.client.delete(key, stream.counter)


def test_slow_database_clean_shutdown_loses_nothing(
    db_url: str, db_engine: sa.Engine, queue: EventQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.settings import get_settings

    settings = get_settings()
    monkeypatch.setattr(settings, "analytics_flush_max_events", 150)  # many small, slow batches
    monkeypatch.setattr(settings, "analytics_flush_interval_s", 0.05)
    engine = slow_engine(db_url)
    lifecycle.stop()
    app = Starlette(
        routes=event_routes(),
        lifespan=lambda _app: lifecycle.lifespan(engine=engine, queue=queue),
    )
    requests, per_request = 60, 50
    latencies = []
    with TestClient(app) as client:
        for i in range(requests):
            batch = [event(session_id=f"session-{i:04d}-{j:04d}xx") for j in range(per_request)]
            started = time.perf_counter()
            response = client.post(EVENTS_PATH, json={"events": batch})
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 202 and response.json()["accepted"] == per_request
        backlog_at_shutdown = queue.backlog()
        written_before_shutdown = count(engine)  # (a new app-engine connection would hit the WAL pragma lock)
    # Leaving the client ran the app's shutdown: the writer drained the queue.
    total = requests * per_request
    assert written_before_shutdown < total, "the database was not slow enough to build a backlog"
    assert backlog_at_shutdown > 0 or written_before_shutdown < total
    assert count(db_engine) == total
    assert sorted(latencies)[len(latencies) // 2] < COMMIT_DELAY_S  # requests never waited on a commit
    with db_engine.connect() as conn:
        counted = conn.execute(
            sa.text(
                "SELECT sum(count) FROM analytics_rollup WHERE grain='h' AND dim='all' AND metric='generation_finished'"
            )
        ).scalar_one()
        sessions = conn.execute(
            sa.text(
                "SELECT sum(count) FROM analytics_rollup WHERE grain='d' AND dim='all' AND metric='active_sessions'"
            )
        ).scalar_one()
    assert counted == total and sessions == total


def test_redis_entry_delivered_twice_is_stored_once(db_engine: sa.Engine) -> None:
    """A worker that died after writing but before acknowledging: its entry comes back, once."""
    if not services.redis_reachable(STREAM_REDIS_URL):
        services.unavailable(f"Redis not reachable at {STREAM_REDIS_URL}")
    from datetime import UTC, datetime

    from app.analytics import store
    from app.analytics.pipeline import Envelope

    key = f"test:analytics:{uuid.uuid4().hex}"
    stream = RedisStreamQueue(STREAM_REDIS_URL, capacity=1000, key=key)
    try:
        stream.put(Envelope(received_at=datetime.now(UTC), user_id=None, events=[event(), event("page_view")]))
        [envelope] = stream.take(100, 1.0)
        rows = envelope.rows()
        first = store.write_with_retry(db_engine, rows, entry_ids=[envelope.entry_id])
        again = store.write_with_retry(db_engine, rows, entry_ids=[envelope.entry_id])  # no ack in between
        assert (first.stored, again.stored, again.duplicate_entries) == (2, 0, 1)
        assert count(db_engine) == 2
        stream.ack([envelope])
        assert stream.backlog() == 0 and stream.client.xlen(key) == 0
        # Redis lost everything (restart without persistence): the queue recreates its group.
        stream.client.delete(key)
        stream.put(Envelope(received_at=datetime.now(UTC), user_id=None, events=[event()]))
        stream.client.delete(key)
        assert stream.take(100, 0.1) == []
        stream.put(Envelope(received_at=datetime.now(UTC), user_id=None, events=[event()]))
        [again_envelope] = stream.take(100, 1.0)
        assert again_envelope.events[0]["type"] == "generation_finished"
    finally:
        stream.client.delete(key, stream.counter)
