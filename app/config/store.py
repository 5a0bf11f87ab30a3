"""Overrides and their audit trail in the database: the durable truth every worker reloads from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from app.config.keys import ConfigKey, dump
from app.models.config import ConfigAudit, ConfigOverride, utcnow


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: a signed-in admin (with user id) or an operator at the CLI."""

    label: str
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    key: str
    action: str
    old: str
    new: str


def _record(row: ConfigAudit) -> AuditRecord:
    assert row.id is not None
    return AuditRecord(row.id, row.at, row.actor, row.key, row.action, row.old_json, row.new_json)


def current_version(session: Session) -> int:
    """Every change writes one audit row in the same transaction, so the highest id versions the whole set."""
    return int(session.exec(select(sa.func.coalesce(sa.func.max(ConfigAudit.id), 0))).one())


def read_overrides(session: Session) -> tuple[int, dict[str, str]]:
    """The version first, then the rows: a change landing in between only makes the version look older."""
    version = current_version(session)
    rows = session.exec(select(ConfigOverride)).all()
    return version, {row.key: row.value_json for row in rows}


def set_override(session: Session, *, key: ConfigKey, value: object, fallback: object, actor: Actor) -> AuditRecord:
    """Store a validated value; audit it against the effective value it replaces (override, else env/default)."""
    row = session.get(ConfigOverride, key.name)
    old_json = row.value_json if row is not None else dump(fallback)
    if row is None:
        row = ConfigOverride(key=key.name, value_json=dump(value), updated_by=actor.label[:200])
    else:
        row.value_json = dump(value)
        row.updated_at = utcnow()
        row.updated_by = actor.label[:200]
    session.add(row)
    return _audit(session, key=key, action="set", old_json=old_json, new_json=dump(value), actor=actor)


def delete_override(session: Session, *, key: ConfigKey, fallback: object, actor: Actor) -> AuditRecord | None:
    """Drop the override so env or default shows through again; None when there was nothing to drop."""
    row = session.get(ConfigOverride, key.name)
    if row is None:
        return None
    old_json = row.value_json
    session.delete(row)
    return _audit(session, key=key, action="reset", old_json=old_json, new_json=dump(fallback), actor=actor)


def _audit(session: Session, *, key: ConfigKey, action: str, old_json: str, new_json: str, actor: Actor) -> AuditRecord:
    entry = ConfigAudit(
        actor=actor.label[:200],
        actor_user_id=actor.user_id,
        key=key.name,
        action=action,
        old_json=old_json,
        new_json=new_json,
    )
    session.add(entry)
    session.flush()
    return _record(entry)


def audit_log(session: Session, *, limit: int = 100, key: str | None = None) -> list[AuditRecord]:
    query = select(ConfigAudit).order_by(ConfigAudit.id.desc()).limit(max(1, min(limit, 1000)))  # type: ignore[union-attr]
    if key is not None:
        query = query.where(ConfigAudit.key == key)
    return [_record(row) for row in session.exec(query).all()]
