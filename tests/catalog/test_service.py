"""Catalog domain on SQLite and PostgreSQL: drafts from uploads, visibility, search, favourites,
moderation, downloads, and the storage+database rollback of a failed create."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from app.catalog import service
from app.catalog.intake import Upload
from app.catalog.schemas import Actor, AdapterMetadata, SearchParams
from app.catalog.search import facet_values, search_adapters
from app.catalog.synthetic import random_factors, write_peft_adapter
from app.models import Adapter
from app.settings import Settings
from app.storage import LocalStorage
from tests.catalog.conftest import catalog_rows, files_left


def _peft(tmp: Path, tiny, *, seed: int, rank: int = 4) -> list[Upload]:
    config, weights = write_peft_adapter(
        tmp / f"ad{seed}", random_factors(tiny, rank=rank, seed=seed), rank=rank, alpha=rank,
        base_model_name="lorastudio/tiny-gemma2",
    )  # fmt: skip
    return [Upload(config.name, open(config, "rb")), Upload(weights.name, open(weights, "rb"))]  # noqa: SIM115


def _upload(db, storage, settings, tmp_path, tiny, actor, *, seed: int, rank: int = 4, **meta) -> str:  # noqa: ANN001
    metadata = AdapterMetadata(title=meta.pop("title", f"Adapter {seed}"), **meta)
    detail = service.upload_adapter(
        db,
        uploads=_peft(tmp_path, tiny, seed=seed, rank=rank),
        storage=storage,
        actor=actor,
        metadata=metadata,
        base_model="tiny-gemma2",
        settings=settings,
    )
    return detail.slug


def actor(user, admin: bool = False) -> Actor:  # noqa: ANN001
    return Actor.from_role(user.id, "admin" if admin else user.role)


def test_draft_is_private_until_published(db, people, storage, settings, tmp_path, tiny) -> None:
    ada, bob = actor(people["ada"]), actor(people["bob"])
    slug = _upload(db, storage, settings, tmp_path, tiny, ada, seed=1, title="Pirate Speak", summary="Arr")
    detail = service.get_adapter(db, slug, actor=ada)
    assert detail.status == "draft" and detail.rank == 4 and detail.author_name == "Ada Lovelace"
    roles = {f.role for f in detail.versions[0].files}
    assert roles == {"mediapipe-lora", "peft-weights", "peft-config"}
    with pytest.raises(service.NotFoundError):
        service.get_adapter(db, slug, actor=bob)
    with pytest.raises(service.NotFoundError):
        service.get_adapter(db, slug, actor=None)
    assert search_adapters(db, q="pirate").total == 0

    with pytest.raises(service.ForbiddenError):  # bob cannot see it, so cannot publish it either
        service.publish(db, slug=slug, actor=Actor.from_role(people["bob"].id, "admin"))
    service.publish(db, slug=slug, actor=ada)
    assert service.get_adapter(db, slug, actor=None).status == "published"
    assert [c.slug for c in search_adapters(db, q="pirate").items] == [slug]

    service.set_status(db, slug=slug, actor=ada, status="unlisted")
    assert service.get_adapter(db, slug, actor=None).status == "unlisted"  # open by link
    assert search_adapters(db, q="pirate").total == 0  # never listed


def test_search_filters_sort_and_pages(db, people, storage, settings, tmp_path, tiny) -> None:
    ada, bob = actor(people["ada"]), actor(people["bob"])
    specs = [
        (ada, 1, 4, "Shakespeare sonnets", ["poetry", "english"], "writing", "mit"),
        (ada, 2, 8, "Python code helper", ["code", "python"], "code", "apache-2.0"),
        (bob, 3, 16, "Sonnet critic", ["poetry"], "writing", "apache-2.0"),
        (bob, 4, 4, "Pirate speak", ["fun"], "chat", "cc-by-4.0"),
    ]
    slugs = {}
    for who, seed, rank, title, tags, task, lic in specs:
        slug = _upload(
            db, storage, settings, tmp_path, tiny, who, seed=seed, rank=rank, title=title, tags=tags,
            task_type=task, license=lic,
        )  # fmt: skip
        service.publish(db, slug=slug, actor=who)
        slugs[title] = slug
    # full text: title words (prefix), tags, author name; AND of terms
    assert {c.title for c in search_adapters(db, q="sonn").items} == {"Shakespeare sonnets", "Sonnet critic"}
    assert {c.title for c in search_adapters(db, q="bob").items} == {"Sonnet critic", "Pirate speak"}
    assert {c.title for c in search_adapters(db, q="python").items} == {"Python code helper"}
    assert {c.title for c in search_adapters(db, q="sonnet bob").items} == {"Sonnet critic"}
    assert search_adapters(db, q="%_").total == 4  # no words: same as no query, not a wildcard
    assert search_adapters(db, q="' OR 1=1 --").total == 0
    # filters
    assert {c.title for c in search_adapters(db, tag="poetry").items} == {"Shakespeare sonnets", "Sonnet critic"}
    assert {c.title for c in search_adapters(db, task="writing", license="mit").items} == {"Shakespeare sonnets"}
    assert {c.title for c in search_adapters(db, rank=4).items} == {"Shakespeare sonnets", "Pirate speak"}
    # sort: newest first, then popular (downloads), then favourites
    assert [c.title for c in search_adapters(db, sort="newest").items][0] == "Pirate speak"
    service.record_download(db, slug=slugs["Python code helper"], client="ip:1")
    service.record_download(db, slug=slugs["Python code helper"], client="ip:2")
    service.record_download(db, slug=slugs["Python code helper"], client="ip:2")  # same client, same day
    service.record_download(db, slug=slugs["Sonnet critic"], client="ip:1")
    db.expire_all()
    assert db.exec(sa.select(Adapter.download_count).where(Adapter.slug == slugs["Python code helper"])).one()[0] == 2
    service.set_favourite(db, slug=slugs["Pirate speak"], actor=ada, favourite=True)
    service.set_favourite(db, slug=slugs["Pirate speak"], actor=bob, favourite=True)
    assert service.set_favourite(db, slug=slugs["Pirate speak"], actor=bob, favourite=True) == 2  # idempotent
    popular = search_adapters(db, sort="popular")
    assert [c.title for c in popular.items][:2] == ["Python code helper", "Sonnet critic"]
    assert search_adapters(db, sort="favourites").items[0].title == "Pirate speak"
    # pages
    page2 = search_adapters(db, SearchParams(per_page=3, page=2, sort="newest"))
    assert page2.total == 4 and page2.pages == 2 and len(page2.items) == 1
    assert page2.items[0].title == "Shakespeare sonnets"
    facets = facet_values(db)
    assert (
        facets.ranks == [4, 8, 16] and "poetry" in facets.tags and facets.licenses == ["apache-2.0", "cc-by-4.0", "mit"]
    )


def test_favourites_count_and_list(db, people, storage, settings, tmp_path, tiny) -> None:
    ada, bob = actor(people["ada"]), actor(people["bob"])
    slug = _upload(db, storage, settings, tmp_path, tiny, ada, seed=5)
    with pytest.raises(service.NotFoundError):  # a draft cannot be favourited by others
        service.set_favourite(db, slug=slug, actor=bob, favourite=True)
    service.publish(db, slug=slug, actor=ada)
    assert service.set_favourite(db, slug=slug, actor=bob, favourite=True) == 1
    assert service.is_favourite(db, slug=slug, user_id=people["bob"].id)
    assert [c.slug for c in service.favourites_of(db, user_id=people["bob"].id)] == [slug]
    assert service.set_favourite(db, slug=slug, actor=bob, favourite=False) == 0
    assert service.favourites_of(db, user_id=people["bob"].id) == []


def test_moderation_reason_reaches_the_author_only(db, people, storage, settings, tmp_path, tiny) -> None:
    ada, bob, root = actor(people["ada"]), actor(people["bob"]), actor(people["root"], admin=True)
    slug = _upload(db, storage, settings, tmp_path, tiny, ada, seed=6, title="Borderline")
    service.publish(db, slug=slug, actor=ada)
    with pytest.raises(service.ForbiddenError):
        service.moderate(db, slug=slug, actor=bob, action="remove", reason="spite")
    with pytest.raises(service.CatalogError, match="give a reason"):
        service.moderate(db, slug=slug, actor=root, action="unpublish", reason=" ")
    service.moderate(db, slug=slug, actor=root, action="unpublish", reason="Card misstates the license")
    assert search_adapters(db, q="borderline").total == 0
    mine = service.get_adapter(db, slug, actor=ada)
    assert mine.status == "draft" and mine.moderation_reason == "Card misstates the license"
    service.publish(db, slug=slug, actor=ada)  # fixed and republished: the reason is cleared
    assert service.get_adapter(db, slug, actor=ada).moderation_reason is None

    service.moderate(db, slug=slug, actor=root, action="remove", reason="Copyrighted training data")
    assert service.get_adapter(db, slug, actor=ada).moderation_reason == "Copyrighted training data"
    with pytest.raises(service.NotFoundError):
        service.get_adapter(db, slug, actor=bob)
    with pytest.raises(service.ForbiddenError, match="removed by a moderator: Copyrighted training data"):
        service.publish(db, slug=slug, actor=ada)
    # the public never sees a reason, even on a public adapter
    other = _upload(db, storage, settings, tmp_path, tiny, ada, seed=7)
    service.publish(db, slug=other, actor=ada)
    assert service.get_adapter(db, other, actor=None).moderation_reason is None


def test_duplicate_upload_is_refused_and_stores_nothing(db, people, storage, settings, tmp_path, tiny) -> None:
    ada = actor(people["ada"])
    slug = _upload(db, storage, settings, tmp_path, tiny, ada, seed=8, title="Original")
    before_files, before_rows = files_left(storage), catalog_rows(db)
    with pytest.raises(service.ConflictError, match=rf"already in the catalog as 'Original' \(/adapters/{slug}\)"):
        _upload(db, storage, settings, tmp_path, tiny, ada, seed=8, title="Copy")
    assert files_left(storage) == before_files and catalog_rows(db) == before_rows


def test_failed_database_step_removes_the_uploaded_files(
    db, people, storage: LocalStorage, settings: Settings, tmp_path, tiny, monkeypatch
) -> None:
    ada = actor(people["ada"])
    before_files, before_rows = files_left(storage), catalog_rows(db)

    def broken(*args, **kwargs) -> None:  # noqa: ANN002, ANN003
        raise sa.exc.OperationalError("INSERT", {}, Exception("connection lost"))

    monkeypatch.setattr(service, "_add_version", broken)
    with pytest.raises(sa.exc.OperationalError):
        _upload(db, storage, settings, tmp_path, tiny, ada, seed=9)
    assert files_left(storage) == before_files and catalog_rows(db) == before_rows


def test_metadata_is_validated_with_exact_messages() -> None:
    with pytest.raises(ValueError, match="tags are lower-case letters"):
        AdapterMetadata(title="x", tags=["no spaces!"])
    with pytest.raises(ValueError, match="task type must be one of"):
        AdapterMetadata(title="x", task_type="mining")
    with pytest.raises(ValueError, match="license must be one of"):
        AdapterMetadata(title="x", license="wtfpl")
    assert AdapterMetadata(title="x", tags="Poetry, #fun  poetry").tags == ["poetry", "fun"]


def test_edit_updates_search_and_tags(db, people, storage, settings, tmp_path, tiny) -> None:
    ada = actor(people["ada"])
    slug = _upload(db, storage, settings, tmp_path, tiny, ada, seed=10, title="Old name", tags=["old"])
    service.publish(db, slug=slug, actor=ada)
    assert search_adapters(db, tag="old").total == 1
    service.update_metadata(db, slug=slug, actor=ada, metadata=AdapterMetadata(title="Fresh name", tags=["new"]))
    assert search_adapters(db, tag="old").total == 0
    assert [c.title for c in search_adapters(db, q="fresh").items] == ["Fresh name"]
    assert search_adapters(db, q="old").total == 0
    with pytest.raises(service.ForbiddenError):
        service.update_metadata(db, slug=slug, actor=actor(people["bob"]), metadata=AdapterMetadata(title="Mine"))


def test_new_version_by_the_author_only(db, people, storage, settings, tmp_path, tiny) -> None:
    ada, bob = actor(people["ada"]), actor(people["bob"])
    slug = _upload(db, storage, settings, tmp_path, tiny, ada, seed=30, rank=4)
    with pytest.raises(service.NotFoundError):  # a draft: bob does not even see it
        service.add_version(
            db, slug=slug, uploads=_peft(tmp_path, tiny, seed=31), storage=storage, actor=bob, changelog="x",
            settings=settings,
        )  # fmt: skip
    detail = service.add_version(
        db, slug=slug, uploads=_peft(tmp_path, tiny, seed=31, rank=8), storage=storage, actor=ada,
        changelog="Retrained at rank 8", settings=settings,
    )  # fmt: skip
    assert [v.number for v in detail.versions] == [2, 1] and detail.rank == 8
    assert detail.versions[0].changelog == "Retrained at rank 8"
    assert detail.lora_file is not None and detail.lora_file.sha256 != detail.versions[1].files[0].sha256
    before = files_left(storage)
    with pytest.raises(service.ConflictError):
        service.add_version(
            db, slug=slug, uploads=_peft(tmp_path, tiny, seed=31, rank=8), storage=storage, actor=ada, changelog="again",
            settings=settings,
        )  # fmt: skip
    assert files_left(storage) == before


def test_deleting_an_account_keeps_its_public_adapters(db, people, storage, settings, tmp_path, tiny) -> None:
    from app.auth import accounts

    ada = actor(people["ada"])
    public = _upload(db, storage, settings, tmp_path, tiny, ada, seed=50, title="Keeps working")
    service.publish(db, slug=public, actor=ada)
    draft = _upload(db, storage, settings, tmp_path, tiny, ada, seed=51, title="Half done")
    service.set_favourite(db, slug=public, actor=actor(people["bob"]), favourite=True)
    accounts.delete_account(db, user_id=people["ada"].id, confirm_email="ada@example.com")
    kept = service.get_adapter(db, public)
    assert kept.author_name == "Deleted user" and kept.favourite_count == 1
    assert [c.slug for c in search_adapters(db, q="deleted").items] == [public]
    with pytest.raises(service.NotFoundError):
        service.get_adapter(db, draft, actor=Actor(user_id=0, is_admin=True))
    assert catalog_rows(db)["adapter_version"] == 1


# --- run-time switches: moderation, uploads on/off, maintenance ---------------------------------


def _config(settings: Settings, db_engine):  # noqa: ANN001, ANN202
    from app.config import RuntimeConfig

    return RuntimeConfig(settings=settings, engine=db_engine, redis_url=None)


def _listed(db) -> list[str]:  # noqa: ANN001
    return [card.slug for card in search_adapters(db, SearchParams()).items]


def test_moderation_holds_a_creators_publish_until_an_admin_approves(
    db, db_engine, people, storage, settings, tmp_path, tiny
) -> None:
    from app.config import Actor as ConfigActor

    ada, root = actor(people["ada"]), actor(people["root"], admin=True)
    config = _config(settings, db_engine)
    config.set("moderation.required", True, actor=ConfigActor("root@example.com"))
    slug = _upload(db, storage, settings, tmp_path, tiny, ada, seed=40, title="Needs Review")

    with pytest.raises(service.CatalogError, match="publish it, and unlist it once approved"):
        service.set_status(db, slug=slug, actor=ada, status="unlisted", config=config)
    assert service.publish(db, slug=slug, actor=ada, config=config).status == "pending"
    assert slug not in _listed(db)
    with pytest.raises(service.NotFoundError):  # nobody but the author and admins sees it
        service.get_adapter(db, slug, actor=actor(people["bob"]))
    assert [c.slug for c in service.adapters_for_moderation(db, status="pending")] == [slug]

    assert service.moderate(db, slug=slug, actor=root, action="approve", reason="").status == "published"
    assert slug in _listed(db)
    # Approved: the author may unlist and re-publish without another review ...
    assert service.set_status(db, slug=slug, actor=ada, status="unlisted", config=config).status == "unlisted"
    assert service.publish(db, slug=slug, actor=ada, config=config).status == "published"
    # ... but a new version goes back to review.
    detail = service.add_version(
        db, slug=slug, uploads=_peft(tmp_path, tiny, seed=41), storage=storage, actor=ada, changelog="v2",
        settings=settings, config=config,
    )  # fmt: skip
    assert detail.status == "pending" and slug not in _listed(db)
    with pytest.raises(service.CatalogError, match="only an adapter waiting for review"):
        service.moderate(db, slug=_upload(db, storage, settings, tmp_path, tiny, ada, seed=42), actor=root,
                         action="approve", reason="")  # fmt: skip

    config.set("moderation.required", False, actor=ConfigActor("root@example.com"))
    other = _upload(db, storage, settings, tmp_path, tiny, ada, seed=43, title="No Review")
    assert service.publish(db, slug=other, actor=ada, config=config).status == "published"


def test_admins_publish_without_review(db, db_engine, people, storage, settings, tmp_path, tiny) -> None:
    from app.config import Actor as ConfigActor

    root = actor(people["root"], admin=True)
    config = _config(settings, db_engine)
    config.set("moderation.required", True, actor=ConfigActor("root@example.com"))
    slug = _upload(db, storage, settings, tmp_path, tiny, root, seed=44, title="Staff Pick")
    assert service.publish(db, slug=slug, actor=root, config=config).status == "published"


def test_uploads_off_refuses_creators_and_stores_nothing(
    db, db_engine, people, storage, settings, tmp_path, tiny
) -> None:
    from app.config import Actor as ConfigActor

    ada, root = actor(people["ada"]), actor(people["root"], admin=True)
    config = _config(settings, db_engine)
    slug = _upload(db, storage, settings, tmp_path, tiny, ada, seed=45)
    config.set("uploads.enabled", False, actor=ConfigActor("root@example.com"))
    rows, files = catalog_rows(db), files_left(storage)
    with pytest.raises(service.ForbiddenError, match="Uploads are turned off for now"):
        service.upload_adapter(
            db, uploads=_peft(tmp_path, tiny, seed=46), storage=storage, actor=ada,
            metadata=AdapterMetadata(title="Late"), base_model="tiny-gemma2", settings=settings, config=config,
        )  # fmt: skip
    with pytest.raises(service.ForbiddenError, match="Uploads are turned off for now"):
        service.add_version(
            db, slug=slug, uploads=_peft(tmp_path, tiny, seed=47), storage=storage, actor=ada, changelog="x",
            settings=settings, config=config,
        )  # fmt: skip
    assert catalog_rows(db) == rows and files_left(storage) == files
    service.upload_adapter(  # admins still may (e.g. to seed the catalog while creators wait)
        db, uploads=_peft(tmp_path, tiny, seed=48), storage=storage, actor=root,
        metadata=AdapterMetadata(title="Staff"), base_model="tiny-gemma2", settings=settings, config=config,
    )  # fmt: skip


def test_maintenance_makes_the_catalog_read_only(db, db_engine, people, storage, settings, tmp_path, tiny) -> None:
    from app.config import Actor as ConfigActor

    ada = actor(people["ada"])
    config = _config(settings, db_engine)
    slug = _upload(db, storage, settings, tmp_path, tiny, ada, seed=49, title="Frozen")
    config.set("maintenance.enabled", True, actor=ConfigActor("root@example.com"))
    config.set("maintenance.message", "Back at 10:00 UTC.", actor=ConfigActor("root@example.com"))
    with pytest.raises(service.CatalogError, match="read-only during maintenance. Back at 10:00 UTC."):
        service.publish(db, slug=slug, actor=ada, config=config)
    with pytest.raises(service.CatalogError, match="read-only during maintenance"):
        service.update_metadata(db, slug=slug, actor=ada, metadata=AdapterMetadata(title="Thawed"), config=config)
    assert service.get_adapter(db, slug, actor=ada).status == "draft"
