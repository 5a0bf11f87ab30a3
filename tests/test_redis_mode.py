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


def test_every_worker_follows_a_config_change_within_a_second(redis_app) -> None:
    """Several granian workers: a change made elsewhere reaches each one through Redis (no DB polling there)."""
    import time

    from app.config import Actor, RuntimeConfig
    from app.db import engine_for
    from app.settings import load_settings

    server, client = redis_app
    url = client.connection_pool.connection_kwargs
    redis_url = f"redis://{url.get('host', '127.0.0.1')}:{url.get('port', 6379)}/{url.get('db', 0)}"
    database = f"sqlite:///{(server.data_dir / 'lorastudio.db').resolve()}"
    operator = RuntimeConfig(
        settings=load_settings(data_dir=server.data_dir), engine=engine_for(database), redis_url=redis_url
    )
    text = f"Workers agree {time.time():.0f}"
    operator.set("banner.text", text, actor=Actor("cli:test"))
    time.sleep(1.0)
    answers = set()
    for _ in range(40):  # a new connection each time, spread over the workers
        with httpx.Client() as fresh:
            answers.add(fresh.get(f"{server.url}/api/v1/config/public").json()["banner.text"])
    operator.reset("banner.text", actor=Actor("cli:test"))
    assert answers == {text}
