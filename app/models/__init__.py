"""SQLModel tables, one module per purpose. Importing this package registers every table."""

from sqlmodel import SQLModel

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
from app.models.users import Role, User

ALL_TABLES = [User, BaseModelFile, BaseModelUpload, Adapter, AdapterTag, AdapterVersion, AdapterFile, Favourite]

__all__ = [
    "ALL_TABLES",
    "Adapter",
    "AdapterFile",
    "AdapterStatus",
    "AdapterTag",
    "AdapterVersion",
    "BaseModelFile",
    "BaseModelUpload",
    "Favourite",
    "Role",
    "SQLModel",
    "User",
]
