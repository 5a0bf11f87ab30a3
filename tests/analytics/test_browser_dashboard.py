"""In Chromium against the real app: the admin dashboard draws its charts from seeded analytics,
exports a table as CSV, and a creator's view shows only the creator's adapters."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import Session

from app.analytics import store, wiring
from app.analytics.schema import BROWSER_EVENT
from tests.analytics.factory import random_event, session_id
from tests.support import migrations
from tests.support.auth import FAST_ARGON2, PASSWORD, make_user

pytestmark = pytest.mark.browser
TIMEOUT = 30_000
ADAPTERS = ["alpha-lora", "beta-lora", "gamma-lora"]


class Seeded:
    def __init__(self, url: str, admin: str, creator: str, owned: list[str]) -> None:
        self.url, self.admin, self.creator, self.owned = url, admin, creator, owned


def _seed_events(engine: sa.Engine) -> None:
    rng = random.Random(11)
    sessions = [session_id(rng) for _ in range(40)]
    now = datetime.now(UTC)
    rows = []
    for i in range(1500):
        data = random_event(rng, sessions)
        data["adapter_id"] = ADAPTERS[i % 3]
        if data["type"] == "generation_finished":
            data["decode_tokens_per_s"] = rng.uniform(5, 60)
        row = BROWSER_EVENT.validate_python(data).model_dump()
        rows.append(
            store.to_row(
                row,
                received_at=now - timedelta(seconds=rng.randrange(6 * 86400)),
                user_id=rng.choice([None, 101, 102, 103]),
            )
        )
    # Headless Chromium's WebGPU (SwiftShader) reports vendor "google": enough data for the
    # adapter page's "typical speed" on alpha-lora (30 chats from 6 sessions, ~42 tokens/s).
    for i in range(30):
        data = {
            **random_event(rng, sessions),
            "type": "generation_finished",
            "adapter_id": "alpha-lora",
            "gpu_vendor": "google",
            "session_id": f"swiftshader-session-{i % 6}",
            "ttft_ms": 300.0,
            "prefill_tokens_per_s": 200.0,
            "decode_tokens_per_s": 41.0 + i % 3,
            "input_tokens": 10,
            "output_tokens": 50,
            "cancelled": False,
        }
        for key in ("page", "ok", "missing", "outcome", "source", "bytes", "duration_ms", "rank", "kind", "stage"):
            data.pop(key, None)
        row = BROWSER_EVENT.validate_python(data).model_dump()
        rows.append(store.to_row(row, received_at=now - timedelta(hours=2), user_id=None))
    store.write_with_retry(engine, rows)


def _give_adapter(db: Session, user_id: int, slug: str, status: str = "draft") -> None:
    """Make `user_id` the author of catalog adapter `slug`."""
    from app.models.catalog import Adapter

    db.add(Adapter(slug=slug, title=slug, author_id=user_id, rank=8, status=status))
    db.commit()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    from tests.support.app_server import AppServer, free_port

    data: Path = tmp_path_factory.mktemp("analytics-app")
    url = f"sqlite:///{data / 'lorastudio.db'}"
    migrations.upgrade(url)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with Session(engine, expire_on_commit=False) as db:
        admin_user = make_user(db, email="admin@example.test", role="admin", name="Ada Admin")
        admin, admin_id = admin_user.email, admin_user.id
        creator_user = make_user(db, email="creator@example.test", role="creator", name="Cora Creator")
        creator, creator_id = creator_user.email, creator_user.id
        _give_adapter(db, creator_id, "alpha-lora", status="published")
        _give_adapter(db, admin_id, "beta-lora", status="published")
        owned = sorted(set(wiring.owned_adapter_ids(db, creator_id)) & set(ADAPTERS))
    wiring.forget_adapter_authors()
    _seed_events(engine)  # after the catalog rows: the creator's distinct counts need the authors
    assert owned == ["alpha-lora"]
    port = free_port()
    env = {**FAST_ARGON2, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "RATE_LIMIT_SIGNIN": "300/minute"}
    server = AppServer(data_dir=data, env=env, port=port).start()
    try:
        yield Seeded(server.url, admin, creator, owned)
    finally:
        server.stop()


def _sign_in_to(page: Page, seeded: Seeded, email: str, path: str) -> None:
    page.goto(f"{seeded.url}/signin?next={path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#signin-submit").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "/?$"), timeout=TIMEOUT)


def _table_column(page: Page, table: str) -> list[str]:
    return page.locator(f"#table-{table} tbody tr td:first-child").all_inner_texts()


def test_admin_dashboard_renders_charts_from_seeded_data(seeded: Seeded, page: Page) -> None:
    _sign_in_to(page, seeded, seeded.admin, "/admin/analytics")
    # Every chart draws from the rollups: lines for activity, bars elsewhere.
    expect(page.locator("#chart-active .recharts-line-curve")).to_have_count(2, timeout=TIMEOUT)
    expect(page.locator("#chart-active .recharts-line-curve").last).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#chart-top-adapters .recharts-bar-rectangle")).to_have_count(6, timeout=TIMEOUT)  # 3 x 2
    for chart in ("chart-usage", "chart-speed-gpu", "chart-ttft-adapter", "chart-errors", "chart-capabilities"):
        expect(page.locator(f"#{chart} .recharts-bar-rectangle").first).to_be_visible(timeout=TIMEOUT)
    assert sorted(_table_column(page, "top_adapters")) == ADAPTERS
    assert sorted(_table_column(page, "performance_by_adapter")) == ADAPTERS

    with page.expect_download(timeout=TIMEOUT) as download:
        page.locator("#export-top_adapters").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "adapter_id,chats,completed,output_tokens,lora_loads"
    assert sorted(line.split(",")[0] for line in lines[1:]) == ADAPTERS

    # Narrowing the range to a day with nothing in it empties the tables.
    page.locator("input[name=start]").fill("2020-01-01")
    page.locator("input[name=end]").fill("2020-01-02")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#table-top_adapters")).to_contain_text("No data in this range.", timeout=TIMEOUT)


def test_creator_sees_only_their_adapters(seeded: Seeded, page: Page) -> None:
    _sign_in_to(page, seeded, seeded.creator, "/creator/analytics")
    expect(page.locator("#chart-active .recharts-line-curve")).to_have_count(2, timeout=TIMEOUT)
    expect(page.locator("#table-performance_by_gpu")).to_be_visible(timeout=TIMEOUT)
    page.wait_for_timeout(500)
    assert sorted(_table_column(page, "top_adapters")) == seeded.owned
    assert sorted(_table_column(page, "performance_by_adapter")) == seeded.owned
    body = page.locator("body").inner_text()
    for other in set(ADAPTERS) - set(seeded.owned):
        assert other not in body
    # The admin dashboard stays closed to a creator: the guard sends them away.
    page.goto(f"{seeded.url}/admin/analytics")
    expect(page).to_have_url(re.compile(r"/forbidden"), timeout=TIMEOUT)


def test_anonymous_visitor_is_sent_to_sign_in(seeded: Seeded, page: Page) -> None:
    page.goto(f"{seeded.url}/creator/analytics")
    expect(page).to_have_url(re.compile(r"/signin\?next="), timeout=TIMEOUT)
    assert "alpha-lora" not in page.content()


def test_user_opts_out_on_the_account_page(seeded: Seeded, page: Page) -> None:
    """The switch stores the choice; from then on the ingest route stores nothing for this user."""
    from tests.analytics.factory import event

    _sign_in_to(page, seeded, seeded.creator, "/account")
    before = page.request.post(f"{seeded.url}/api/v1/events", data={"events": [event()]})
    assert before.status == 202
    switch = page.locator("#analytics-opt-out")
    expect(switch).to_have_attribute("data-state", "unchecked", timeout=TIMEOUT)
    switch.click()
    expect(page.locator("#analytics-opted-out")).to_be_visible(timeout=TIMEOUT)
    after = page.request.post(f"{seeded.url}/api/v1/events", data={"events": [event()]})
    assert after.status == 204 and after.headers["analytics-status"] == "opted-out"
    page.reload()
    expect(page.locator("#analytics-opt-out")).to_have_attribute("data-state", "checked", timeout=TIMEOUT)
    page.locator("#analytics-opt-out").click()  # and back
    expect(page.locator("#analytics-opted-out")).to_have_count(0, timeout=TIMEOUT)
    again = page.request.post(f"{seeded.url}/api/v1/events", data={"events": [event()]})
    assert again.status == 202


def test_adapter_page_shows_typical_speed_for_the_visitors_gpu(seeded: Seeded, page: Page) -> None:
    """The page fetches every vendor's figure and picks its own GPU's in the browser: SwiftShader's
    "google" has enough data on alpha-lora, none on beta-lora; the vendor is never sent."""
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(str(payload))))
    page.on("request", lambda request: sent.append(f"{request.url} {request.post_data or ''}"))
    page.goto(f"{seeded.url}/adapters/alpha-lora")
    speed = page.locator("#typical-speed")
    expect(speed).to_have_attribute("data-state", "figure", timeout=TIMEOUT)
    expect(speed).to_have_attribute("data-vendor", "google")
    expect(speed).to_contain_text(
        re.compile(r"Typical speed on Google GPUs like yours: 4[12] tokens/s \(median of 30 chats, last 30 days\)")
    )
    assert any("/api/v1/adapters/alpha-lora/performance" in line for line in sent)
    assert not [line for line in sent if "google" in line.lower() or "swiftshader" in line.lower()]

    page.goto(f"{seeded.url}/adapters/beta-lora")
    expect(speed).to_have_attribute("data-state", "not-enough", timeout=TIMEOUT)
    expect(speed).to_have_text("Not enough data yet for Google GPUs.")


def test_adapter_page_without_webgpu_says_so(seeded: Seeded, page: Page) -> None:
    page.add_init_script("Object.defineProperty(Navigator.prototype, 'gpu', {get: () => undefined})")
    page.goto(f"{seeded.url}/adapters/alpha-lora")
    speed = page.locator("#typical-speed")
    expect(speed).to_have_attribute("data-state", "no-webgpu", timeout=TIMEOUT)
    expect(speed).to_contain_text("Your browser has no WebGPU")
