"""With REDIS_URL set, Reflex keeps its state in Redis (the multi-worker topology)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import redis

from tests.support import services
from tests.support.app_server import AppServer


@pytest.fixture(scope="module")
def redis_app(tmp_path_factory: pytest.TempPathFactory):
    if not services.redis_reachable():
        services.unavailable(f"Redis not reachable at {services.REDIS_URL}")
    url = services.REDIS_URL.rsplit("/", 1)[0] + "/14"
    redis.Redis.from_url(url).flushdb()
    data: Path = tmp_path_factory.mktemp("redis-app")
    server = AppServer(data_dir=data, env={"REDIS_URL": url}).start()
    yield server, redis.Redis.from_url(url)
    server.stop()
    redis.Redis.from_url(url).flushdb()


def test_health_reports_redis(redis_app) -> None:
    server, _ = redis_app
    health = httpx.get(f"{server.url}/_health").json()
    assert health == {"status": True, "db": True, "redis": True}


def test_browser_state_lives_in_redis(redis_app, page) -> None:
    server, client = redis_app
    before = set(client.keys("*"))
    page.goto(f"{server.url}/")
    page.get_by_role("heading", name="Chat with Gemma2 LoRA adapters").wait_for()
    page.wait_for_function("() => document.cookie !== undefined")
    page.wait_for_timeout(1000)  # let the websocket hydrate the state
    new_keys = set(client.keys("*")) - before
    assert new_keys, "no Reflex state was written to Redis"
