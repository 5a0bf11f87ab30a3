"""Column helpers shared by the tables."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    # Aware: SQLModel's datetime columns (UTCDateTime) refuse naive values and return aware ones.
    return datetime.now(UTC)
