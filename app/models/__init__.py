"""SQLModel tables, one module per purpose. Importing this package registers every table."""

from sqlmodel import SQLModel

from app.models.users import Role, User

ALL_TABLES = [User]

__all__ = ["ALL_TABLES", "Role", "SQLModel", "User"]
