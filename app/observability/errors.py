"""Clear answers while a dependency is down, instead of a hang or a bare 500.

HTTP routes: a database that cannot be reached becomes 503 with Retry-After, as JSON or as a
small HTML page depending on what the client accepts. Reflex event handlers: the same failure
becomes a toast that says what happened; other errors keep Reflex's default behaviour.
"""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING

import redis
import sqlalchemy.exc as sa_exc
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

if TYPE_CHECKING:
    from reflex_base.event import EventSpec

log = logging.getLogger("lorastudio.errors")

DATABASE_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
CACHE_UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError)
RETRY_AFTER_S = 5

_MESSAGES = {
    "database": "The database cannot be reached right now. Nothing was changed; please try again in a moment.",
    "cache": "A shared service (Redis) cannot be reached right now. Please try again in a moment.",
}


def unavailable_dependency(exc: BaseException) -> str | None:
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return "database"
    if isinstance(exc, CACHE_UNAVAILABLE):
        return "cache"
    return None


def unavailable_response(request: Request, dependency: str) -> Response:
    message = _MESSAGES[dependency]
    headers = {"Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-store"}
    if "text/html" in request.headers.get("accept", ""):
        body = (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Temporarily unavailable · LoRA Studio</title>"
            "<body style='font-family:system-ui;max-width:40em;margin:4em auto;padding:0 1em'>"
            f"<h1>Temporarily unavailable</h1><p>{html.escape(message)}</p></body></html>"
        )
        return HTMLResponse(body, status_code=503, headers=headers)
    return JSONResponse({"error": f"{dependency}_unavailable", "detail": message}, status_code=503, headers=headers)


async def _handle(request: Request, exc: Exception) -> Response:
    dependency = unavailable_dependency(exc) or "database"
    log.warning("dependency unavailable", extra={"dependency": dependency, "error": type(exc).__name__})
    return unavailable_response(request, dependency)


async def _server_error(request: Request, exc: Exception) -> Response:
    """Last resort (Starlette's ServerErrorMiddleware), which also sees errors raised by middleware
    such as the API rate limiter: a dependency outage is still a clear 503, anything else a 500."""
    dependency = unavailable_dependency(exc)
    if dependency is not None:
        return await _handle(request, exc)
    return JSONResponse({"error": "internal_error"}, status_code=500, headers={"Cache-Control": "no-store"})


def exception_handlers() -> dict[type[Exception], object]:
    """For `Starlette(exception_handlers=...)` in app/routes/__init__.py."""
    handlers: dict[type[Exception], object] = {
        exc_type: _handle for exc_type in (*DATABASE_UNAVAILABLE, *CACHE_UNAVAILABLE)
    }
    handlers[Exception] = _server_error
    return handlers


def backend_exception_handler(exception: Exception) -> EventSpec:
    """`rx.App(backend_exception_handler=...)`: say plainly when a dependency is down.

    Reflex checks this signature by name (`exception`) and return annotation (`EventSpec`)."""
    import reflex as rx
    from reflex.app import default_backend_exception_handler

    dependency = unavailable_dependency(exception)
    if dependency is None:
        return default_backend_exception_handler(exception)
    log.warning(
        "event failed: dependency unavailable", extra={"dependency": dependency, "error": type(exception).__name__}
    )
    return rx.toast.error(
        "Temporarily unavailable",
        description=_MESSAGES[dependency],
        id="dependency_unavailable",
        position="top-center",
    )
