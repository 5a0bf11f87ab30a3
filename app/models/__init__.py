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
from app.models.catalog import (
    Adapter,
    AdapterFile,
    AdapterStatus,
    AdapterTag,
    AdapterVersion,
    BaseModelFile,
    BaseModelUpload,
    Favourite,
)
from app.models.config import ConfigAudit, ConfigOverride
from app.models.users import Role, User

ALL_TABLES = [
    User,
    AuthSession,
    OIDCIdentity,
    ConfigOverride,
    ConfigAudit,
    BaseModelFile,
    BaseModelUpload,
    Adapter,
    AdapterTag,
    AdapterVersion,
    AdapterFile,
    Favourite,
    AnalyticsEvent,
    AnalyticsRollup,
    AnalyticsSeen,
    AnalyticsPreference,
    AnalyticsStreamMark,
]

__all__ = [
    "ALL_TABLES",
    "Adapter",
    "AdapterFile",
    "AdapterStatus",
    "AdapterTag",
    "AdapterVersion",
    "AnalyticsEvent",
    "AnalyticsPreference",
    "AnalyticsRollup",
    "AnalyticsSeen",
    "AnalyticsStreamMark",
    "AuthSession",
    "BaseModelFile",
    "BaseModelUpload",
    "ConfigAudit",
    "ConfigOverride",
    "Favourite",
    "OIDCIdentity",
    "Role",
    "SQLModel",
    "User",
]
