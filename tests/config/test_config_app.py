"""The running app (embedded topology: SQLite, no Redis) serves the public config and shows the notices.

The test process changes the configuration the way the CLI does: another process on the same database.
The app notices through its database poll, answers the public route with a new ETag, and every page
shows the announcement and maintenance notice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.config import Actor, RuntimeConfig
from app.db import engine_for
from app.settings import load_settings
from tests.support import migrations
from tests.support.app_server import AppServer

OPERATOR = Actor("cli:test")


@pytest.fixture(scope="module")
def config_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, RuntimeConfig]]:
    data: Path = tmp_path_factory.mktemp("config-app")
    url = f"sqlite:///{(data / 'lorastudio.db').resolve()}"
    migrations.upgrade(url)
    server = AppServer(data_dir=data).start()
    operator = RuntimeConfig(settings=load_settings(data_dir=data), engine=engine_for(url), redis_url=None)
    yield server, operator
    server.stop()


def _public(server: AppServer, **headers: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/config/public", headers=headers, timeout=10)


def _wait_for(predicate, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the app did not pick up the change"
        time.sleep(0.1)


def test_public_config_with_etag(config_app) -> None:
    server, operator = config_app
    first = _public(server)
    assert first.status_code == 200
    body = first.json()
    assert body["generation.top_k"] == 40 and body["lora.ranks"] == [4, 8, 16]
    assert "ratelimit.api_per_minute" not in body and "secret_key" not in body
    etag = first.headers["etag"]
    assert _public(server, **{"If-None-Match": etag}).status_code == 304

    operator.set("generation.top_k", 8, actor=OPERATOR)
    _wait_for(lambda: _public(server, **{"If-None-Match": etag}).status_code == 200)
    changed = _public(server)
    assert changed.json()["generation.top_k"] == 8 and changed.headers["etag"] != etag
    operator.reset("generation.top_k", actor=OPERATOR)


@pytest.mark.browser
def test_every_page_shows_the_announcement_and_maintenance_notice(config_app, page: Page) -> None:
    server, operator = config_app
    page.goto(f"{server.url}/catalog")
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    expect(page.locator("#announcement-banner")).to_have_count(0)
    expect(page.locator("#maintenance-message")).to_have_count(0)

    operator.set("banner.text", "Gemma2 adapters week: new uploads every day", actor=OPERATOR)
    operator.set("banner.link", "/catalog", actor=OPERATOR)
    operator.set("maintenance.enabled", True, actor=OPERATOR)
    operator.set("maintenance.message", "Read-only until 18:00 UTC", actor=OPERATOR)
    _wait_for(lambda: "adapters week" in _public(server).text)

    for path in ("/", "/chat"):
        page.goto(f"{server.url}{path}")
        expect(page.locator("#announcement-text")).to_have_text("Gemma2 adapters week: new uploads every day")
        expect(page.locator("#announcement-link")).to_have_attribute("href", "/catalog")
        expect(page.locator("#maintenance-message")).to_contain_text("Read-only until 18:00 UTC")

    for key in ("banner.text", "banner.link", "maintenance.enabled", "maintenance.message"):
        operator.reset(key, actor=OPERATOR)
    _wait_for(lambda: '"banner.text":""' in _public(server).text)
    page.goto(f"{server.url}/")
    expect(page.get_by_role("heading", name="Chat with Gemma2 LoRA adapters")).to_be_visible()
    expect(page.locator("#announcement-banner")).to_have_count(0)
