"""Identity: who can sign in and what they may do."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class Role(enum.StrEnum):
    """Ordered from least to most privileged: each role may do what the ones before it may."""

    user = "user"
    creator = "creator"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    # Normalised (see app.auth.accounts.normalize_email): lower case, NFKC, IDNA domain.
    email: str = Field(max_length=254, unique=True, index=True)
    display_name: str = Field(max_length=80)
    # None for accounts that only sign in through an OpenID provider.
    password_hash: str | None = Field(default=None, max_length=255)
    role: str = Field(default=Role.user.value, max_length=16)
    is_active: bool = Field(default=True)
    # True only when an OpenID provider asserted it; local sign-up does not verify email.
    email_verified: bool = Field(default=False)
    last_sign_in_at: datetime | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
