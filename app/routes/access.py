"""Who is calling an HTTP route, as the catalog's domain functions need it (an Actor or None)."""

from __future__ import annotations

from starlette.requests import Request

from app.auth import guard, web
from app.catalog.schemas import Actor


def actor_of(principal: guard.Principal | None) -> Actor | None:
    return None if principal is None else Actor.from_role(principal.user_id, principal.role.value)


def request_actor(request: Request) -> Actor | None:
    """The signed-in caller, resolved on the server from the session cookie (cached per request)."""
    return actor_of(guard.principal_for_request(request))


def client_key(request: Request) -> str:
    """Per-client key for counting downloads (kept only a day, in the cache)."""
    return f"ip:{web.client_ip(request)}"
