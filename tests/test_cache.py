"""The cache behaves the same in-process and on the real Redis."""

from __future__ import annotations

import time

from app.cache import MemoryCache, RedisCache, make_cache


def test_get_set_delete_incr_and_expiry(cache_backend: str | None) -> None:
    cache = make_cache(cache_backend)
    assert isinstance(cache, RedisCache if cache_backend else MemoryCache)
    assert cache.ping()
    assert cache.get("missing") is None
    cache.set("a", b"1")
    cache.set("b", b"2", ttl=0.2)
    assert cache.get("a") == b"1" and cache.get("b") == b"2"
    assert [cache.incr("n", ttl=0.2) for _ in range(3)] == [1, 2, 3]
    cache.delete("a")
    assert cache.get("a") is None
    time.sleep(0.35)
    assert cache.get("b") is None
    assert cache.incr("n") == 1  # the counter expired with its ttl


def test_redis_cache_is_shared_between_clients(cache_backend: str | None) -> None:
    if cache_backend is None:
        return
    writer, reader = RedisCache(cache_backend), RedisCache(cache_backend)
    writer.set("shared", b"yes")
    assert reader.get("shared") == b"yes"


def test_unreachable_redis_reports_not_ok() -> None:
    assert RedisCache("redis://127.0.0.1:1/0").ping() is False
