"""Two app workers (separate processes) on the real Redis and a shared database."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.support import services
from tests.support.config_workers import WorkerProcess
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def namespace() -> Iterator[str]:
    """Channels and keys of this test only (pub/sub channels are shared by every Redis database)."""
    if not services.redis_reachable():
        services.unavailable(f"Redis not reachable at {services.REDIS_URL}")
    name = f"test-{uuid.uuid4().hex[:12]}:"
    yield name
    client = redis.Redis.from_url(services.REDIS_URL)
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)


@pytest.fixture
def workers(db_engine, db_url: str, namespace: str) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.close()


def test_a_change_through_one_worker_is_read_by_the_other_within_a_second(
    workers: list[WorkerProcess], db_url: str, namespace: str
) -> None:
    a = WorkerProcess(db_url, services.REDIS_URL, namespace)
    workers.append(a)
    b = WorkerProcess(db_url, services.REDIS_URL, namespace)
    workers.append(b)
    assert b.call(op="get", key="banner.text")["value"] == ""

    for step, (writer, reader) in enumerate([(a, b), (b, a), (a, b), (a, b), (b, a)]):
        text = f"Release {step}"
        reader.start_wait("banner.text", text, timeout=5)
        written = writer.call(op="set", key="banner.text", value=text)["t"]
        seen = reader.seen()
        assert seen is not None, f"change {step} never reached the other worker"
        assert seen - written <= 1.0, f"change {step} took {seen - written:.3f}s"
    assert a.call(op="get", key="banner.text") == b.call(op="get", key="banner.text")


def test_a_disconnected_worker_catches_up_when_it_reconnects(
    workers: list[WorkerProcess], db_url: str, namespace: str
) -> None:
    target = redis.Redis.from_url(services.REDIS_URL).connection_pool.connection_kwargs
    proxy = TcpProxy(target.get("host", "127.0.0.1"), int(target.get("port", 6379))).start()
    db_index = target.get("db", 0)
    writer = WorkerProcess(db_url, services.REDIS_URL, namespace)
    workers.append(writer)
    away = WorkerProcess(db_url, f"redis://127.0.0.1:{proxy.port}/{db_index}", namespace)
    workers.append(away)
    try:
        first = away.call(op="get", key="signup.enabled")
        assert first["value"] is True and first["connected"]

        proxy.cut()
        deadline = time.monotonic() + 15
        while away.call(op="get", key="signup.enabled")["connected"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not away.call(op="get", key="signup.enabled")["connected"], "worker never noticed the cut"

        writer.call(op="set", key="signup.enabled", value=False)
        time.sleep(1.5)  # longer than a connected worker would need
        stale = away.call(op="get", key="signup.enabled")
        assert stale["value"] is True, "the change arrived by some path other than Redis"

        away.start_wait("signup.enabled", False, timeout=10)
        reconnected = time.time()
        proxy.start()
        seen = away.seen()
        assert seen is not None, "worker did not catch up after reconnecting"
        assert seen - reconnected <= 5.0
        assert away.call(op="get", key="signup.enabled")["connected"]
    finally:
        proxy.cut()
