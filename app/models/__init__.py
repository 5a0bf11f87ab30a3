"""SQLModel tables, one module per purpose. Importing this package registers every table."""

from sqlmodel import SQLModel

from app.models.auth import AuthSession, OIDCIdentity
from app.models.config import ConfigAudit, ConfigOverride
from app.models.users import Role, User

ALL_TABLES = [User, AuthSession, OIDCIdentity, ConfigOverride, ConfigAudit]

__all__ = ["ALL_TABLES", "AuthSession", "ConfigAudit", "ConfigOverride", "OIDCIdentity", "Role", "SQLModel", "User"]
