"""SQLModel tables, one module per purpose. Importing this package registers every table."""

from sqlmodel import SQLModel

from app.models.analytics import (
    AnalyticsEvent,
    AnalyticsPreference,
    AnalyticsRollup,
    AnalyticsSeen,
    AnalyticsStreamMark,
)
from app.models.auth import AuthSession, OIDCIdentity
from app.models.users import Role, User

ALL_TABLES = [
    User,
    AuthSession,
    OIDCIdentity,
    AnalyticsEvent,
    AnalyticsRollup,
    AnalyticsSeen,
    AnalyticsPreference,
    AnalyticsStreamMark,
]

__all__ = [
    "ALL_TABLES",
    "AnalyticsEvent",
    "AnalyticsPreference",
    "AnalyticsRollup",
    "AnalyticsSeen",
    "AnalyticsStreamMark",
    "AuthSession",
    "OIDCIdentity",
    "Role",
    "SQLModel",
    "User",
]
