"""One cache interface: Redis when REDIS_URL is set, an in-process dict otherwise.

A cache is an optimisation: while Redis is unreachable, reads miss and writes are dropped
(after one failure Redis is left alone for a couple of seconds, so requests do not each wait
for a timeout). `incr` is the exception: rate limits must fail safe, so it raises.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Protocol

import redis

from app.observability.metrics import record_cache_lookup
from app.settings import get_settings

log = logging.getLogger("lorastudio.cache")


class Cache(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None: ...
    def delete(self, *keys: str) -> None: ...
    def incr(self, key: str, *, ttl: float | None = None) -> int: ...
    def ping(self) -> bool: ...


class MemoryCache:
    """Single-process fallback; every worker has its own copy."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[bytes, float | None]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= time.monotonic():
            del self._data[key]
            return None
        return value

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._live(key)
        record_cache_lookup(hit=value is not None, cache="memory")
        return value

    def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        with self._lock:
            self._data[key] = (value, time.monotonic() + ttl if ttl else None)

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def incr(self, key: str, *, ttl: float | None = None) -> int:
        with self._lock:
            current = int(self._live(key) or b"0") + 1
            expires = self._data[key][1] if key in self._data else None
            if expires is None and ttl:
                expires = time.monotonic() + ttl
            self._data[key] = (str(current).encode(), expires)
            return current

    def ping(self) -> bool:
        return True


class RedisCache:
    """Shared by every worker; keys are namespaced so one Redis can serve several apps."""

    def __init__(self, url: str, *, prefix: str = "lorastudio:", retry_after_s: float = 2.0) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix
        self.retry_after_s = retry_after_s
        self._down_until = 0.0

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, exc: redis.RedisError) -> None:
        if self._available():
            log.warning("redis unavailable; cache degraded", extra={"error": type(exc).__name__})
        self._down_until = time.monotonic() + self.retry_after_s

    def get(self, key: str) -> bytes | None:
        if not self._available():
            record_cache_lookup(hit=None, cache="redis")
            return None
        try:
            value = self.client.get(self.prefix + key)
        except redis.RedisError as exc:
            self._failed(exc)
            record_cache_lookup(hit=None, cache="redis")
            return None
        record_cache_lookup(hit=value is not None, cache="redis")
        return value

    def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        if not self._available():
            return
        try:
            self.client.set(self.prefix + key, value, px=int(ttl * 1000) if ttl else None)
        except redis.RedisError as exc:
            self._failed(exc)

    def delete(self, *keys: str) -> None:
        # Not skipped while Redis looks down: a stale entry must not survive an invalidation.
        if keys:
            try:
                self.client.delete(*(self.prefix + key for key in keys))
            except redis.RedisError as exc:
                self._failed(exc)

    def incr(self, key: str, *, ttl: float | None = None) -> int:
        pipe = self.client.pipeline()
        pipe.incr(self.prefix + key)
        if ttl:
            pipe.pexpire(self.prefix + key, int(ttl * 1000), nx=True)
        return int(pipe.execute()[0])

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False


def make_cache(redis_url: str | None) -> Cache:
    return RedisCache(redis_url) if redis_url else MemoryCache()


@functools.cache
def get_cache() -> Cache:
    return make_cache(get_settings().redis_url)
