"""The few places where analytics meets modules that land on their own branches.

Accounts (who is signed in), run-time configuration (analytics on/off, retention days) and the
catalog (which adapters a creator owns) plug in here and nowhere else. Rate limiting is the
shared JSON API limit (app.routes.middleware.APIRateLimitMiddleware covers /api/).
"""

from __future__ import annotations

import dataclasses

from sqlmodel import Session, select
from starlette.requests import Request

from app.auth import guard
from app.config import get_runtime_config
from app.models.catalog import Adapter


@dataclasses.dataclass(frozen=True)
class Viewer:
    """Who is looking at a dashboard, as the server resolved it."""

    user_id: int
    role: str


def user_id_of(request: Request) -> int | None:
    """The signed-in user behind an ingest request, from the session cookie (never from the body).

    The API rate limiter has already resolved it for this request (cached on the request)."""
    if not request.cookies:
        return None
    principal = guard.principal_for_request(request)
    return principal.user_id if principal else None


def current_viewer() -> Viewer | None:
    """Inside a guarded event handler: the caller the guard resolved."""
    principal = guard.current_principal()
    return Viewer(principal.user_id, principal.role.value) if principal else None


def analytics_enabled() -> bool:
    """Run-time key analytics.enabled (an in-memory lookup; changes reach every worker)."""
    return bool(get_runtime_config().get("analytics.enabled"))


def retention_days() -> int:
    """Run-time key analytics.retention_days."""
    return int(get_runtime_config().get("analytics.retention_days"))  # type: ignore[call-overload]


def owned_adapter_ids(session: Session, user_id: int) -> list[str]:
    """Adapter ids (catalog slugs) a creator authored, whatever their status (drafts and removed
    adapters keep their history)."""
    return list(session.exec(select(Adapter.slug).where(Adapter.author_id == user_id)))
