"""GET /api/v1/adapters/{slug}/performance: the public "typical speed" figures per GPU vendor.

Only published adapters; a vendor is listed only with at least ANALYTICS_MIN_SAMPLES
generations from at least ANALYTICS_MIN_SESSIONS distinct chat sessions (here 20 and 5, the
defaults), so no figure describes one person's machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel
from starlette.testclient import TestClient

from app.analytics import store
from app.analytics.schema import BROWSER_EVENT
from app.db import engine_for
from tests.analytics.factory import event
from tests.support.auth import make_user, reset_caches


def _generations(
    slug: str, vendor: str, *, sessions: int, per_session: int, speed: float, first: int = 0
) -> list[dict]:
    now = datetime.now(UTC) - timedelta(hours=1)
    rows = []
    for s in range(first, first + sessions):
        for i in range(per_session):
            data = event(
                adapter_id=slug,
                gpu_vendor=vendor,
                session_id=f"perf-{vendor}-{s:04d}-xxxxxxxx",
                decode_tokens_per_s=speed + (i % 3) - 1,
            )
            rows.append(store.to_row(BROWSER_EVENT.validate_python(data).model_dump(), received_at=now, user_id=None))
    return rows


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    from app.models.catalog import Adapter
    from app.routes import build_api

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATA_DIR", str(tmp_path / "data"))
        mp.setenv("DATABASE_URL", db_url)
        mp.setenv("RATE_LIMIT_API", "1000/60")
        mp.delenv("REDIS_URL", raising=False)
        reset_caches()
        engine = engine_for(db_url)
        with Session(engine, expire_on_commit=False) as db:
            author = make_user(db, email="speedy@example.test", role="creator")
            for slug, status in (("fast-lora", "published"), ("secret-draft", "draft"), ("hidden-lora", "unlisted")):
                db.add(Adapter(slug=slug, title=slug, author_id=author.id, rank=8, status=status))
            db.commit()
        rows = [
            *_generations("fast-lora", "google", sessions=6, per_session=5, speed=42.0),  # 30 from 6: listed
            *_generations("fast-lora", "nvidia", sessions=2, per_session=20, speed=90.0),  # 40 from 2: too few people
            *_generations("fast-lora", "amd", sessions=10, per_session=1, speed=20.0),  # 10 from 10: too few samples
            *_generations("secret-draft", "google", sessions=10, per_session=5, speed=50.0),
            *_generations("hidden-lora", "google", sessions=10, per_session=5, speed=50.0),
        ]
        store.write_with_retry(engine, rows)
        with TestClient(build_api()) as client:
            yield client
        with engine.begin() as conn:
            for table in reversed(SQLModel.metadata.sorted_tables):
                conn.execute(table.delete())
        reset_caches()


def test_only_vendors_above_both_thresholds_are_listed(api: TestClient) -> None:
    response = api.get("/api/v1/adapters/fast-lora/performance")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, max-age=300"
    body = response.json()
    assert (body["slug"], body["days"], body["min_samples"], body["min_sessions"]) == ("fast-lora", 30, 20, 5)
    assert [row["gpu_vendor"] for row in body["vendors"]] == ["google"]
    google = body["vendors"][0]
    assert google["samples"] == 30
    assert abs(google["median_decode_tokens_per_s"] - 42.0) <= 0.42 + 0.05  # the sketch's 1%, rounded to 0.1


def test_drafts_unlisted_and_unknown_adapters_are_404(api: TestClient) -> None:
    for slug in ("secret-draft", "hidden-lora", "no-such-lora", "Bad_Slug!"):
        response = api.get(f"/api/v1/adapters/{slug}/performance")
        assert response.status_code == 404, (slug, response.text)
        assert "vendors" not in response.text


def test_more_sessions_make_a_vendor_appear_after_the_cache_expires(api: TestClient, db_url: str) -> None:
    from app.cache import get_cache

    assert "nvidia" not in api.get("/api/v1/adapters/fast-lora/performance").text
    store.write_with_retry(
        engine_for(db_url), _generations("fast-lora", "nvidia", sessions=3, per_session=1, speed=90.0, first=100)
    )  # now 43 generations from 5 sessions
    assert "nvidia" not in api.get("/api/v1/adapters/fast-lora/performance").text  # cached answer
    get_cache().delete("analytics:perf:fast-lora")
    vendors = api.get("/api/v1/adapters/fast-lora/performance").json()["vendors"]
    assert [row["gpu_vendor"] for row in vendors] == ["nvidia", "google"]  # most samples first


def test_rate_limited_like_every_api_route(api: TestClient) -> None:
    # Its own context, undone before the `api` fixture's: a function-scoped monkeypatch set up
    # earlier (by an autouse fixture) would put the fixture's RATE_LIMIT_API back after it.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RATE_LIMIT_API", "3/60")
        reset_caches()
        codes = [api.get("/api/v1/adapters/fast-lora/performance").status_code for _ in range(5)]
    reset_caches()
    assert codes == [200, 200, 200, 429, 429]


def test_listed_in_the_openapi_document(api: TestClient) -> None:
    document = api.get("/api/v1/openapi.json").json()
    operation = document["paths"]["/api/v1/adapters/{slug}/performance"]["get"]
    assert operation["operationId"] == "getAdapterPerformance"
    assert "AdapterPerformance" in document["components"]["schemas"]


def test_sessions_are_counted_per_adapter_and_vendor(db_engine: sa.Engine) -> None:
    """The rollup behind min_sessions: distinct sessions per (adapter, vendor, day)."""
    store.write_with_retry(db_engine, _generations("x-lora", "intel", sessions=3, per_session=4, speed=10.0))
    store.write_with_retry(db_engine, _generations("x-lora", "intel", sessions=2, per_session=1, speed=10.0, first=2))
    with db_engine.connect() as conn:
        total = conn.execute(
            sa.text(
                "SELECT sum(count) FROM analytics_rollup WHERE dim='adapter_gpu' AND metric='active_sessions' "
                "AND dim_key='x-lora|intel'"
            )
        ).scalar_one()
    assert total == 4  # sessions 0-2, then 2 (seen) and 3 (new)
