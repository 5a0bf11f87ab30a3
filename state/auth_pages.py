"""Sign-in, sign-up and account pages. The forms post to /auth/... (see app/routes/auth.py);
these states only show messages and lists, and run the actions that need no cookie change.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from app.auth import accounts, guard, web
from app.auth.guard import PUBLIC, requires
from app.auth.sessions import get_session_store, token_id
from app.config import get_runtime_config
from app.db import session_scope
from app.models import Role, User
from app.settings import get_settings
from state.session import SessionState


class AuthFormState(SessionState):
    """Messages and the return path shared by the sign-in and sign-up forms."""

    error: str = ""
    error_field: str = ""
    notice: str = ""
    next_path: str = "/"
    providers: list[dict[str, str]] = []
    signup_enabled: bool = True
    password_min_length: int = 10

    @rx.event
    @requires(PUBLIC, reason="reads ?error, ?notice and ?next for the sign-in and sign-up pages")
    def load(self) -> Any:
        params = self.router.url.query_parameters
        self.error = web.error_message(params.get("error", ""))
        self.error_field = ""
        self.notice = web.notice_message(params.get("notice", ""))
        self.next_path = web.safe_next(params.get("next"))
        settings = get_settings()
        self.signup_enabled = bool(get_runtime_config().values["signup.enabled"])
        self.password_min_length = settings.password_min_length
        self.providers = [{"name": p.name, "label": p.display_label, "kind": p.kind} for p in settings.oidc_providers]
        principal = guard.current_principal()
        self._show(principal)
        if principal is not None and not self.notice and not self.error:
            return rx.redirect(self.next_path)  # already signed in
        return None

    @rx.event
    @requires(PUBLIC, reason="shows the error message a form post returned")
    def show_error(self, message: str, field: str) -> None:
        self.error = message[:300]
        self.error_field = field[:40]
        self.notice = ""


class AccountState(SessionState):
    """The signed-in user's account page."""

    error: str = ""
    error_field: str = ""
    notice: str = ""
    has_password: bool = True
    providers: list[str] = []
    sessions: list[dict[str, str]] = []
    password_min_length: int = 10

    @rx.event
    @requires(Role.user)
    def load(self) -> None:
        principal = guard.current_principal()
        assert principal is not None
        self._show(principal)
        params = self.router.url.query_parameters
        self.notice = web.notice_message(params.get("notice", ""))
        self.error = web.error_message(params.get("error", ""))
        self.password_min_length = get_settings().password_min_length
        with session_scope() as db:
            user = db.get(User, principal.user_id)
            self.has_password = bool(user and user.password_hash)
            self.providers = accounts.providers_of(db, principal.user_id)
        self._load_sessions(principal.user_id, principal.session_id)

    def _load_sessions(self, user_id: int, current_id: str) -> None:
        self.sessions = [
            {
                "id": info.id[:12],
                "current": "yes" if info.id == current_id else "",
                "device": _device_label(info.user_agent),
                "ip": info.ip,
                "since": info.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                "seen": info.last_seen_at.strftime("%Y-%m-%d %H:%M UTC"),
            }
            for info in get_session_store().list_for_user(user_id)
        ]

    @rx.event
    @requires(Role.user)
    def sign_out_others(self) -> None:
        principal = guard.current_principal()
        assert principal is not None
        token = guard.state_token(self)
        store = get_session_store()
        count = store.revoke_all(principal.user_id, keep_token=token)
        assert token is None or token_id(token) == principal.session_id
        self.notice = f"Signed out {count} other session{'s' if count != 1 else ''}."
        self.error = ""
        self._load_sessions(principal.user_id, principal.session_id)

    @rx.event
    @requires(Role.user)
    def show_error(self, message: str, field: str) -> None:
        self.error = message[:300]
        self.error_field = field[:40]
        self.notice = ""


def _device_label(user_agent: str) -> str:
    ua = user_agent.lower()
    browser = next((name for key, name in _BROWSERS if key in ua), "Browser")
    system = next((name for key, name in _SYSTEMS if key in ua), "")
    return f"{browser} on {system}" if system else browser


_BROWSERS = [("edg/", "Edge"), ("firefox", "Firefox"), ("chrome", "Chrome"), ("safari", "Safari"), ("curl", "curl")]
_SYSTEMS = [("android", "Android"), ("iphone", "iOS"), ("ipad", "iPadOS"), ("windows", "Windows")]
_SYSTEMS += [("mac os", "macOS"), ("linux", "Linux")]
