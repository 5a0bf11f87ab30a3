"""Adapter use cases: create from an upload, edit, publish, favourite, moderate, count downloads.

Plain Python for pages, API routes, the CLI and tests alike. Each write checks who may do it
(the guard also checks the role before any handler or route gets here), commits, and marks the
catalog cache stale (bumped after the commit, see app.catalog.caching).

Visibility: `published` adapters are listed and open to all; `unlisted` are open to anyone
with the link but never listed; `draft` and `removed` are seen only by their author and admins.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from collections.abc import Sequence

import redis
import sqlalchemy as sa
from sqlmodel import Session, select

from app.auth.accounts import on_account_deleted
from app.cache import get_cache
from app.catalog import caching
from app.catalog.errors import AdapterRejectedError
from app.catalog.intake import IntakeResult, Upload, ingest_adapter
from app.catalog.markdown import render_markdown
from app.catalog.registry import spec_for
from app.catalog.schemas import (
    SLUG_PATTERN,
    Actor,
    AdapterCard,
    AdapterDetail,
    AdapterFileOut,
    AdapterMetadata,
    AdapterVersionOut,
    GenerationSettings,
)
from app.catalog.search import _card, search_text_for
from app.config import MaintenanceError, RuntimeConfig, ensure_writable
from app.models import Adapter, AdapterFile, AdapterStatus, AdapterTag, AdapterVersion, Favourite, User
from app.models.base import utcnow
from app.settings import Settings
from app.storage import Storage

FILE_FORMATS = {
    "mediapipe-lora": ("mediapipe-lora-bin", "adapter.bin"),
    "peft-weights": ("safetensors", "adapter_model.safetensors"),
    "peft-config": ("peft-config-json", "adapter_config.json"),
}
PUBLIC_STATUSES = (AdapterStatus.published.value, AdapterStatus.unlisted.value)


class CatalogError(ValueError):
    """A refused catalog action; the message is shown to the user as is."""

    status_code = 400

    @property
    def message(self) -> str:
        return str(self)


class NotFoundError(CatalogError):
    status_code = 404


class ForbiddenError(CatalogError):
    status_code = 403


class ConflictError(CatalogError):
    status_code = 409


# --- analytics (server events; never fail or delay the catalog action) --------------------------


def _note(event: dict, actor: Actor | None) -> None:
    """Record an upload/publish event, after the catalog's own commit (app.analytics)."""
    from app.analytics.lifecycle import note_if_running  # analytics imports the catalog models

    note_if_running(event, user_id=actor.user_id if actor else None)


def _upload_format(uploads: Sequence[Upload]) -> str:
    """For a rejected upload: what it looked like (one .bin is a MediaPipe LoRA, the rest PEFT)."""
    return "mediapipe" if len(uploads) == 1 and uploads[0].filename.lower().endswith(".bin") else "peft"


def _uploaded_bytes(intake: IntakeResult) -> int:
    sources = [f.size for f in intake.files if f.role != "mediapipe-lora"]
    return sum(sources) if intake.source_format == "peft" and sources else intake.lora_file.size


def _note_upload(actor: Actor, *, uploads: Sequence[Upload], intake: IntakeResult | None) -> None:
    if intake is None:
        event = {"type": "upload", "format": _upload_format(uploads), "outcome": "rejected", "bytes": 0}
    else:
        event = {"type": "upload", "format": intake.source_format, "outcome": "ok", "bytes": _uploaded_bytes(intake)}
    _note(event, actor)


# --- reading -----------------------------------------------------------------------------------


def _may_see(status: str, author_id: int, actor: Actor | None) -> bool:
    if status in PUBLIC_STATUSES:
        return True
    return actor is not None and (actor.is_admin or actor.user_id == author_id)


