"""SQLModel tables, one module per purpose. Importing this package registers every table."""

from sqlmodel import SQLModel

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
]

__all__ = [
    "ALL_TABLES",
    "Adapter",
    "AdapterFile",
    "AdapterStatus",
    "AdapterTag",
    "AdapterVersion",
    "AuthSession",
    "ConfigAudit",
    "ConfigOverride",
    "BaseModelFile",
    "BaseModelUpload",
    "Favourite",
    "OIDCIdentity",
    "Role",
    "SQLModel",
    "User",
]
