"""Run-time configuration: the overrides an admin set, and who changed what, when."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Aware UTC: SQLModel's UTCDateTime columns refuse naive datetimes."""
    return datetime.now(UTC)


class ConfigOverride(SQLModel, table=True):
    """One row per overridden key; no row means the key falls back to env or default."""

    __tablename__ = "config_override"

    key: str = Field(primary_key=True, max_length=64)
    value_json: str = Field(max_length=4000)
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str = Field(max_length=200)


class ConfigAudit(SQLModel, table=True):
    """Append-only; its highest id is the configuration version every worker compares against."""

    __tablename__ = "config_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=200)
    actor_user_id: int | None = Field(default=None, index=True)
    key: str = Field(max_length=64, index=True)
    action: str = Field(max_length=8)  # "set" or "reset"
    old_json: str = Field(max_length=4000)
    new_json: str = Field(max_length=4000)
