"""The running app (embedded topology: SQLite, no Redis) with its configuration, end to end.

- an operator changes the configuration from another process (as the CLI does): the app notices
  through its database poll, the public route answers with a new ETag, every page shows the notices;
- in Chromium, an admin changes the banner and the sign-up switch on /admin/config; a visitor sees
  the banner and can no longer sign up; the audit log shows the change; a non-admin gets nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from app.config import Actor, RuntimeConfig
from app.db import engine_for
from app.settings import load_settings
from tests.support import migrations
from tests.support.app_server import AppServer, free_port
from tests.support.auth import FAST_ARGON2, PASSWORD, random_email

OPERATOR = Actor("cli:test")
ADMIN_EMAIL, ADMIN_PASSWORD = "config-admin@example.test", "config admin password 1"
TIMEOUT = 20_000
BANNER = "Spring release: forty new adapters"


class ConfigApp:
    def __init__(self, server: AppServer, operator: RuntimeConfig) -> None:
        self.server, self.operator, self.url = server, operator, server.url


@pytest.fixture(scope="module")
def config_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConfigApp]:
    data: Path = tmp_path_factory.mktemp("config-app")
    url = f"sqlite:///{(data / 'lorastudio.db').resolve()}"
    migrations.upgrade(url)
    port = free_port()
    env = {
        **FAST_ARGON2,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "FIRST_ADMIN_EMAIL": ADMIN_EMAIL,
        "FIRST_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "RATE_LIMIT_SIGNIN": "300/minute",
        "RATE_LIMIT_SIGNUP": "300/hour",
    }
    server = AppServer(data_dir=data, env=env, port=port).start()
    operator = RuntimeConfig(settings=load_settings(data_dir=data), engine=engine_for(url), redis_url=None)
    try:
        yield ConfigApp(server, operator)
    finally:
        server.stop()


def _public(app: ConfigApp, **headers: str) -> httpx.Response:
    return httpx.get(f"{app.url}/api/v1/config/public", headers=headers, timeout=10)


def _wait_for(predicate, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the app did not pick up the change"
        time.sleep(0.1)


def test_public_config_with_etag(config_app: ConfigApp) -> None:
    first = _public(config_app)
    assert first.status_code == 200
    body = first.json()
    assert body["generation.top_k"] == 40 and body["lora.ranks"] == [4, 8, 16]
    assert "ratelimit.api" not in body and "secret_key" not in body
    etag = first.headers["etag"]
    assert _public(config_app, **{"If-None-Match": etag}).status_code == 304

    config_app.operator.set("generation.top_k", 8, actor=OPERATOR)
    _wait_for(lambda: _public(config_app, **{"If-None-Match": etag}).status_code == 200)
    changed = _public(config_app)
    assert changed.json()["generation.top_k"] == 8 and changed.headers["etag"] != etag
    config_app.operator.reset("generation.top_k", actor=OPERATOR)


@pytest.mark.browser
def test_every_page_shows_the_announcement_and_maintenance_notice(config_app: ConfigApp, page: Page) -> None:
    operator = config_app.operator
    page.goto(f"{config_app.url}/catalog")
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#announcement-banner")).to_have_count(0)
    expect(page.locator("#maintenance-message")).to_have_count(0)

    changes = {
        "banner.text": "Gemma2 adapters week: new uploads every day",
        "banner.link": "/catalog",
        "maintenance.enabled": True,
        "maintenance.message": "Read-only until 18:00 UTC",
    }
    try:
        for key, value in changes.items():
            operator.set(key, value, actor=OPERATOR)
        # Each change propagates on its own: wait until the app serves all four.
        _wait_for(lambda: all(_public(config_app).json().get(key) == value for key, value in changes.items()))

        for path in ("/", "/chat"):
            page.goto(f"{config_app.url}{path}")
            expect(page.locator("#announcement-text")).to_have_text(
                "Gemma2 adapters week: new uploads every day", timeout=TIMEOUT
            )
            expect(page.locator("#announcement-link")).to_have_attribute("href", "/catalog")
            expect(page.locator("#maintenance-message")).to_contain_text("Read-only until 18:00 UTC")
    finally:
        for key in changes:  # the next tests start from the defaults even if this one failed
            operator.reset(key, actor=OPERATOR)
    _wait_for(lambda: '"banner.text":""' in _public(config_app).text)
    page.goto(f"{config_app.url}/")
    expect(page.get_by_role("heading", name="Chat with Gemma2 LoRA adapters")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#announcement-banner")).to_have_count(0)


def _sign_in(page: Page, url: str, email: str, password: str, next_path: str) -> None:
    page.goto(f"{url}/signin?next={next_path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.locator("#signin-submit").click()


def _row(page: Page, key: str):  # noqa: ANN202
    return page.locator(f'tr.config-row[data-key="{key}"]')


def _sign_up(url: str, email: str) -> httpx.Response:
    return httpx.post(
        f"{url}/auth/signup",
        data={"email": email, "display_name": "Plain User", "password": PASSWORD},
        headers={"Accept": "application/json"},
        timeout=30,
    )


@pytest.mark.browser
def test_admin_changes_banner_and_sign_up_and_a_visitor_sees_it(
    config_app: ConfigApp, page: Page, browser: Browser
) -> None:
    url = config_app.url
    member = random_email("member")
    assert _sign_up(url, member).status_code == 200  # sign-up is open before the admin closes it

    # The admin edits the banner (a bad value first: refused, nothing changes) and closes sign-up.
    _sign_in(page, url, ADMIN_EMAIL, ADMIN_PASSWORD, "/admin/config")
    banner_row = _row(page, "banner.text")
    expect(banner_row).to_be_visible(timeout=TIMEOUT)
    banner_row.locator("input[name=value]").fill("<b>Big</b> news")
    banner_row.get_by_role("button", name="Save").click()
    expect(page.locator("#config-refused")).to_contain_text("HTML", timeout=TIMEOUT)
    expect(banner_row.locator(".config-source")).to_have_text("default")

    banner_row.locator("input[name=value]").fill(BANNER)
    banner_row.get_by_role("button", name="Save").click()
    expect(page.locator("#config-message")).to_have_text("banner.text saved.", timeout=TIMEOUT)
    expect(banner_row.locator(".config-source")).to_have_text("override")

    signup_row = _row(page, "signup.enabled")
    switch = signup_row.get_by_role("switch")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    expect(signup_row.locator(".config-source")).to_have_text("override", timeout=TIMEOUT)
    expect(switch).to_have_attribute("aria-checked", "false")

    audit = page.locator("#config-audit tr.audit-row")  # newest first; earlier tests' changes below
    expect(audit.nth(0)).to_contain_text("signup.enabled", timeout=TIMEOUT)
    expect(audit.nth(0).locator(".audit-old")).to_have_text("true")
    expect(audit.nth(0).locator(".audit-new")).to_have_text("false")
    expect(audit.nth(0)).to_contain_text(ADMIN_EMAIL)
    expect(audit.nth(1)).to_contain_text("banner.text")
    expect(audit.nth(1)).to_contain_text(ADMIN_EMAIL)
    expect(audit.nth(1).locator(".audit-old")).to_have_text("(empty)")
    expect(audit.nth(1).locator(".audit-new")).to_have_text(BANNER)

    # A visitor sees the banner and finds sign-up closed, in the page and on the server.
    visitor = browser.new_context().new_page()
    visitor.goto(f"{url}/")
    expect(visitor.locator("#announcement-text")).to_have_text(BANNER, timeout=TIMEOUT)
    visitor.goto(f"{url}/signup")
    expect(visitor.get_by_role("heading", name="Sign-up is closed")).to_be_visible(timeout=TIMEOUT)
    expect(visitor.locator("#signup-submit")).to_have_count(0)
    refused = _sign_up(url, random_email("late"))
    assert refused.status_code >= 400 and "Sign-up is closed" in refused.text
    visitor.context.close()

    # A signed-in non-admin can neither read nor change the configuration.
    other = browser.new_context().new_page()
    _sign_in(other, url, member, PASSWORD, "/admin/config")
    expect(other).to_have_url(re.compile(r"/forbidden\?need=admin"), timeout=TIMEOUT)
    expect(other.get_by_text("It needs the admin role")).to_be_visible()
    other.goto(f"{url}/admin/config")
    expect(other).to_have_url(re.compile(r"/forbidden"), timeout=TIMEOUT)
    expect(other.locator("tr.config-row")).to_have_count(0)
    other.context.close()

    for key in ("banner.text", "signup.enabled"):
        config_app.operator.reset(key, actor=OPERATOR)