def _load_detail(session: Session, slug: str) -> AdapterDetail | None:
    row = session.exec(
        select(Adapter, User.display_name).join(User, User.id == Adapter.author_id).where(Adapter.slug == slug)  # type: ignore[arg-type]
    ).first()
    if row is None:
        return None
    adapter, author_name = row
    versions = session.exec(
        select(AdapterVersion).where(AdapterVersion.adapter_id == adapter.id).order_by(AdapterVersion.number.desc())  # type: ignore[attr-defined]
    ).all()
    files_by_version: dict[int, list[AdapterFile]] = {}
    if versions:
        for item in session.exec(
            select(AdapterFile)
            .where(AdapterFile.version_id.in_([v.id for v in versions]))  # type: ignore[attr-defined]
            .order_by(AdapterFile.id)
        ).all():
            files_by_version.setdefault(item.version_id, []).append(item)
    card = _card(adapter, author_name)
    return AdapterDetail(
        **card.model_dump(),
        author_id=adapter.author_id,
        description_md=adapter.description_md,
        description_html=render_markdown(adapter.description_md),
        languages=list(adapter.languages),
        alpha=adapter.alpha,
        use_rslora=adapter.use_rslora,
        target_modules=list(adapter.target_modules),
        generation=GenerationSettings.model_validate(adapter.generation or {}),
        example_prompts=list(adapter.example_prompts),
        moderation_reason=adapter.moderation_reason,
        published_at=adapter.published_at,
        versions=[
            AdapterVersionOut(
                number=v.number,
                changelog=v.changelog,
                source_format=v.source_format,  # type: ignore[arg-type]
                created_at=v.created_at,
                files=[
                    AdapterFileOut(
                        role=f.role,  # type: ignore[arg-type]
                        format=f.format,
                        filename=f.filename,
                        size_bytes=f.size_bytes,
                        sha256=f.sha256,
                    )
                    for f in files_by_version.get(v.id or 0, [])
                ],
            )
            for v in versions
        ],
    )


def get_adapter(session: Session, slug: str, *, actor: Actor | None = None) -> AdapterDetail:
    """The adapter page's data (cached); NotFoundError when it does not exist *for this caller*."""
    if not SLUG_PATTERN.match(slug):
        raise NotFoundError(f"no adapter '{slug[:80]}'")
    detail = caching.cached("adapter", {"slug": slug}, AdapterDetail, lambda: _load_detail(session, slug))
    if detail is None or not _may_see(detail.status, detail.author_id, actor):
        raise NotFoundError(f"no adapter '{slug[:80]}'")
    if actor is None or not (actor.is_admin or actor.user_id == detail.author_id):
        detail = detail.model_copy(update={"moderation_reason": None})
    return detail


def with_file_urls(detail: AdapterDetail, storage: Storage) -> AdapterDetail:
    """Fill in download URLs at answer time (a presigned URL must not outlive the cache entry)."""
    public = detail.status in PUBLIC_STATUSES
    versions = [
        version.model_copy(
            update={
                "files": [f.model_copy(update={"url": storage.url_for(f.sha256, public=public)}) for f in version.files]
            }
        )
        for version in detail.versions
    ]
    return detail.model_copy(update={"versions": versions})


def adapters_by_author(session: Session, *, author_id: int) -> list[AdapterCard]:
    """Every adapter of one creator, whatever its status (the creator's own list)."""
    rows = session.exec(
        select(Adapter, User.display_name)
        .join(User, User.id == Adapter.author_id)  # type: ignore[arg-type]
        .where(Adapter.author_id == author_id)
        .order_by(Adapter.updated_at.desc(), Adapter.id.desc())  # type: ignore[attr-defined]
    ).all()
    return [_card(adapter, name) for adapter, name in rows]


def adapters_for_moderation(session: Session, *, status: str | None = None, limit: int = 200) -> list[AdapterCard]:
    query = select(Adapter, User.display_name).join(User, User.id == Adapter.author_id)  # type: ignore[arg-type]
    if status:
        query = query.where(Adapter.status == status)
    rows = session.exec(query.order_by(Adapter.updated_at.desc(), Adapter.id.desc()).limit(limit)).all()  # type: ignore[attr-defined]
    return [_card(adapter, name) for adapter, name in rows]


def moderation_reason_for(session: Session, *, slug: str) -> str | None:
    adapter = session.exec(select(Adapter).where(Adapter.slug == slug)).first()
    return adapter.moderation_reason if adapter else None


# --- creating ----------------------------------------------------------------------------------


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-")
    return slug or "adapter"


def _unique_slug(session: Session, title: str) -> str:
    base = slugify(title)
    taken = set(session.exec(select(Adapter.slug).where(Adapter.slug.startswith(base))).all())  # type: ignore[attr-defined]
    if base not in taken and base not in RESERVED_SLUGS:
        return base
    for n in range(2, 1000):
        candidate = f"{base}-{n}"
        if candidate not in taken:
            return candidate
    return f"{base}-{secrets.token_hex(4)}"


