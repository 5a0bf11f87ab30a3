"""SQLModel tables, one module per purpose. Importing this package registers every table."""

from sqlmodel import SQLModel

from app.models.config import ConfigAudit, ConfigOverride
from app.models.users import Role, User

ALL_TABLES = [User, ConfigOverride, ConfigAudit]

__all__ = ["ALL_TABLES", "ConfigAudit", "ConfigOverride", "Role", "SQLModel", "User"]
