"""The JSON API `/api/v1`: what a script sees, and a schemathesis fuzz against its own schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlmodel import Session, SQLModel, select
from starlette.testclient import TestClient

from app.catalog.demo import seed_demo_catalog
from app.db import engine_for
from app.routes import build_api
from app.storage import get_storage
from tests.support.auth import reset_caches


@pytest.fixture(scope="module")
def catalog_app(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The app's routes on a migrated database (SQLite or PostgreSQL) holding the demo catalog."""
    data_dir: Path = tmp_path_factory.mktemp("api-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATA_DIR", str(data_dir))
        mp.setenv("DATABASE_URL", db_url)
        mp.setenv("RATE_LIMIT_API", "100000/60")  # the fuzzer sends thousands; the limit has its own test
        for name in ("REDIS_URL", "STORAGE_BACKEND", "STORAGE_DIR"):
            mp.delenv(name, raising=False)
        reset_caches()
        with Session(engine_for(db_url), expire_on_commit=False) as session:
            seed_demo_catalog(session, storage=get_storage())
        yield build_api()
        with engine_for(db_url).begin() as conn:
            for table in reversed(SQLModel.metadata.sorted_tables):
                conn.execute(table.delete())
        reset_caches()


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


def test_a_base_models_adapters_come_in_one_answer_with_their_runtime_files(client: TestClient) -> None:
    """What the chat page loads: every published adapter for the base, with the same file and
    defaults as its own detail, in one request."""
    answer = client.get("/api/v1/base-models/tiny-gemma2-demo/adapters")
    assert answer.status_code == 200
    items = answer.json()["items"]
    published = client.get("/api/v1/adapters", params={"per_page": 100}).json()["items"]
    assert {i["slug"] for i in items} == {c["slug"] for c in published if c["base_model"] == "tiny-gemma2"}
    assert len(items) >= 3
    for item in items:
        detail = client.get(f"/api/v1/adapters/{item['slug']}").json()
        lora = next(f for f in detail["versions"][0]["files"] if f["role"] == "mediapipe-lora")
        assert item["file"] == lora and item["rank"] == detail["rank"] and item["title"] == detail["title"]
        assert item["generation"] == detail["generation"]
        assert len(client.get(item["file"]["url"]).content) == item["file"]["size_bytes"]
    missing = client.get("/api/v1/base-models/no-such-model/adapters")
    assert missing.status_code == 404 and missing.json() == {"error": "no base model 'no-such-model'"}


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


def test_same_visibility_as_the_pages(client: TestClient, catalog_app, db_url: str) -> None:  # noqa: ANN001
    """A draft is visible through the API to its author (session cookie) and to nobody else."""
    import sqlalchemy as sa

    from app.auth.sessions import cookie_name, get_session_store
    from app.catalog import service
    from app.catalog.schemas import Actor
    from app.models import Adapter, User

    slug = "demo-tiny-mediapipe-r16"
    with Session(engine_for(db_url), expire_on_commit=False) as session:
        demo_id = session.exec(select(User.id).where(User.email == "demo@lorastudio.invalid")).one()
        ada = User(email="ada@example.com", display_name="Ada", role="creator")
        other = User(email="other@example.com", display_name="Other", role="creator")
        session.add_all([ada, other])
        session.commit()
        # hand the demo adapter to an active account, which can sign in (the demo author cannot)
        session.exec(sa.update(Adapter).where(Adapter.slug == slug).values(author_id=ada.id))
        session.commit()
        service.unpublish(session, slug=slug, actor=Actor.from_role(ada.id, "creator"))
    try:
        assert client.get(f"/api/v1/adapters/{slug}").status_code == 404
        assert client.get("/api/v1/adapters", params={"q": "mediapipe"}).json()["total"] == 0
        runnable = client.get("/api/v1/base-models/tiny-gemma2-demo/adapters").json()["items"]
        assert runnable and slug not in {i["slug"] for i in runnable}  # not offered to the chat either
        client.cookies.set(cookie_name(), get_session_store().create(other.id)[0])
        assert client.get(f"/api/v1/adapters/{slug}").status_code == 404
        client.cookies.set(cookie_name(), get_session_store().create(ada.id)[0])
        mine = client.get(f"/api/v1/adapters/{slug}")
        assert mine.status_code == 200 and mine.json()["status"] == "draft"
        lora = next(f for f in mine.json()["versions"][0]["files"] if f["role"] == "mediapipe-lora")
        assert client.get(lora["url"]).status_code == 200  # the author may download the draft's file
        client.cookies.clear()
        assert client.get(lora["url"]).status_code == 404  # nobody else
    finally:
        client.cookies.clear()
        with Session(engine_for(db_url)) as session:
            service.publish(session, slug=slug, actor=Actor.from_role(ada.id, "creator"))
            session.exec(sa.update(Adapter).where(Adapter.slug == slug).values(author_id=demo_id))
            session.commit()
        from app.catalog import caching

        caching.invalidate()


def test_api_is_rate_limited(client: TestClient, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("RATE_LIMIT_API", "5/60")
    reset_caches()
    try:
        codes = [client.get("/api/v1/adapters", headers={"X-Test": str(i)}).status_code for i in range(7)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    finally:
        monkeypatch.setenv("RATE_LIMIT_API", "100000/60")
        reset_caches()


# The schema is read from the app itself; every request then runs against `catalog_app`'s database.
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", build_api())


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_schema(catalog_app, case) -> None:  # noqa: ANN001
    case.call_and_validate()


def test_resumable_base_model_upload_over_http(client: TestClient, catalog_app, db_url: str, tmp_path) -> None:  # noqa: ANN001
    """Admin only; chunks land at the offset the server confirms; a repeated chunk gets 409 + where to go on."""
    import hashlib

    from app.auth.sessions import cookie_name, get_session_store
    from app.mediapipe_format import build_tiny_base
    from app.models import User

    data = build_tiny_base(tmp_path / "base.bin").read_bytes()
    with Session(engine_for(db_url), expire_on_commit=False) as session:
        root = User(email="root@example.com", display_name="Root", role="admin")
        user = User(email="user@example.com", display_name="User", role="user")
        session.add_all([root, user])
        session.commit()
    start = {"name": "tiny-http", "title": "Tiny via HTTP", "architecture": "tiny-gemma2", "size": len(data)}
    url = "/api/v1/admin/base-model-uploads"
    assert client.post(url, json=start).status_code == 401
    client.cookies.set(cookie_name(), get_session_store().create(user.id)[0])
    assert client.post(url, json=start).status_code == 403
    client.cookies.set(cookie_name(), get_session_store().create(root.id)[0])
    try:
        created = client.post(url, json=start)
        assert created.status_code == 201, created.text
        upload_id = created.json()["id"]
        half = len(data) // 2
        first = client.put(f"{url}/{upload_id}?offset=0", content=data[:half])
        assert first.json()["received"] == half
        again = client.put(f"{url}/{upload_id}?offset=0", content=data[:half])  # the answer was lost; resent
        assert again.status_code == 409 and again.json()["received"] == half
        assert client.get(f"{url}/{upload_id}").json()["received"] == half
        assert client.post(f"{url}/{upload_id}/complete").status_code == 400  # not all bytes yet
        assert client.put(f"{url}/{upload_id}?offset={half}", content=data[half:]).json()["received"] == len(data)
        done = client.post(f"{url}/{upload_id}/complete")
        assert done.status_code == 201 and done.json()["sha256"] == hashlib.sha256(data).hexdigest()
        assert client.get("/api/v1/base-models/tiny-http").json()["size_bytes"] == len(data)
    finally:
        client.cookies.clear()