RESERVED_SLUGS = frozenset({"new", "upload", "edit", "admin", "api"})


def _author_name(session: Session, author_id: int) -> str:
    user = session.get(User, author_id)
    if user is None:
        raise NotFoundError(f"no user {author_id}")
    return user.display_name


def _apply_metadata(session: Session, adapter: Adapter, meta: AdapterMetadata, author_name: str) -> None:
    adapter.title = meta.title
    adapter.summary = meta.summary
    adapter.description_md = meta.description_md
    adapter.tags = list(meta.tags)
    adapter.task_type = meta.task_type
    adapter.languages = list(meta.languages)
    adapter.license = meta.license
    adapter.generation = meta.generation.model_dump()
    adapter.example_prompts = list(meta.example_prompts)
    adapter.search_text = search_text_for(
        title=meta.title, summary=meta.summary, tags=list(meta.tags), author_name=author_name
    )
    adapter.updated_at = utcnow()


def _sync_tags(session: Session, adapter_id: int, tags: Sequence[str]) -> None:
    session.exec(sa.delete(AdapterTag).where(AdapterTag.adapter_id == adapter_id))  # type: ignore[call-overload]
    for tag in dict.fromkeys(tags):
        session.add(AdapterTag(adapter_id=adapter_id, tag=tag))


def _add_version(session: Session, adapter_id: int, number: int, intake: IntakeResult, changelog: str) -> None:
    version = AdapterVersion(
        adapter_id=adapter_id, number=number, changelog=changelog, source_format=intake.source_format
    )
    session.add(version)
    session.flush()
    for item in intake.files:
        fmt, filename = FILE_FORMATS[item.role]
        session.add(
            AdapterFile(
                version_id=version.id or 0,
                role=item.role,
                format=fmt,
                filename=filename,
                size_bytes=item.size,
                sha256=item.key,
                storage_key=item.key,
            )
        )


def existing_adapter_with_file(session: Session, sha256: str) -> Adapter | None:
    return session.exec(
        select(Adapter)
        .join(AdapterVersion, AdapterVersion.adapter_id == Adapter.id)  # type: ignore[arg-type]
        .join(AdapterFile, AdapterFile.version_id == AdapterVersion.id)  # type: ignore[arg-type]
        .where(AdapterFile.sha256 == sha256, AdapterFile.role == "mediapipe-lora")
    ).first()


def _refuse_duplicate(session: Session, intake: IntakeResult, actor: Actor) -> None:
    """The same converted LoRA bytes already belong to an adapter: say which, store nothing new."""
    existing = existing_adapter_with_file(session, intake.lora_file.key)
    if existing is None:
        return
    if _may_see(existing.status, existing.author_id, actor):
        raise ConflictError(f"this adapter is already in the catalog as '{existing.title}' (/adapters/{existing.slug})")
    raise ConflictError("this adapter is already in the catalog")


def create_draft(
    session: Session,
    *,
    intake: IntakeResult,
    storage: Storage,
    actor: Actor,
    metadata: AdapterMetadata,
    base_model: str = "gemma2-2b",
    is_demo: bool = False,
    changelog: str = "First version",
    slug: str | None = None,
) -> AdapterDetail:
    """Turn a checked, stored upload into a draft adapter; on any failure the upload's files go too.

    Storage and database together: the files were committed by the intake; if this database
    step fails (a constraint, a lost connection, a duplicate) `intake.rollback` removes the
    files it created, so nothing half-written remains.
    """
    try:
        if not (actor.is_creator or actor.is_admin):
            raise ForbiddenError("only creators can upload adapters")
        _refuse_duplicate(session, intake, actor)
        author_name = _author_name(session, actor.user_id)
        adapter = Adapter(
            slug=_unique_slug(session, slug or metadata.title),
            title=metadata.title,
            author_id=actor.user_id,
            base_model=base_model,
            rank=intake.rank,
            alpha=intake.alpha,
            use_rslora=intake.use_rslora,
            target_modules=list(intake.target_modules),
            status=AdapterStatus.draft.value,
            is_demo=is_demo,
        )
        _apply_metadata(session, adapter, metadata, author_name)
        session.add(adapter)
        session.flush()
        _sync_tags(session, adapter.id or 0, metadata.tags)
        _add_version(session, adapter.id or 0, 1, intake, changelog)
        caching.mark_changed(session)
        session.commit()
    except BaseException:
        session.rollback()
        intake.rollback(storage)
        raise
    return get_adapter(session, adapter.slug, actor=actor)


