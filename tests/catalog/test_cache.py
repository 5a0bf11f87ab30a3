"""Catalog queries and adapter pages are cached (in-process or Redis) and never stale after an edit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import cache as cache_module
from app import settings as settings_module
from app.catalog import service
from app.catalog.schemas import Actor, AdapterMetadata
from app.catalog.search import search_adapters
from app.models import Adapter
from tests.catalog.conftest import make_user
from tests.catalog.test_service import _upload


@pytest.fixture
def app_cache(cache_backend, monkeypatch):  # noqa: ANN001
    if cache_backend:
        monkeypatch.setenv("REDIS_URL", cache_backend)
    else:
        monkeypatch.delenv("REDIS_URL", raising=False)
    settings_module.get_settings.cache_clear()
    cache_module.get_cache.cache_clear()
    yield cache_module.get_cache()
    settings_module.get_settings.cache_clear()
    cache_module.get_cache.cache_clear()


def test_no_stale_page_or_search_after_an_edit(app_cache, db, storage, settings, tmp_path, tiny) -> None:
    ada = Actor(user_id=make_user(db, email="ada@example.com", name="Ada").id, is_creator=True)
    slug = _upload(db, storage, settings, tmp_path, tiny, ada, seed=21, title="First title", summary="one")
    service.publish(db, slug=slug, actor=ada)
    assert service.get_adapter(db, slug).title == "First title"
    assert [c.title for c in search_adapters(db, q="first").items] == ["First title"]

    # A change behind the domain's back is not seen: proof that both answers come from the cache.
    db.exec(sa.update(Adapter).where(Adapter.slug == slug).values(title="Sneaky"))
    db.commit()
    assert service.get_adapter(db, slug).title == "First title"
    assert search_adapters(db, q="first").items[0].title == "First title"

    # An edit through the domain: the very next read of the page and of the search is fresh.
    service.update_metadata(db, slug=slug, actor=ada, metadata=AdapterMetadata(title="Second title", summary="two"))
    page = service.get_adapter(db, slug)
    assert (page.title, page.summary) == ("Second title", "two")
    assert search_adapters(db, q="first").total == 0
    assert [c.title for c in search_adapters(db, q="second").items] == ["Second title"]

    # Status changes too: unpublishing removes it from the cached listing at once.
    service.unpublish(db, slug=slug, actor=ada)
    assert search_adapters(db, q="second").total == 0
    with pytest.raises(service.NotFoundError):
        service.get_adapter(db, slug)


def test_a_rolled_back_write_does_not_bump_the_namespace(app_cache, db) -> None:
    from app.catalog import caching

    before = caching.namespace()
    db.exec(sa.select(Adapter.id))  # a transaction is open, as in every real write
    caching.mark_changed(db)
    db.rollback()
    db.commit()
    assert caching.namespace() == before
