"""The adapters chat can run on one base model, each with its runtime (MediaPipe LoRA) file.

The chat page needs, for every published adapter made for its base model, the file to load and the
adapter's generation defaults: one answer here, instead of a search followed by one detail request
per adapter (which grew with the catalog and ran on every chat page load).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from app.catalog import caching
from app.catalog.schemas import AdapterFileOut, BaseModelOut, GenerationSettings, RunnableAdapter, RunnableAdapters
from app.catalog.search import LISTED
from app.models import Adapter, AdapterFile, AdapterVersion
from app.storage import Storage

# The chat's picker lists at most this many (the most downloaded first).
MAX_RUNNABLE = 100


def _load(session: Session, base: BaseModelOut) -> RunnableAdapters:
    adapters = session.exec(
        select(Adapter)
        .where(
            Adapter.status.in_(LISTED),  # type: ignore[attr-defined]
            Adapter.base_model.in_({base.architecture, base.name}),  # type: ignore[attr-defined]
        )
        .order_by(Adapter.download_count.desc(), Adapter.id.desc())  # type: ignore[attr-defined]
        .limit(MAX_RUNNABLE)
    ).all()
    ids = [a.id for a in adapters]
    newest = (
        select(AdapterVersion.adapter_id, sa.func.max(AdapterVersion.number).label("number"))
        .where(AdapterVersion.adapter_id.in_(ids))  # type: ignore[attr-defined]
        .group_by(AdapterVersion.adapter_id)
        .subquery()
    )
    rows = session.exec(
        select(AdapterVersion.adapter_id, AdapterFile)
        .join(
            newest, sa.and_(newest.c.adapter_id == AdapterVersion.adapter_id, newest.c.number == AdapterVersion.number)
        )
        .join(AdapterFile, AdapterFile.version_id == AdapterVersion.id)  # type: ignore[arg-type]
        .where(AdapterFile.role == "mediapipe-lora")
    ).all()
    files = {adapter_id: file for adapter_id, file in rows}
    items = []
    for adapter in adapters:
        file = files.get(adapter.id)
        if file is None:
            continue  # not runnable in the browser (no converted file in its newest version)
        items.append(
            RunnableAdapter(
                slug=adapter.slug,
                title=adapter.title,
                rank=adapter.rank,
                generation=GenerationSettings.model_validate(adapter.generation or {}),
                file=AdapterFileOut(
                    role="mediapipe-lora",
                    format=file.format,
                    filename=file.filename,
                    size_bytes=file.size_bytes,
                    sha256=file.sha256,
                ),
            )
        )
    return RunnableAdapters(base_model=base.name, items=items)


def runnable_adapters(session: Session, *, base: BaseModelOut, storage: Storage) -> RunnableAdapters:
    """Published adapters made for `base` (by architecture or name), with their file's URL."""
    listed = caching.cached("runnable", {"base": base.name}, RunnableAdapters, lambda: _load(session, base))
    assert listed is not None
    # URLs at answer time: a presigned URL must not outlive the cache entry.
    return listed.model_copy(
        update={
            "items": [
                item.model_copy(
                    update={
                        "file": item.file.model_copy(update={"url": storage.url_for(item.file.sha256, public=True)})
                    }
                )
                for item in listed.items
            ]
        }
    )
