"""The few places where analytics meets modules that land on their own branches.

Accounts (who is signed in), run-time configuration (analytics on/off, retention days) and the
catalog (which adapters a creator owns) plug in here and nowhere else. Rate limiting is the
shared JSON API limit (app.routes.middleware.APIRateLimitMiddleware covers /api/).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable

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


_AUTHORS_TTL_S = 600.0
_authors: dict[str, tuple[int | None, float]] = {}
_authors_lock = threading.Lock()


def adapter_authors(session: Session, adapter_ids: Iterable[str]) -> dict[str, int]:
    """Who authored each adapter id (catalog slug), for the creators' distinct counts; ids that
    are not catalog adapters are left out. Remembered for a few minutes per process (authorship
    changes only when an account is deleted), so the writer asks once per new slug."""
    now = time.monotonic()
    wanted = set(adapter_ids)
    with _authors_lock:
        known = {slug: _authors[slug] for slug in wanted if slug in _authors and _authors[slug][1] > now}
    missing = sorted(wanted - known.keys())
    if missing:
        found = dict(session.exec(select(Adapter.slug, Adapter.author_id).where(Adapter.slug.in_(missing))).all())  # type: ignore[attr-defined]
        with _authors_lock:
            if len(_authors) > 100_000:
                _authors.clear()
            for slug in missing:
                known[slug] = _authors[slug] = (found.get(slug), now + _AUTHORS_TTL_S)
    return {slug: author for slug, (author, _) in known.items() if author is not None}


def forget_adapter_authors() -> None:
    """For tests that create adapters after events were written."""
    with _authors_lock:
        _authors.clear()