# --- run-time switches (app/config): maintenance, uploads on/off, moderation ---------------------
#
# The app's handlers pass the live RuntimeConfig; callers with fixed settings (the CLI, demo seeding,
# tests of other rules) pass none and get no run-time switches.


def _check_writable(config: RuntimeConfig | None) -> None:
    if config is None:
        return
    try:
        ensure_writable(config)
    except MaintenanceError as exc:
        raise CatalogError(f"The catalog is read-only during maintenance. {exc.message}".strip()) from None


def _check_uploads_open(config: RuntimeConfig | None, actor: Actor) -> None:
    _check_writable(config)
    if config is not None and config.values["uploads.enabled"] is False and not actor.is_admin:
        raise ForbiddenError("Uploads are turned off for now. Try again later.")


def _needs_review(config: RuntimeConfig | None, actor: Actor) -> bool:
    return config is not None and bool(config.values["moderation.required"]) and not actor.is_admin


def upload_adapter(
    session: Session,
    *,
    uploads: Sequence[Upload],
    storage: Storage,
    actor: Actor,
    metadata: AdapterMetadata,
    base_model: str = "gemma2-2b",
    settings: Settings | None = None,
    is_demo: bool = False,
    slug: str | None = None,
    config: RuntimeConfig | None = None,
) -> AdapterDetail:
    """Check and convert the files (AdapterRejectedError says why not), then create the draft."""
    if not (actor.is_creator or actor.is_admin):
        raise ForbiddenError("only creators can upload adapters")
    _check_uploads_open(config, actor)
    try:
        intake = ingest_adapter(uploads, storage=storage, base=spec_for(base_model), settings=settings)
    except AdapterRejectedError:
        if not is_demo:
            _note_upload(actor, uploads=uploads, intake=None)
        raise
    detail = create_draft(
        session,
        intake=intake,
        storage=storage,
        actor=actor,
        metadata=metadata,
        base_model=base_model,
        is_demo=is_demo,
        slug=slug,
    )
    if not is_demo:  # the demo catalog seeded at start-up is nobody's upload
        _note_upload(actor, uploads=uploads, intake=intake)
    return detail


def add_version(
    session: Session,
    *,
    slug: str,
    uploads: Sequence[Upload],
    storage: Storage,
    actor: Actor,
    changelog: str,
    settings: Settings | None = None,
    config: RuntimeConfig | None = None,
) -> AdapterDetail:
    """A new version of an existing adapter (the author only); its newest version is what chat loads.

    With moderation on, a creator's new version sends a visible adapter back to review.
    """
    adapter = _owned(session, slug, actor)
    _check_uploads_open(config, actor)
    try:
        intake = ingest_adapter(uploads, storage=storage, base=spec_for(adapter.base_model), settings=settings)
    except AdapterRejectedError:
        _note_upload(actor, uploads=uploads, intake=None)
        raise
    try:
        _refuse_duplicate(session, intake, actor)
        number = (
            session.exec(
                select(sa.func.max(AdapterVersion.number)).where(AdapterVersion.adapter_id == adapter.id)
            ).one()
            or 0
        ) + 1
        _add_version(session, adapter.id or 0, number, intake, changelog[:2000])
        adapter.rank = intake.rank
        adapter.alpha = intake.alpha
        adapter.use_rslora = intake.use_rslora
        adapter.target_modules = list(intake.target_modules)
        adapter.updated_at = utcnow()
        if adapter.status in PUBLIC_STATUSES and _needs_review(config, actor):
            adapter.status = AdapterStatus.pending.value
        session.add(adapter)
        caching.mark_changed(session)
        session.commit()
    except BaseException:
        session.rollback()
        intake.rollback(storage)
        raise
    _note_upload(actor, uploads=uploads, intake=intake)
    return get_adapter(session, slug, actor=actor)


# --- editing and status ------------------------------------------------------------------------


