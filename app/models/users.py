"""Identity: who can sign in and what they may do."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class Role(enum.StrEnum):
    user = "user"
    creator = "creator"
    admin = "admin"


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    display_name: str = Field(max_length=80)
    password_hash: str | None = Field(default=None, max_length=255)
    role: str = Field(default=Role.user.value, max_length=16)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
