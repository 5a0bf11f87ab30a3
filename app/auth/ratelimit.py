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


# KEYS[1] = window key; ARGV = limit, window_ms, mode, member prefix, slots wanted, then the
# members of an expired lease to give back. A hit takes up to `wanted` slots at once (a lease; see
# RedisRateLimiter), never more than the window has left.
# Returns {allowed (0/1), count after this call, ms until a slot opens, slots taken}.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local mode = ARGV[3]
if #ARGV > 5 then
  redis.call('ZREM', KEYS[1], unpack(ARGV, 6))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = count < limit
local taken = 0
if mode == 'record' then
  taken = 1
elseif mode == 'hit' and allowed then
  taken = math.min(tonumber(ARGV[5]), limit - count)
end
if taken > 0 then
  local args = {}
  for i = 1, taken do
    args[#args + 1] = now
    args[#args + 1] = ARGV[4] .. i
  end
  redis.call('ZADD', KEYS[1], unpack(args))
  redis.call('PEXPIRE', KEYS[1], window)
  count = count + taken
end
if allowed then
  return {1, count, 0, taken}
end
local blocking = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
local wait = window
if blocking[2] then wait = tonumber(blocking[2]) + window - now end
return {0, count, wait, taken}
"""


@dataclass
class _Lease:
    """Slots already recorded in Redis for one key, spent locally until they expire."""

    members: list[str]  # not yet spent, newest last
    size: int  # slots asked for last time
    expires: float  # time.monotonic()
    remaining: int  # left in the window once every leased slot is spent


class RedisRateLimiter:
    """Shared by every worker on the same Redis.

    Small limits (sign-in, sign-up, password: under `lease_from` hits per window) cost one atomic
    Lua call per hit and are exact. Large limits (the JSON API) would pay that round trip on every
    request, so a busy key takes a lease: one call records several slots at once, which this
    process spends over at most `lease_ttl_s` (and 1/60 of the window), doubling the lease while the key stays busy (up to
    `limit / lease_fraction`, at most `max_lease`), shrinking it when slots go unused, and handing
    unused slots back on the next call. Workers never admit more than the limit between them
    (every slot is recorded before it is spent); a leased slot is recorded up to `lease_ttl_s`
    before its request, so it leaves the window that much early.
    """

    lease_from = 100
    lease_fraction = 20
    max_lease = 64
    lease_ttl_s = 1.0
    max_keys = 10_000

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self.client.register_script(_LUA)
        self._url = url
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[aioredis.Redis, object]] = (
            weakref.WeakKeyDictionary()
        )
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()

    # --- leases -------------------------------------------------------------------------------

    def _leases_for(self, rate: Rate, mode: Mode) -> bool:
        return mode == "hit" and rate.limit >= self.lease_from

    def _spend(self, key: str, rate: Rate, mode: Mode) -> tuple[Decision | None, int, list[str]]:
        """A decision from a live lease, or (None, slots to ask for, members to hand back)."""
        if not self._leases_for(rate, mode):
            return None, 1, []
        now = time.monotonic()
        with self._lock:
            lease = self._leases.get(key)
            if lease is None:
                return None, 1, []
            if lease.members and lease.expires > now:
                lease.members.pop()
                return Decision(True, lease.remaining + len(lease.members), 0), 0, []
            cap = max(1, min(self.max_lease, rate.limit // self.lease_fraction))
            if lease.members:  # expired unspent: this key is not as busy as the lease assumed
                size, give_back = max(1, lease.size // 2), lease.members
            elif lease.expires > now:  # spent within its lifetime: busy
                size, give_back = min(cap, lease.size * 2), []
            else:
                size, give_back = lease.size, []
            del self._leases[key]
            return None, min(size, cap), give_back

    def _keep(self, key: str, rate: Rate, mode: Mode, prefix: str, wanted: int, result: list) -> Decision:  # type: ignore[type-arg]
        allowed, count, wait, taken = (int(result[0]), int(result[1]), float(result[2]), int(result[3]))
        if allowed and self._leases_for(rate, mode):
            # Slot 1 is this request's; the others are spent by the next requests of this key. A
            # lease with no slots left still tells the next call how busy the key was.
            members = [f"{prefix}{i}" for i in range(2, taken + 1)]
            base = max(rate.limit - count, 0)
            with self._lock:
                if len(self._leases) >= self.max_keys:
                    self._prune()
                ttl = min(self.lease_ttl_s, rate.window_s / 60)
                self._leases[key] = _Lease(members, wanted, time.monotonic() + ttl, base)
            return Decision(True, base + len(members), 0)
        return _decision(bool(allowed), count, rate.limit, wait)

    def _prune(self) -> None:
        now = time.monotonic()
        for key in [key for key, lease in self._leases.items() if lease.expires <= now]:
            del self._leases[key]
        while len(self._leases) >= self.max_keys:
            self._leases.pop(next(iter(self._leases)))

    # --- the calls ----------------------------------------------------------------------------

    def _args(self, rate: Rate, mode: Mode, wanted: int, give_back: list[str]) -> tuple[str, list[object]]:
        prefix = uuid.uuid4().hex + ":"
        return prefix, [rate.limit, rate.window_s * 1000, mode, prefix, wanted, *give_back]

    def check(self, key: str, rate: Rate, *, mode: Mode = "hit") -> Decision:
        spent, wanted, give_back = self._spend(key, rate, mode)
        if spent is not None:
            return spent
        prefix, args = self._args(rate, mode, wanted, give_back)
        result = self._script(keys=[KEY_PREFIX + key], args=args)
        return self._keep(key, rate, mode, prefix, wanted, result)

    async def acheck(self, key: str, rate: Rate, *, mode: Mode = "hit") -> Decision:
        spent, wanted, give_back = self._spend(key, rate, mode)
        if spent is not None:
            return spent
        prefix, args = self._args(rate, mode, wanted, give_back)
        client, script = self._async_script()
        result = await script(keys=[KEY_PREFIX + key], args=args, client=client)  # type: ignore[operator]
        return self._keep(key, rate, mode, prefix, wanted, result)

    def _async_script(self) -> tuple[aioredis.Redis, object]:
        # One asyncio client per event loop (a redis.asyncio connection is bound to its loop).
        loop = asyncio.get_running_loop()
        found = self._aclients.get(loop)
        if found is None:
            client = aioredis.Redis.from_url(self._url, socket_timeout=2, socket_connect_timeout=2)
            found = self._aclients[loop] = (client, client.register_script(_LUA))
        return found

    def reset(self, key: str) -> None:
        with self._lock:
            self._leases.pop(key, None)
        self.client.delete(KEY_PREFIX + key)


def make_limiter(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()


@functools.cache
def get_limiter() -> RateLimiter:
    return make_limiter(get_settings().redis_url)
