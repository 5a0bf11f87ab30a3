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
from app.models.config import ConfigAudit, ConfigOverride
from app.models.users import Role, User

ALL_TABLES = [
    User,
    AuthSession,
    OIDCIdentity,
    ConfigOverride,
    ConfigAudit,
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
    "ConfigAudit",
    "ConfigOverride",
    "OIDCIdentity",
    "Role",
    "SQLModel",
    "User",
]
