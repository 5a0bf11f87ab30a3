"""Stored files that nothing refers to any more: the drafts of a deleted account, deleted or
replaced versions, a base model registered again with other bytes. They are removed after a grace
period, so a file committed a moment ago, whose database row is still being written, is never
taken; committing the same bytes again refreshes a file's time (app/storage)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlmodel import Session, select

from app.models import AdapterFile, BaseModelFile
from app.storage import ObjectNotFoundError, Storage

DEFAULT_GRACE_S = 24 * 3600


@dataclass
class SweepReport:
    removed: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    in_use: int = 0
    too_young: int = 0


def _referenced(session: Session, key: str | None = None) -> set[str]:
    keys: set[str] = set()
    for column in (AdapterFile.storage_key, BaseModelFile.storage_key):
        query = select(column).distinct()
        if key is not None:
            query = query.where(column == key)
        keys.update(session.exec(query).all())
    return keys


def sweep_unreferenced(
    session: Session,
    *,
    storage: Storage,
    grace_s: float = DEFAULT_GRACE_S,
    dry_run: bool = False,
    now: float | None = None,
) -> SweepReport:
    """Delete stored files no adapter version or base model refers to and untouched for `grace_s`."""
    now = time.time() if now is None else now
    referenced = _referenced(session)
    report = SweepReport()
    for key in list(storage.keys()):
        if key in referenced:
            report.in_use += 1
            continue
        try:
            stat = storage.stat(key)
        except ObjectNotFoundError:
            continue
        if now - stat.modified < grace_s:
            report.too_young += 1
            continue
        # Asked again right before deleting: an upload of the same bytes may have landed since the
        # listing (a new statement sees it: read committed on PostgreSQL; pysqlite opens no
        # transaction for a read).
        if _referenced(session, key):
            report.in_use += 1
            continue
        if dry_run or storage.delete(key):
            report.removed.append(key)
            report.bytes_freed += stat.size
    return report
