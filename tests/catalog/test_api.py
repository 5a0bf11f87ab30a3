"""The JSON API `/api/v1`: what a script sees, and a schemathesis fuzz against its own schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlmodel import Session, SQLModel
from starlette.testclient import TestClient

from app import cache as cache_module
from app import settings as settings_module
from app.catalog.demo import seed_demo_catalog
from app.db import engine_for
from app.routes import build_api
from app.storage import get_storage


@pytest.fixture(scope="module")
def catalog_app(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The app's routes on a migrated database (SQLite or PostgreSQL) holding the demo catalog."""
    data_dir: Path = tmp_path_factory.mktemp("api-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATA_DIR", str(data_dir))
        mp.setenv("DATABASE_URL", db_url)
        for name in ("REDIS_URL", "STORAGE_BACKEND", "STORAGE_DIR"):
            mp.delenv(name, raising=False)
        settings_module.get_settings.cache_clear()
        cache_module.get_cache.cache_clear()
        with Session(engine_for(db_url), expire_on_commit=False) as session:
            seed_demo_catalog(session, storage=get_storage())
        yield build_api()
        with engine_for(db_url).begin() as conn:
            for table in reversed(SQLModel.metadata.sorted_tables):
                conn.execute(table.delete())
        settings_module.get_settings.cache_clear()
        cache_module.get_cache.cache_clear()


@pytest.fixture
def client(catalog_app) -> TestClient:  # noqa: ANN001
    return TestClient(catalog_app)


def test_search_detail_files_and_base_model(client: TestClient) -> None:
    page = client.get("/api/v1/adapters", params={"q": "mediapipe", "per_page": 5}).json()
    assert page["total"] == 1 and page["items"][0]["slug"] == "demo-tiny-mediapipe-r16"
    assert client.get("/api/v1/adapters", params={"tag": "mlp"}).json()["items"][0]["rank"] == 8
    detail = client.get("/api/v1/adapters/demo-tiny-attention-r4").json()
    assert detail["is_demo"] and detail["base_model"] == "tiny-gemma2"
    assert "<blockquote>" in detail["description_html"] and "Demo file." in detail["description_html"]
    files = client.get("/api/v1/adapters/demo-tiny-attention-r4/files").json()["files"]
    lora = next(f for f in files if f["role"] == "mediapipe-lora")
    assert lora["url"] == f"/files/{lora['sha256']}"
    body = client.get(lora["url"]).content
    assert len(body) == lora["size_bytes"]
    base = client.get("/api/v1/base-models").json()["items"]
    assert [b["name"] for b in base] == ["tiny-gemma2-demo"]
    assert client.get("/api/v1/base-models/tiny-gemma2-demo").json()["architecture"] == "tiny-gemma2"
    assert client.get("/api/v1/base-models/nope").status_code == 404


def test_errors_are_json_with_reasons(client: TestClient) -> None:
    bad = client.get("/api/v1/adapters", params={"per_page": 1000, "sort": "random"})
    assert bad.status_code == 422
    assert {p["field"] for p in bad.json()["problems"]} == {"per_page", "sort"}
    missing = client.get("/api/v1/adapters/no-such-adapter")
    assert missing.status_code == 404 and missing.json() == {"error": "no adapter 'no-such-adapter'"}


def test_download_is_counted_once_per_client_per_day(client: TestClient) -> None:
    url = "/api/v1/adapters/demo-tiny-mlp-r8/downloads"
    before = client.get("/api/v1/adapters/demo-tiny-mlp-r8").json()["download_count"]
    assert client.post(url).json() == {"counted": True}
    assert client.post(url).json() == {"counted": False}
    from app.catalog import caching

    caching.invalidate()
    assert client.get("/api/v1/adapters/demo-tiny-mlp-r8").json()["download_count"] == before + 1


# The schema is read from the app itself; every request then runs against `catalog_app`'s database.
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", build_api())


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_schema(catalog_app, case) -> None:  # noqa: ANN001
    case.call_and_validate()