def _adapter(session: Session, slug: str) -> Adapter:
    if not SLUG_PATTERN.match(slug):
        raise NotFoundError(f"no adapter '{slug[:80]}'")
    adapter = session.exec(select(Adapter).where(Adapter.slug == slug)).first()
    if adapter is None:
        raise NotFoundError(f"no adapter '{slug[:80]}'")
    return adapter


def _owned(session: Session, slug: str, actor: Actor) -> Adapter:
    adapter = _adapter(session, slug)
    if adapter.author_id != actor.user_id:
        if _may_see(adapter.status, adapter.author_id, actor):
            raise ForbiddenError("only the adapter's author can change it")
        raise NotFoundError(f"no adapter '{slug[:80]}'")
    if adapter.status == AdapterStatus.removed.value:
        raise ForbiddenError(
            f"this adapter was removed by a moderator: {adapter.moderation_reason or 'no reason given'}"
        )
    return adapter


def update_metadata(
    session: Session, *, slug: str, actor: Actor, metadata: AdapterMetadata, config: RuntimeConfig | None = None
) -> AdapterDetail:
    _check_writable(config)
    adapter = _owned(session, slug, actor)
    _apply_metadata(session, adapter, metadata, _author_name(session, adapter.author_id))
    session.add(adapter)
    _sync_tags(session, adapter.id or 0, metadata.tags)
    caching.mark_changed(session)
    session.commit()
    return get_adapter(session, slug, actor=actor)


def set_status(
    session: Session, *, slug: str, actor: Actor, status: str, config: RuntimeConfig | None = None
) -> AdapterDetail:
    """The author publishes, unlists or takes back to draft; a moderator's reason is cleared on publish.

    With moderation on, a creator's publish waits as `pending` until an admin approves it; an
    approved adapter may move between published and unlisted without another review.
    """
    if status not in (AdapterStatus.draft.value, *PUBLIC_STATUSES):
        raise CatalogError(f"an author cannot set status '{status[:20]}'")
    _check_writable(config)
    adapter = _owned(session, slug, actor)
    if status == AdapterStatus.published.value and not adapter.title.strip():
        raise CatalogError("give the adapter a title before publishing it")
    if status in PUBLIC_STATUSES and adapter.status not in PUBLIC_STATUSES and _needs_review(config, actor):
        if status == AdapterStatus.unlisted.value:
            raise CatalogError("adapters are reviewed before they go out: publish it, and unlist it once approved")
        status = AdapterStatus.pending.value
    newly_published = status == AdapterStatus.published.value and adapter.status != status and not adapter.is_demo
    adapter.status = status
    if status == AdapterStatus.published.value:
        adapter.published_at = adapter.published_at or utcnow()
        adapter.moderation_reason = None
    adapter.updated_at = utcnow()
    session.add(adapter)
    caching.mark_changed(session)
    session.commit()
    if newly_published:
        _note({"type": "publish", "adapter_id": slug}, actor)
    return get_adapter(session, slug, actor=actor)


def publish(session: Session, *, slug: str, actor: Actor, config: RuntimeConfig | None = None) -> AdapterDetail:
    return set_status(session, slug=slug, actor=actor, status=AdapterStatus.published.value, config=config)


def unpublish(session: Session, *, slug: str, actor: Actor) -> AdapterDetail:
    return set_status(session, slug=slug, actor=actor, status=AdapterStatus.draft.value)


MODERATION_ACTIONS = {"unpublish": AdapterStatus.draft.value, "remove": AdapterStatus.removed.value}


def moderate(session: Session, *, slug: str, actor: Actor, action: str, reason: str) -> AdapterDetail:
    """Admin: approve a pending adapter, take one off the catalog (back to draft) or remove it, with a
    reason its author sees."""
    if not actor.is_admin:
        raise ForbiddenError("only admins can moderate adapters")
    reason = (reason or "").strip()
    if action == "restore":
        adapter = _adapter(session, slug)
        adapter.status = AdapterStatus.draft.value
    elif action == "approve":
        adapter = _adapter(session, slug)
        if adapter.status != AdapterStatus.pending.value:
            raise CatalogError("only an adapter waiting for review can be approved")
        adapter.status = AdapterStatus.published.value
        adapter.published_at = adapter.published_at or utcnow()
    elif action in MODERATION_ACTIONS:
        if not reason:
            raise CatalogError("give a reason: the author sees it")
        adapter = _adapter(session, slug)
        adapter.status = MODERATION_ACTIONS[action]
    else:
        raise CatalogError(f"unknown moderation action '{action[:20]}'")
    adapter.moderation_reason = reason[:2000] or None
    adapter.updated_at = utcnow()
    session.add(adapter)
    caching.mark_changed(session)
    session.commit()
    if action == "approve" and not adapter.is_demo:
        _note({"type": "publish", "adapter_id": slug}, actor)
    return get_adapter(session, slug, actor=actor)


