"""The admin's user list: change roles, disable and enable accounts."""

from __future__ import annotations

import reflex as rx

from app.auth import accounts, guard
from app.auth.sessions import get_session_store
from app.db import session_scope
from app.models import Role
from state.session import SessionState


class AdminUsersState(SessionState):
    rows: list[dict[str, str]] = []
    total: int = 0
    query: str = ""
    message: str = ""
    error: str = ""

    def _reload(self) -> None:
        with session_scope() as db:
            rows, self.total = accounts.list_users(db, query=self.query, limit=100)
        self.rows = [
            {
                "id": str(row.id),
                "email": row.email,
                "name": row.display_name,
                "role": row.role,
                "active": "yes" if row.is_active else "",
                "sign_in": ", ".join(["password"] * row.has_password + list(row.providers)) or "none",
                "created": row.created_at,
                "last": row.last_sign_in_at,
            }
            for row in rows
        ]

    @rx.event
    @guard.requires(Role.admin)
    def load(self) -> None:
        self._show(guard.current_principal())
        self.message = self.error = ""
        self._reload()

    @rx.event
    @guard.requires(Role.admin)
    def search(self, query: str) -> None:
        self.query = " ".join(str(query).split())[:100]
        self._reload()

    @rx.event
    @guard.requires(Role.admin)
    def change_role(self, user_id: str, role: str) -> None:
        principal = guard.current_principal()
        assert principal is not None
        try:
            with session_scope() as db:
                user = accounts.set_role(db, actor_id=principal.user_id, user_id=int(user_id), role=role)
            self.message, self.error = f"{user.email} is now {user.role}.", ""
        except (accounts.AccountError, ValueError) as exc:
            self.error, self.message = getattr(exc, "message", str(exc)), ""
        self._reload()

    @rx.event
    @guard.requires(Role.admin)
    def change_active(self, user_id: str, active: bool) -> None:
        principal = guard.current_principal()
        assert principal is not None
        try:
            with session_scope() as db:
                user = accounts.set_active(db, actor_id=principal.user_id, user_id=int(user_id), active=bool(active))
            if not user.is_active:
                get_session_store().revoke_all(user.id or 0)
            self.message = f"{user.email} is now {'enabled' if user.is_active else 'disabled'}."
            self.error = ""
        except (accounts.AccountError, ValueError) as exc:
            self.error, self.message = getattr(exc, "message", str(exc)), ""
        self._reload()
