"""How a change made in one worker reaches every other worker.

With Redis: the writer raises a version key (never lowers it) and publishes the new version; every
worker listens on the channel and also compares the version key once per `interval`, so a worker that
missed a message (disconnected, Redis restarted) catches up on reconnect. The database stays the
truth: a worker that sees a different version reloads its snapshot from it.

Without Redis (one process): the writer applies its own change at once; a slow poll of the database
version picks up changes made by another process on the same database (the CLI).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import redis

log = logging.getLogger("lorastudio.config")

# Raise the version key to ARGV[1] unless it is already higher (two writers may finish out of order).
_RAISE_VERSION = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = tonumber(ARGV[1])
if new > current then redis.call('SET', KEYS[1], ARGV[1]) return new end
return current
"""


class RedisFanout:
    def __init__(
        self,
        url: str,
        *,
        namespace: str,
        local_version: Callable[[], int],
        reload: Callable[[], int],
        interval: float = 1.0,
    ) -> None:
        self.channel = f"{namespace}config:changed"
        self.version_key = f"{namespace}config:version"
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._raise_version = self.client.register_script(_RAISE_VERSION)
        self._local_version = local_version
        self._reload = reload
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()

    def announce(self, version: int) -> None:
        """Tell every worker; a failure here is survivable (they compare versions on their next check)."""
        try:
            self._raise_version(keys=[self.version_key], args=[version])
            self.client.publish(self.channel, str(version))
        except redis.RedisError as exc:
            log.warning("config change %s not announced through Redis (%s); workers catch up later", version, exc)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="config-fanout", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.client.close()

    def check(self) -> None:
        """Compare the shared version with ours; reload on any difference, seed the key if Redis lost it."""
        remote = self.client.get(self.version_key)
        if remote is None:
            version = self._reload()
            self._raise_version(keys=[self.version_key], args=[version])
        elif int(remote) != self._local_version():
            self._reload()

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                self.check()  # anything missed while we were away
                if not self.connected.is_set():
                    log.info("config fan-out connected to Redis")
                self.connected.set()
                backoff = 0.1
                self._listen(pubsub)
            except (redis.RedisError, OSError) as exc:
                if self.connected.is_set():
                    log.warning("config fan-out lost Redis (%s); reads keep the last snapshot", exc)
                self.connected.clear()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                with contextlib.suppress(redis.RedisError, OSError):
                    pubsub.close()

    def _listen(self, pubsub: redis.client.PubSub) -> None:
        next_check = time.monotonic() + self.interval
        while not self._stop.is_set():
            message = pubsub.get_message(timeout=min(self.interval, 0.5))
            if message is not None and message.get("type") == "message":
                try:
                    announced = int(message["data"])
                except (TypeError, ValueError):
                    announced = -1
                if announced != self._local_version():
                    self._reload()
            if time.monotonic() >= next_check:
                self.check()
                next_check = time.monotonic() + self.interval


class DatabasePoll:
    """One process, no Redis: notice changes another process (the CLI) wrote to the same database."""

    def __init__(self, *, remote_version: Callable[[], int], local_version: Callable[[], int], reload, interval: float):  # noqa: ANN001
        self._remote_version = remote_version
        self._local_version = local_version
        self._reload = reload
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def announce(self, version: int) -> None:  # the writer already applied its change
        return None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="config-poll", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if self._remote_version() != self._local_version():
                    self._reload()
            except Exception as exc:  # noqa: BLE001 - keep polling; the snapshot stays as it was
                log.warning("config poll failed: %s", exc)
