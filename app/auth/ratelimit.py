"""The one rate limiter: a sliding window log per key.

With Redis (REDIS_URL) every worker shares one sorted set per key, updated atomically by a Lua
script that reads Redis' own clock; without Redis each process keeps its own windows (the
embedded topology runs one process). A refused hit is not recorded, so hammering a closed window
does not keep it closed: it reopens at most `window_s` after the last allowed hit.
"""

from __future__ import annotations

import asyncio
import functools
import math
import threading
import time
import uuid
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Literal, Protocol

import redis
import redis.asyncio as aioredis

from app.settings import Rate, get_settings

Mode = Literal["hit", "peek", "record"]
KEY_PREFIX = "lorastudio:rl:"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: int  # whole seconds until one more hit would be allowed (0 when allowed)


class RateLimiter(Protocol):
    def check(self, key: str, rate: Rate, *, mode: Mode = "hit") -> Decision: ...
    async def acheck(self, key: str, rate: Rate, *, mode: Mode = "hit") -> Decision: ...
    def reset(self, key: str) -> None: ...


def _decision(allowed: bool, count: int, limit: int, retry_ms: float) -> Decision:
    return Decision(allowed, max(limit - count, 0), 0 if allowed else max(1, math.ceil(retry_ms / 1000)))


class MemoryRateLimiter:
    """Per-process windows; bounded by dropping idle keys."""

    max_keys = 100_000

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, rate: Rate, *, mode: Mode = "hit") -> Decision:
        now = time.monotonic()
        window = float(rate.window_s)
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if mode == "peek":
                    return Decision(True, rate.limit, 0)
                if len(self._hits) >= self.max_keys:
                    self._prune(now, window)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - window:
                hits.popleft()
            count = len(hits)
            allowed = count < rate.limit
            if mode == "record" or (mode == "hit" and allowed):
                hits.append(now)
                count += 1
            if allowed:
                return _decision(True, count, rate.limit, 0)
            # The hit that must expire before a slot opens is the (count - limit + 1)-th oldest.
            blocking = hits[count - rate.limit] if count >= rate.limit else now
            return _decision(False, count, rate.limit, (blocking + window - now) * 1000)

    async def acheck(self, key: str, rate: Rate, *, mode: Mode = "hit") -> Decision:
        return self.check(key, rate, mode=mode)

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)

    def _prune(self, now: float, window: float) -> None:
        for key in [key for key, hits in self._hits.items() if not hits or hits[-1] <= now - window]:
            del self._hits[key]
        while len(self._hits) >= self.max_keys:
            self._hits.pop(next(iter(self._hits)))


# KEYS[1] = window key; ARGV = limit, window_ms, mode, unique member.
# Returns {allowed (0/1), count after this call, ms until a slot opens}.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local mode = ARGV[3]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = count < limit
if mode == 'record' or (mode == 'hit' and allowed) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  count = count + 1
end
if allowed then
  return {1, count, 0}
end
local blocking = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
local wait = window
if blocking[2] then wait = tonumber(blocking[2]) + window - now end
return {0, count, wait}
"""


class RedisRateLimiter:
    """Shared by every worker on the same Redis."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self.client.register_script(_LUA)
        self._url = url
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[aioredis.Redis, object]] = (
            weakref.WeakKeyDictionary()
        )

    def check(self, key: str, rate: Rate, *, mode: Mode = "hit") -> Decision:
        allowed, count, wait = self._script(
            keys=[KEY_PREFIX + key], args=[rate.limit, rate.window_s * 1000, mode, uuid.uuid4().hex]
        )
        return _decision(bool(allowed), int(count), rate.limit, float(wait))

    async def acheck(self, key: str, rate: Rate, *, mode: Mode = "hit") -> Decision:
        client, script = self._async_script()
        allowed, count, wait = await script(  # type: ignore[operator]
            keys=[KEY_PREFIX + key], args=[rate.limit, rate.window_s * 1000, mode, uuid.uuid4().hex], client=client
        )
        return _decision(bool(allowed), int(count), rate.limit, float(wait))

    def _async_script(self) -> tuple[aioredis.Redis, object]:
        # One asyncio client per event loop (a redis.asyncio connection is bound to its loop).
        loop = asyncio.get_running_loop()
        found = self._aclients.get(loop)
        if found is None:
            client = aioredis.Redis.from_url(self._url, socket_timeout=2, socket_connect_timeout=2)
            found = self._aclients[loop] = (client, client.register_script(_LUA))
        return found

    def reset(self, key: str) -> None:
        self.client.delete(KEY_PREFIX + key)


def make_limiter(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()


@functools.cache
def get_limiter() -> RateLimiter:
    return make_limiter(get_settings().redis_url)
