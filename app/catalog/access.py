"""Who may download a stored file through `/files/`: the access hook of the delivery route.

Files are addressed by content hash, so a URL reveals nothing by itself; still, the files of a
draft or removed adapter are served only to its author and admins. A file that belongs to at
least one published or unlisted adapter is public, as is anything the catalog does not own as
an adapter file (base models, the runtime's demo files).
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import Session, select

from app.catalog import caching
from app.catalog.schemas import Actor
from app.models import Adapter, AdapterFile, AdapterVersion, BaseModelFile

PUBLIC = ("published", "unlisted")


class FileOwners(BaseModel):
    public: bool
    owners: list[int]
    # What the file is, for the download analytics: a LoRA of an adapter (its slug), a base
    # model, or neither (the runtime's own files).
    kind: str | None = None
    adapter_slug: str | None = None


def _owners(session: Session, key: str) -> FileOwners:
    rows = session.exec(
        select(Adapter.status, Adapter.author_id, Adapter.slug)
        .join(AdapterVersion, AdapterVersion.adapter_id == Adapter.id)  # type: ignore[arg-type]
        .join(AdapterFile, AdapterFile.version_id == AdapterVersion.id)  # type: ignore[arg-type]
        .where(AdapterFile.sha256 == key)
    ).all()
    if not rows:
        base = session.exec(select(BaseModelFile.id).where(BaseModelFile.sha256 == key)).first()
        return FileOwners(public=True, owners=[], kind="base_model" if base is not None else None)
    return FileOwners(
        public=any(status in PUBLIC for status, _, _ in rows),
        owners=sorted({a for _, a, _ in rows}),
        kind="lora",
        adapter_slug=min(slug for _, _, slug in rows),
    )


def file_info(session: Session, *, key: str) -> FileOwners:
    info = caching.cached("file-v2", {"key": key}, FileOwners, lambda: _owners(session, key))
    assert info is not None
    return info


def may_download(session: Session, *, key: str, actor: Actor | None) -> bool:
    return allowed(file_info(session, key=key), actor)


def allowed(info: FileOwners, actor: Actor | None) -> bool:
    if info.public:
        return True
    return actor is not None and (actor.is_admin or actor.user_id in info.owners)
