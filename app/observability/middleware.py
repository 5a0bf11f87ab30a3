"""The outermost ASGI middleware: request id, access log line, request metrics.

It wraps everything the backend serves (pages, Reflex's websocket, the app's routes). Routes
are labelled by their template (`/files/{sha256}`), never by the raw path, so metrics keep a
bounded number of series; the query string is logged with sensitive parameters redacted.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl, urlencode

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability import log_context, metrics
from app.observability.logs import REDACTED, is_sensitive

access_log = logging.getLogger("lorastudio.access")

# Probes and scrapes are counted in metrics but kept out of the access log.
_QUIET_ROUTES = frozenset({"/healthz/live", "/healthz/ready", "/metrics", "/ping", "/_health"})


def route_label(scope: Scope) -> str:
    """The matched route's template, or a fixed name for mounts (the compiled pages, socket.io)."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    if isinstance(route, Mount):
        name = route.name or route.path or "mount"
        return name if name == "frontend" else (route.path or "/")
    return getattr(route, "path", None) or "unmatched"


def safe_query(query: bytes) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    return urlencode([(key, REDACTED if is_sensitive(key) else value) for key, value in pairs], safe="[]")


def client_address(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, *, access_log_enabled: bool = True) -> None:
        self.app = app
        self.access_log_enabled = access_log_enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = log_context.new_request_id(headers.get(b"x-request-id", b"").decode("latin-1"))
        token = log_context.start(request_id, kind=scope["type"])
        start = time.perf_counter()
        status = 0
        response_bytes = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_bytes
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                response_headers = list(message.get("headers", []))
                for name, value in response_headers:
                    if name.lower() == b"content-length" and value.isdigit():
                        response_bytes = -int(value)  # files may go out by zero-copy, without body messages
                message["headers"] = [*response_headers, (b"x-request-id", request_id.encode())]
            elif kind == "http.response.body" and response_bytes >= 0:
                response_bytes += len(message.get("body", b""))
            elif kind == "websocket.accept":
                status = 101
            elif kind == "websocket.close" and not status:
                status = 403
            await send(message)

        outcome = "ok"
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            outcome = "error"
            status = status or 500
            access_log.exception("unhandled error", extra={"route": route_label(scope)})
            raise
        finally:
            seconds = time.perf_counter() - start
            route = route_label(scope)
            if scope["type"] == "http":
                metrics.observe_request(route=route, method=scope["method"], status=status, seconds=seconds)
            if outcome == "ok" and status >= 500:
                outcome = "error"
            elif outcome == "ok" and status >= 400:
                outcome = "rejected"
            if self.access_log_enabled and route not in _QUIET_ROUTES:
                access_log.info(
                    "request" if scope["type"] == "http" else "websocket",
                    extra={
                        "method": scope.get("method", "WS"),
                        "path": scope.get("path"),
                        "query": safe_query(scope.get("query_string", b"")),
                        "route": route,
                        "status": status,
                        "outcome": outcome,
                        "duration_ms": round(seconds * 1000, 2),
                        "bytes": abs(response_bytes),
                        "client": client_address(scope),
                    },
                )
            log_context.reset(token)
