"""The catalog's server-side analytics events (upload, publish, file download): they land in the
raw table and the rollups, and the catalog action never fails or waits when analytics is down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.testclient import TestClient

from app.analytics import lifecycle, wiring
from app.analytics.pipeline import MemoryQueue, QueueFullError
from app.catalog import service
from app.catalog.errors import AdapterRejectedError
from app.catalog.intake import Upload
from app.catalog.schemas import Actor, AdapterMetadata
from tests.catalog.conftest import make_user
from tests.catalog.test_service import _peft
from tests.support.auth import reset_caches


@pytest.fixture(autouse=True)
def app_settings(db_url: str, settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:  # noqa: ANN001
    """The app's settings (run-time config, storage, database) point at this test's."""
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    reset_caches()
    yield
    monkeypatch.undo()
    reset_caches()


@pytest.fixture
def pipeline(db_engine: sa.Engine) -> Iterator[lifecycle.Pipeline]:
    lifecycle.stop()
    started = lifecycle.start(engine=db_engine, queue=MemoryQueue(capacity=10_000))
    yield started
    lifecycle.stop()


@pytest.fixture
def creator(db) -> Actor:  # noqa: ANN001
    user = make_user(db, email="cleo@example.com", name="Cleo Creator")
    return Actor.from_role(user.id, user.role)


def _events(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT type, user_id, adapter_id, attrs FROM analytics_event ORDER BY id")).all()
    out = []
    for kind, user_id, adapter_id, attrs in rows:
        if isinstance(attrs, str):
            import json

            attrs = json.loads(attrs)
        out.append((kind, user_id, adapter_id, attrs))
    return out


def _rollup(engine: sa.Engine, dim: str, metric: str, dim_key: str = "") -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT coalesce(sum(count), 0) FROM analytics_rollup "
                "WHERE grain = 'd' AND dim = :dim AND metric = :metric AND dim_key = :key"
            ),
            {"dim": dim, "metric": metric, "key": dim_key},
        ).scalar_one()


def _upload(db, storage, settings, tmp_path, tiny, actor, seed: int) -> str:  # noqa: ANN001
    return service.upload_adapter(
        db,
        uploads=_peft(tmp_path, tiny, seed=seed),
        storage=storage,
        actor=actor,
        metadata=AdapterMetadata(title=f"Events {seed}"),
        base_model="tiny-gemma2",
        settings=settings,
    ).slug


def test_upload_publish_and_rejection_are_recorded(
    db, db_engine, pipeline, creator, storage, settings, tmp_path, tiny
) -> None:  # noqa: ANN001
    slug = _upload(db, storage, settings, tmp_path, tiny, creator, seed=31)
    with pytest.raises(AdapterRejectedError):
        service.upload_adapter(
            db,
            uploads=[Upload("adapter.bin", iter([b"not a model"]))],
            storage=storage,
            actor=creator,
            metadata=AdapterMetadata(title="Broken"),
            base_model="tiny-gemma2",
            settings=settings,
        )
    service.publish(db, slug=slug, actor=creator)
    service.publish(db, slug=slug, actor=creator)  # already published: not a new publish
    lifecycle.stop()  # drains the queue

    events = _events(db_engine)
    assert [(kind, user, adapter) for kind, user, adapter, _ in events] == [
        ("upload", creator.user_id, None),
        ("upload", creator.user_id, None),
        ("publish", creator.user_id, slug),
    ]
    ok, rejected = events[0][3], events[1][3]
    assert ok["format"] == "peft" and ok["outcome"] == "ok" and ok["bytes"] > 0
    assert rejected == {"format": "mediapipe", "outcome": "rejected", "bytes": 0}
    assert _rollup(db_engine, "all", "upload") == 2
    assert _rollup(db_engine, "all", "publish") == 1
    assert _rollup(db_engine, "adapter", "publish", slug) == 1


def test_file_downloads_are_counted_once_per_download(
    db, db_engine, pipeline, creator, storage, settings, tmp_path, tiny
) -> None:  # noqa: ANN001
    from app.routes.files import file_routes

    slug = _upload(db, storage, settings, tmp_path, tiny, creator, seed=32)
    service.publish(db, slug=slug, actor=creator)
    lora = next(f for f in service.get_adapter(db, slug).versions[0].files if f.role == "mediapipe-lora")
    client = TestClient(Starlette(routes=file_routes()))
    url = f"/files/{lora.sha256}"
    assert client.get(url).status_code == 200  # counted
    assert client.get(url, headers={"Range": "bytes=0-99"}).status_code == 206  # a download's start: counted
    assert client.get(url, headers={"Range": "bytes=100-"}).status_code == 206  # a resume: not
    assert client.head(url).status_code == 200  # not a download
    assert client.get(url, headers={"If-None-Match": f'"{lora.sha256}"'}).status_code == 304  # cached: not
    assert client.get(f"/files/{'0' * 64}").status_code == 404
    lifecycle.stop()
    downloads = [e for e in _events(db_engine) if e[0] == "file_download"]
    assert [(adapter, attrs) for _, _, adapter, attrs in downloads] == [
        (slug, {"file_kind": "lora", "bytes": lora.size_bytes}),
    ] * 2
    assert _rollup(db_engine, "adapter", "file_download", slug) == 2
    assert _rollup(db_engine, "adapter", "file_download:lora", slug) == 2


def test_catalog_actions_succeed_when_analytics_is_down_or_off(
    db, db_engine, pipeline, creator, storage, settings, tmp_path, tiny, monkeypatch, caplog
) -> None:  # noqa: ANN001
    def full(envelope: object) -> None:
        raise QueueFullError("analytics queue full")

    put = pipeline.queue.put
    monkeypatch.setattr(pipeline.queue, "put", full)
    slug = _upload(db, storage, settings, tmp_path, tiny, creator, seed=33)
    assert service.publish(db, slug=slug, actor=creator).status == "published"
    assert "could not record a upload event" in caplog.text and "could not record a publish event" in caplog.text

    monkeypatch.setattr(pipeline.queue, "put", put)
    monkeypatch.setattr(wiring, "analytics_enabled", lambda: False)
    service.unpublish(db, slug=slug, actor=creator)
    assert service.publish(db, slug=slug, actor=creator).status == "published"
    lifecycle.stop()
    assert _events(db_engine) == []
