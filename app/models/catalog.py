"""The LoRA catalog: base models, adapters with their versions and files, favourites.

Adapters name the base *architecture* they were checked against (`gemma2-2b`), not one base
model row: an operator may re-register the base file (another quantisation, a new sha256)
without touching any adapter. `search_text` is a lower-cased copy of title, summary, tags and
author name kept by the domain layer; PostgreSQL searches it through a GIN tsvector index,
SQLite with LIKE (a laptop's catalog is small).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class AdapterStatus(enum.StrEnum):
    draft = "draft"
    pending = "pending"  # waiting for a moderator (run-time config moderation.required)
    published = "published"
    unlisted = "unlisted"
    removed = "removed"


class BaseModelFile(SQLModel, table=True):
    """A base model file the browser loads (Gemma2-2b-it `.bin`, or the tiny demo base)."""

    __tablename__ = "base_model"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True, index=True)
    title: str = Field(max_length=120)
    architecture: str = Field(max_length=32, index=True)
    sha256: str = Field(max_length=64, index=True)
    size_bytes: int = Field(sa_type=sa.BigInteger)
    storage_key: str = Field(max_length=64)
    license_note: str = Field(default="", sa_type=sa.Text)
    source: str = Field(default="upload", max_length=16)
    is_active: bool = Field(default=True)
    is_demo: bool = Field(default=False)
    created_by: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class BaseModelUpload(SQLModel, table=True):
    """A resumable base-model upload in progress: bytes so far live in the staging area."""

    __tablename__ = "base_model_upload"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=80)
    title: str = Field(max_length=120)
    architecture: str = Field(max_length=32)
    license_note: str = Field(default="", sa_type=sa.Text)
    expected_size: int = Field(sa_type=sa.BigInteger)
    expected_sha256: str | None = Field(default=None, max_length=64)
    received: int = Field(default=0, sa_type=sa.BigInteger)
    created_by: int | None = Field(default=None, foreign_key="user_account.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Adapter(SQLModel, table=True):
    __tablename__ = "adapter"
    __table_args__ = (
        sa.Index("ix_adapter_status_downloads", "status", "download_count"),
        sa.Index("ix_adapter_status_created", "status", "created_at"),
        sa.Index("ix_adapter_status_favourites", "status", "favourite_count"),
        sa.Index(
            "ix_adapter_search_tsv",
            sa.text("to_tsvector('simple', search_text)"),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True, index=True)
    title: str = Field(max_length=120)
    summary: str = Field(default="", max_length=300)
    description_md: str = Field(default="", sa_type=sa.Text)
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    task_type: str = Field(default="general", max_length=32, index=True)
    languages: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    license: str = Field(default="apache-2.0", max_length=64, index=True)
    author_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    base_model: str = Field(default="gemma2-2b", max_length=32)
    rank: int = Field(index=True)
    alpha: float | None = Field(default=None)
    use_rslora: bool = Field(default=False)
    target_modules: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    generation: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    example_prompts: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    status: str = Field(default=AdapterStatus.draft.value, max_length=16)
    moderation_reason: str | None = Field(default=None, sa_type=sa.Text)
    is_demo: bool = Field(default=False)
    download_count: int = Field(default=0)
    favourite_count: int = Field(default=0)
    search_text: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = Field(default=None)


class AdapterTag(SQLModel, table=True):
    """One row per (adapter, tag): the tag filter is an indexed join on both databases."""

    __tablename__ = "adapter_tag"

    adapter_id: int = Field(foreign_key="adapter.id", primary_key=True, ondelete="CASCADE")
    tag: str = Field(max_length=40, primary_key=True, index=True)


class AdapterVersion(SQLModel, table=True):
    __tablename__ = "adapter_version"
    __table_args__ = (sa.UniqueConstraint("adapter_id", "number", name="uq_adapter_version_number"),)

    id: int | None = Field(default=None, primary_key=True)
    adapter_id: int = Field(foreign_key="adapter.id", index=True, ondelete="CASCADE")
    number: int
    changelog: str = Field(default="", sa_type=sa.Text)
    source_format: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class AdapterFile(SQLModel, table=True):
    __tablename__ = "adapter_file"

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="adapter_version.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=24)
    format: str = Field(max_length=32)
    filename: str = Field(max_length=120)
    size_bytes: int = Field(sa_type=sa.BigInteger)
    sha256: str = Field(max_length=64, index=True)
    storage_key: str = Field(max_length=64)


class Favourite(SQLModel, table=True):
    __tablename__ = "favourite"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    adapter_id: int = Field(foreign_key="adapter.id", primary_key=True, index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