# --- favourites and downloads ------------------------------------------------------------------


def set_favourite(session: Session, *, slug: str, actor: Actor, favourite: bool) -> int:
    """Add or remove the caller's favourite; returns the adapter's new favourite count."""
    adapter = _adapter(session, slug)
    if not _may_see(adapter.status, adapter.author_id, actor):
        raise NotFoundError(f"no adapter '{slug[:80]}'")
    existing = session.get(Favourite, (actor.user_id, adapter.id))
    if favourite and existing is None:
        session.add(Favourite(user_id=actor.user_id, adapter_id=adapter.id or 0))
        delta = 1
    elif not favourite and existing is not None:
        session.delete(existing)
        delta = -1
    else:
        return adapter.favourite_count
    session.flush()
    session.exec(  # type: ignore[call-overload]
        sa.update(Adapter).where(Adapter.id == adapter.id).values(favourite_count=Adapter.favourite_count + delta)
    )
    caching.mark_changed(session)
    session.commit()
    session.refresh(adapter)
    return adapter.favourite_count


def is_favourite(session: Session, *, slug: str, user_id: int) -> bool:
    return (
        session.exec(
            select(Favourite.adapter_id)
            .join(Adapter, Adapter.id == Favourite.adapter_id)  # type: ignore[arg-type]
            .where(Adapter.slug == slug, Favourite.user_id == user_id)
        ).first()
        is not None
    )


def favourites_of(session: Session, *, user_id: int) -> list[AdapterCard]:
    rows = session.exec(
        select(Adapter, User.display_name)
        .join(Favourite, Favourite.adapter_id == Adapter.id)  # type: ignore[arg-type]
        .join(User, User.id == Adapter.author_id)  # type: ignore[arg-type]
        .where(Favourite.user_id == user_id, Adapter.status.in_(PUBLIC_STATUSES))  # type: ignore[attr-defined]
        .order_by(Favourite.created_at.desc())  # type: ignore[attr-defined]
    ).all()
    return [_card(adapter, name) for adapter, name in rows]


def record_download(session: Session, *, slug: str, client: str, actor: Actor | None = None) -> bool:
    """Count a download once per client per adapter per day; True when it was counted.

    `client` is a user id or an IP address (never stored: only a day-scoped key in the cache).
    """
    adapter = _adapter(session, slug)
    if not _may_see(adapter.status, adapter.author_id, actor):
        raise NotFoundError(f"no adapter '{slug[:80]}'")
    day = dt.date.today().isoformat()
    key = f"catalog:dl:{adapter.id}:{day}:{client[:80]}"
    try:
        if get_cache().incr(key, ttl=86_400) > 1:
            return False
    except redis.RedisError:
        pass  # without the cache, count rather than lose the download

    session.exec(  # type: ignore[call-overload]
        sa.update(Adapter).where(Adapter.id == adapter.id).values(download_count=Adapter.download_count + 1)
    )
    session.commit()
    return True


@on_account_deleted
def hand_over_adapters(session: Session, user: User, placeholder: User) -> None:
    """Account deletion: published and unlisted adapters stay (people rely on them) under the
    shared "Deleted user"; drafts and removed ones go with the account (rows cascade; their
    stored files go with the next storage sweep, app/catalog/sweep.py, at the latest a day on)."""
    for adapter in session.exec(select(Adapter).where(Adapter.author_id == user.id)).all():
        if adapter.status in PUBLIC_STATUSES:
            adapter.author_id = placeholder.id or 0
            adapter.search_text = search_text_for(
                title=adapter.title,
                summary=adapter.summary,
                tags=list(adapter.tags),
                author_name=placeholder.display_name,
            )
            session.add(adapter)
        else:
            session.delete(adapter)
    caching.mark_changed(session)


__all__ = [
    "AdapterRejectedError",
    "CatalogError",
    "ConflictError",
    "ForbiddenError",
    "NotFoundError",
]
