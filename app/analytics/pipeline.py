"""The write path: accepted events go into a queue at once; one background writer per process
drains it into the database in batches (by size or time), so a request never waits on the
database. With REDIS_URL the queue is a Redis stream shared by all workers (consumer group,
acknowledged only after commit, entries of a dead worker reclaimed); without it, an in-process
queue. Stopping the writer drains the queue first: no accepted event is lost on a clean shutdown.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

import redis
import sqlalchemy as sa
from pydantic_core import from_json, to_json

from app.analytics import store
from app.observability import metrics

log = logging.getLogger("lorastudio.analytics")


class QueueFullError(Exception):
    """The writer is too far behind; the client should retry later (503)."""


@dataclasses.dataclass
class Envelope:
    """The accepted events of one request: when they arrived and who sent them."""

    received_at: datetime
    user_id: int | None
    events: list[dict[str, Any]]
    entry_id: str | None = None

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for event in self.events:
            row = store.to_row(event, received_at=self.received_at, user_id=self.user_id)
            if self.entry_id is not None:
                row["_entry"] = self.entry_id
            out.append(row)
        return out


class EventQueue(Protocol):
    def put(self, envelope: Envelope) -> None: ...
    def take(self, max_events: int, timeout: float) -> list[Envelope]: ...
    def ack(self, envelopes: list[Envelope]) -> None: ...
    def backlog(self) -> int: ...
    def wake(self) -> None: ...
    def close(self) -> None: ...


class MemoryQueue:
    def __init__(self, *, capacity: int) -> None:
        self.capacity = capacity
        self._items: collections.deque[Envelope] = collections.deque()
        self._size = 0
        self._cond = threading.Condition()

    def put(self, envelope: Envelope) -> None:
        with self._cond:
            if self._size + len(envelope.events) > self.capacity:
                raise QueueFullError
            self._items.append(envelope)
            self._size += len(envelope.events)
            self._cond.notify()

    def take(self, max_events: int, timeout: float) -> list[Envelope]:
        with self._cond:
            if not self._items and timeout > 0:
                self._cond.wait(timeout)
            out: list[Envelope] = []
            taken = 0
            while self._items and (not out or taken + len(self._items[0].events) <= max_events):
                envelope = self._items.popleft()
                out.append(envelope)
                taken += len(envelope.events)
            self._size -= taken
            return out

    def ack(self, envelopes: list[Envelope]) -> None:
        """Nothing to do: taken items left the queue; the writer keeps them until written."""

    def backlog(self) -> int:
        return self._size

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """Nothing held outside this process."""


class RedisStreamQueue:
    GROUP = "writers"

    def __init__(self, url: str, *, capacity: int, key: str = "lorastudio:analytics:events") -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self.key = key
        self.capacity = capacity
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.counter = key + ":backlog"  # events not yet acknowledged, for back-pressure
        self._length_checked = 0.0
        self._full = False
        self._last_claim = 0.0
        self._ensure_group()

    def _ensure_group(self) -> None:
        """Create the stream's consumer group (again, after a Redis restart without persistence)."""
        try:
            self.client.xgroup_create(self.key, self.GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def put(self, envelope: Envelope) -> None:
        now = time.monotonic()
        if now - self._length_checked > 0.5:
            self._full = int(self.client.get(self.counter) or 0) > self.capacity
            self._length_checked = now
        if self._full:
            raise QueueFullError
        payload = {
            "t": envelope.received_at.timestamp(),
            "u": envelope.user_id,
            "e": envelope.events,
        }
        pipe = self.client.pipeline(transaction=False)
        pipe.xadd(self.key, {"d": to_json(payload)})
        pipe.incrby(self.counter, len(envelope.events))
        pipe.execute()

    def take(self, max_events: int, timeout: float) -> list[Envelope]:
        try:
            return self._take(max_events, timeout)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("analytics: the Redis stream or its group disappeared; recreating it")
            self._ensure_group()
            return self._take(max_events, timeout)

    def _take(self, max_events: int, timeout: float) -> list[Envelope]:
        now = time.monotonic()
        entries: list[tuple[bytes, dict[bytes, bytes]]] = []
        if now - self._last_claim > 15:
            # Entries a crashed worker read but never acknowledged come back after 60 s.
            self._last_claim = now
            claimed = self.client.xautoclaim(self.key, self.GROUP, self.consumer, min_idle_time=60_000, count=100)
            entries += claimed[1]
        if not entries:
            block = int(timeout * 1000) if timeout > 0 else None
            count = max(1, max_events // 50)
            response = self.client.xreadgroup(self.GROUP, self.consumer, {self.key: ">"}, count=count, block=block)
            for _stream, items in response or []:
                entries += items
        out = []
        for entry_id, fields in entries:
            if not fields:  # deleted while pending
                continue
            payload = from_json(fields[b"d"])
            out.append(
                Envelope(
                    received_at=datetime.fromtimestamp(payload["t"], UTC),
                    user_id=payload["u"],
                    events=payload["e"],
                    entry_id=entry_id.decode(),
                )
            )
        return out

    def ack(self, envelopes: list[Envelope]) -> None:
        ids = [envelope.entry_id for envelope in envelopes if envelope.entry_id]
        if ids:
            pipe = self.client.pipeline()
            pipe.xack(self.key, self.GROUP, *ids)
            pipe.xdel(self.key, *ids)
            pipe.decrby(self.counter, sum(len(e.events) for e in envelopes if e.entry_id))
            pipe.execute()

    def backlog(self) -> int:
        return max(0, int(self.client.get(self.counter) or 0))

    def wake(self) -> None:
        """A blocked read returns within its (short) block time."""

    def close(self) -> None:
        """Leave the consumer group once nothing of ours is pending (the group would keep the name)."""
        try:
            pending = self.client.xpending_range(self.key, self.GROUP, "-", "+", 1, consumername=self.consumer)
            if not pending:
                self.client.xgroup_delconsumer(self.key, self.GROUP, self.consumer)
        except redis.RedisError:
            log.warning("analytics: could not leave the Redis consumer group", exc_info=True)


class Writer:
    """Drains the queue into the database on a background thread."""

    def __init__(
        self,
        queue: EventQueue,
        engine: sa.Engine,
        *,
        max_events: int = 5000,
        max_delay_s: float = 1.0,
        idle_wait_s: float = 0.5,
        maintenance: Any = None,
    ) -> None:
        self.queue = queue
        self.engine = engine
        self.max_events = max_events
        self.max_delay_s = max_delay_s
        self.idle_wait_s = idle_wait_s
        self.maintenance = maintenance
        self.written = 0
        self.failures = 0
        self._stopping = threading.Event()
        self._abandoned = threading.Event()
        self._thread = threading.Thread(target=self._run, name="analytics-writer", daemon=True)
        self._held: list[Envelope] = []
        self._seen = store.SeenCache()

    def start(self) -> Writer:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the writer to drain everything and exit; True when it did within the timeout.

        If it could not (the database is unreachable), the thread is told to give up at its next
        retry instead of retrying and logging for minutes after the app (or a test) is gone; with
        the Redis queue, unacknowledged entries are reclaimed by another worker."""
        self._stopping.set()
        self.queue.wake()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abandoned.set()
            self._thread.join(1.0)
        return not self._thread.is_alive() and not self._held

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _collect(self, *, draining: bool) -> list[Envelope]:
        batch, size, deadline = list(self._held), sum(len(e.events) for e in self._held), None
        while size < self.max_events:
            now = time.monotonic()
            draining = draining or self._stopping.is_set()
            if draining:
                wait = 0.0
            elif deadline is None:
                wait = self.idle_wait_s
            else:
                wait = deadline - now
                if wait <= 0:
                    break
            got = self.queue.take(self.max_events - size, wait)
            if not got:
                if draining or deadline is None:
                    break
                continue
            batch += got
            size += sum(len(e.events) for e in got)
            if deadline is None:
                deadline = now + self.max_delay_s
        return batch

    def flush_once(self, *, draining: bool = False) -> int:
        """Collect one batch and write it; returns the number of events handled."""
        batch = self._collect(draining=draining)
        if not batch:
            return 0
        self._held = batch
        rows = [row for envelope in batch for row in envelope.rows()]
        entry_ids = [e.entry_id for e in batch if e.entry_id]
        store.write_with_retry(self.engine, rows, entry_ids=entry_ids, seen_cache=self._seen)
        self.queue.ack(batch)
        self._held = []
        self.written += len(rows)
        return len(rows)

    def _run(self) -> None:
        backoff = 0.5
        while True:
            self._report_depth()
            draining = self._stopping.is_set()
            try:
                handled = self.flush_once(draining=draining)
                backoff = 0.5
            except Exception:  # noqa: BLE001 - keep the batch and retry; never lose it
                self.failures += 1
                log.exception("analytics writer: write failed; %d events held for retry", self._held_count())
                if self._abandoned.is_set() or (draining and self.failures > 20):
                    log.error("analytics writer: giving up at shutdown; %d events not written", self._held_count())
                    return
                self._abandoned.wait(backoff)
                backoff = min(backoff * 2, 10)
                continue
            if draining and handled == 0:
                self.queue.close()
                return
            if not draining and self.maintenance is not None:
                try:
                    self.maintenance()
                except Exception:  # noqa: BLE001 - maintenance must not stop ingestion
                    log.exception("analytics maintenance failed")

    def _held_count(self) -> int:
        return sum(len(e.events) for e in self._held)

    def _report_depth(self) -> None:
        """Publish the backlog for /metrics (lorastudio_ingest_queue_depth)."""
        try:
            metrics.set_ingest_queue_depth(self.queue.backlog() + self._held_count())
        except Exception:  # noqa: BLE001 - a metric must never stop ingestion (e.g. Redis down)
            return
