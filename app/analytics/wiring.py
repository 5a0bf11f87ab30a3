"""The few places where analytics meets modules that land on their own branches.

Accounts (who is signed in, the shared rate limiter), run-time configuration (analytics on/off,
retention days) and the catalog (which adapters a creator owns) plug in here and nowhere else,
so wiring them is a few lines in this file.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from sqlmodel import Session
from starlette.requests import Request

from app.cache import get_cache
from app.settings import get_settings

DEFAULT_RETENTION_DAYS = 90


class Limiter(Protocol):
    def hit(self, key: str) -> float | None:
        """Count one request for `key`; None when allowed, else seconds until a retry may pass."""
        ...


class FixedWindowLimiter:
    """Stand-in until the shared limiter (app/auth/ratelimit.py) lands: a fixed window on the cache."""

    def __init__(self, *, limit: int, window_s: int) -> None:
        self.limit, self.window_s = limit, window_s

    def hit(self, key: str) -> float | None:
        import time

        window = int(time.time() // self.window_s)
        count = get_cache().incr(f"rl:analytics:{key}:{window}", ttl=self.window_s + 1)
        if count <= self.limit:
            return None
        return float(self.window_s - time.time() % self.window_s)


def ingest_limiter() -> Limiter:
    settings = get_settings()
    return FixedWindowLimiter(limit=settings.analytics_rate_limit, window_s=settings.analytics_rate_window_s)


def client_key(request: Request) -> str:
    """Who a rate limit counts against. Accounts' limiter decides about proxies and X-Forwarded-For."""
    return request.client.host if request.client else "unknown"


def user_id_of(request: Request) -> int | None:
    """The signed-in user behind a request, from the server-side session (never from the body)."""
    return None


_ROLE_ORDER = {"user": 0, "creator": 1, "admin": 2}


@dataclasses.dataclass(frozen=True)
class Viewer:
    """Who is looking at a dashboard, as the server resolved it."""

    user_id: int
    role: str

    def at_least(self, role: str) -> bool:
        return _ROLE_ORDER.get(self.role, -1) >= _ROLE_ORDER[role]


def viewer_of_state(state: Any) -> Viewer | None:
    """The signed-in user behind a Reflex event, from the session cookie of the event's websocket
    (accounts' guard fills this in; until then nobody is signed in, so dashboards stay closed)."""
    return None


def analytics_enabled() -> bool:
    return True


def retention_days() -> int:
    return DEFAULT_RETENTION_DAYS


def owned_adapter_ids(session: Session, user_id: int) -> list[str]:
    """Adapter ids a creator owns; the catalog fills this in (until then, none)."""
    return []
