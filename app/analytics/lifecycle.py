"""Start and stop the write path with the app (Reflex lifespan), and record server-side events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import tomllib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session

from app.analytics import store, wiring
from app.analytics.pipeline import Envelope, EventQueue, MemoryQueue, RedisStreamQueue, Writer
from app.analytics.schema import ANY_EVENT, SCHEMA_VERSION
from app.cache import get_cache
from app.db import get_engine
from app.settings import Settings, get_settings

log = logging.getLogger("lorastudio.analytics")
PURGE_EVERY_S = 3600


def _app_version() -> str:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        return tomllib.loads(pyproject.read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "0.0.0"


APP_VERSION = _app_version()


class Pipeline:
    """One process's queue and writer."""

    def __init__(self, queue: EventQueue, writer: Writer) -> None:
        self.queue, self.writer = queue, writer

    def submit(self, envelope: Envelope) -> None:
        self.queue.put(envelope)

    def stop(self, timeout: float | None = None) -> bool:
        drained = self.writer.stop(timeout)
        if not drained:
            log.error("analytics writer did not drain within %ss", timeout)
        return drained


_current: Pipeline | None = None
_lock = threading.Lock()


def make_queue(settings: Settings) -> EventQueue:
    if settings.redis_url:
        return RedisStreamQueue(settings.redis_url, capacity=settings.analytics_queue_capacity)
    return MemoryQueue(capacity=settings.analytics_queue_capacity)


class PurgeSchedule:
    """Runs the retention purge about hourly; one worker at a time (a lock on the shared cache)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.next_at = time.monotonic() + 60

    def __call__(self) -> None:
        if time.monotonic() < self.next_at:
            return
        self.next_at = time.monotonic() + PURGE_EVERY_S
        if get_cache().incr(f"analytics:purge:{int(time.time() // PURGE_EVERY_S)}", ttl=PURGE_EVERY_S) != 1:
            return
        with Session(self.engine) as session:
            result = store.purge(session, retention_days=wiring.retention_days())
        log.info("analytics purge: %s", result)


def start(*, engine: sa.Engine | None = None, queue: EventQueue | None = None) -> Pipeline:
    global _current
    settings = get_settings()
    with _lock:
        if _current is not None:
            return _current
        engine = engine or get_engine()
        queue = queue or make_queue(settings)
        writer = Writer(
            queue,
            engine,
            max_events=settings.analytics_flush_max_events,
            max_delay_s=settings.analytics_flush_interval_s,
            maintenance=PurgeSchedule(engine),
        ).start()
        _current = Pipeline(queue, writer)
        return _current


def stop() -> None:
    global _current
    with _lock:
        pipeline, _current = _current, None
    if pipeline is not None:
        pipeline.stop(get_settings().analytics_shutdown_timeout_s)


def current() -> Pipeline | None:
    return _current


@contextlib.asynccontextmanager
async def lifespan(*, engine: sa.Engine | None = None, queue: EventQueue | None = None) -> AsyncIterator[None]:
    """Registered with `app.register_lifespan_task`: the writer runs while the app serves and
    drains the queue when the app shuts down."""
    start(engine=engine, queue=queue)
    try:
        yield
    finally:
        await asyncio.to_thread(stop)


def record_server_event(event: BaseModel | dict, *, user_id: int | None = None) -> None:
    """For accounts and the catalog: record a sign-in, sign-up, upload, publish or file download.

    Goes through the same queue as browser events; without a running writer (CLI, scripts) it
    is written at once.
    """
    if not wiring.analytics_enabled():
        return
    data = event.model_dump() if isinstance(event, BaseModel) else dict(event)
    data.setdefault("v", SCHEMA_VERSION)
    data.setdefault("app_version", APP_VERSION)
    validated = ANY_EVENT.validate_python(data).model_dump()
    envelope = Envelope(received_at=datetime.now(UTC), user_id=user_id, events=[validated])
    pipeline = current()
    if pipeline is not None:
        pipeline.submit(envelope)
        return
    store.write_with_retry(get_engine(), envelope.rows())


def note_server_event(event: dict, *, user_id: int | None = None) -> None:
    """record_server_event for other modules' request paths: never fails the caller's request
    (analytics off, a full queue, Redis or the database down: logged and dropped). Call it after
    the caller's transaction has committed, so it never waits on the caller's own locks."""
    try:
        record_server_event(event, user_id=user_id)
    except Exception:  # noqa: BLE001 - analytics must not break sign-in, uploads or downloads
        log.warning("analytics: could not record a %s event", event.get("type"), exc_info=True)


def note_if_running(event: dict, *, user_id: int | None = None) -> None:
    """note_server_event for the catalog: only while the app's writer runs (a queue put, never a
    database write on the request path); scripts and domain code without the app record nothing."""
    if current() is not None:
        note_server_event(event, user_id=user_id)
