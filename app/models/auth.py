"""Sign-in state kept in the database: server-side sessions and linked OpenID identities."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class AuthSession(SQLModel, table=True):
    """A signed-in browser (used when no Redis is configured; with Redis, sessions live there).

    The cookie holds a random token; only its SHA-256 is stored, so a copy of this table
    signs nobody in.
    """

    __tablename__ = "auth_session"

    id: str = Field(primary_key=True, max_length=64, description="sha256 hex of the cookie token")
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True, description="absolute expiry")
    user_agent: str = Field(default="", max_length=200)
    ip: str = Field(default="", max_length=64)


class OIDCIdentity(SQLModel, table=True):
    """An account at an OpenID provider that signs in as one of our users."""

    __tablename__ = "oidc_identity"
    __table_args__ = (UniqueConstraint("provider", "subject", name="uq_oidc_identity_provider_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    provider: str = Field(max_length=32)
    subject: str = Field(max_length=255)
    email: str = Field(default="", max_length=254)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime = Field(default_factory=utcnow)
