"""Who is signed in, as the pages show it.

The values here are for display only. Every privileged handler is guarded
(app.auth.guard.requires), which resolves the caller again, on the server, from the session
cookie of the event's websocket connection; nothing the browser sends through state decides it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import reflex as rx

from app.auth import guard, web
from app.auth.guard import PUBLIC, Principal, Rule, requires
from app.config import get_runtime_config


def _here(state: rx.State) -> str:
    url = state.router.url
    return url.path + (f"?{url.query}" if url.query else "")


def _denied(state: Any, rule: Rule, principal: Principal | None) -> Any:
    """What a refused event does in the browser: sign in first, or explain the missing role."""
    if principal is None:
        return rx.redirect(web.signin_redirect_url(_here(state)))
    return rx.redirect(f"/forbidden?need={quote(rule.level)}")


guard.set_event_denial(_denied)


class SessionState(rx.State):
    signed_in: bool = False
    user_name: str = ""
    user_email: str = ""
    user_role: str = ""

    @rx.var
    def user_initials(self) -> str:
        parts = self.user_name.split()
        return "".join(part[0] for part in parts[:2]).upper() or "?"

    @rx.var
    def is_admin(self) -> bool:
        return self.user_role == "admin"

    def _show(self, principal: Principal | None) -> None:
        self.signed_in = principal is not None
        self.user_name = principal.display_name if principal else ""
        self.user_email = principal.email if principal else ""
        self.user_role = principal.role.value if principal else ""

    @rx.event
    @requires(PUBLIC, reason="tells the navbar who is signed in (display only)")
    def refresh(self) -> None:
        self._show(guard.current_principal())

    @rx.event
    @requires(PUBLIC, reason="page guard: sends anonymous visitors to sign in and back")
    def require_signed_in(self) -> Any:
        principal = guard.current_principal()
        self._show(principal)
        if principal is None:
            return rx.redirect(web.signin_redirect_url(_here(self)))
        return None


class ForbiddenState(rx.State):
    need: str = ""

    @rx.event
    @requires(PUBLIC, reason="explains a refusal; shows nothing private")
    def load(self) -> None:
        need = self.router.url.query_parameters.get("need", "")
        self.need = need if need in {"user", "creator", "admin"} else ""


def signup_open() -> bool:
    return bool(get_runtime_config().values["signup.enabled"])
