"""Who is calling an HTTP route, as the catalog's domain functions need it (an Actor or None)."""

from __future__ import annotations

from starlette.requests import Request

from app.catalog.schemas import Actor


def request_actor(request: Request) -> Actor | None:
    """The signed-in caller; None until accounts (app.auth) resolve the session cookie here."""
    return None


def client_key(request: Request) -> str:
    """Per-client key for counting (never stored beyond a day in the cache)."""
    forwarded = request.headers.get("x-forwarded-for", "")
    host = forwarded.split(",")[0].strip() if forwarded else (request.client.host if request.client else "")
    return f"ip:{host[:64]}"
