"""ASGI middleware on every request the app serves (pages, routes, Reflex's own endpoints):

- SecurityHeaders: Content-Security-Policy and the other protective headers on every response.
  The CSP allows only this origin's scripts, plus the exact inline scripts of each HTML page
  (their sha256 hashes are computed from the page as it is served), and wasm compilation.
- CSRFOrigin: state-changing requests must come from our own origin (app.auth.web.same_origin).
- APIRateLimit: every JSON API route (/api/...) is rate limited per user, or per IP when anonymous.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import OrderedDict
from urllib.parse import urlsplit

import anyio
import redis
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import web
from app.auth.guard import principal_for_request
from app.auth.ratelimit import get_limiter
from app.config import get_runtime_config
from app.settings import Settings, get_settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CONDITIONAL = frozenset({b"if-none-match", b"if-modified-since"})
_VALIDATORS = frozenset({b"etag", b"last-modified", b"cache-control"})
MAX_HASHED_HTML = 4 * 1024 * 1024
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.S | re.I)
# The compiled frontend's files carry a content hash in their names (Vite: name-<8 chars>.ext), so
# a name never gets other bytes: the browser may keep them without asking again. Without this every
# page load revalidated each of ~30 scripts (a 304 round trip each, ~100-150 ms before the page ran).
FINGERPRINTED = re.compile(r"/assets/[^/]+-[A-Za-z0-9_-]{8}\.(?:js|css|woff2?|ttf|svg|png|webp)")
IMMUTABLE = b"public, max-age=31536000, immutable"


def storage_origins(settings: Settings) -> list[str]:
    """Where the browser may fetch adapter and model files from, besides this app."""
    origins = []
    for url in (settings.cdn_base_url, settings.s3_endpoint_url):
        if url:
            parts = urlsplit(url)
            if parts.scheme and parts.netloc:
                origins.append(f"{parts.scheme}://{parts.netloc}")
                if url == settings.s3_endpoint_url and settings.s3_bucket:
                    origins.append(f"{parts.scheme}://{settings.s3_bucket}.{parts.netloc}")
    if settings.storage_backend == "s3" and settings.s3_bucket and not settings.s3_endpoint_url:
        origins += [
            f"https://{settings.s3_bucket}.s3.{settings.s3_region}.amazonaws.com",
            f"https://{settings.s3_bucket}.s3.amazonaws.com",
        ]
    return list(dict.fromkeys(origins))


def content_security_policy(settings: Settings, script_hashes: list[str]) -> str:
    script = ["'self'", "'wasm-unsafe-eval'", *(f"'sha256-{h}'" for h in script_hashes)]
    if settings.csp_allow_eval:
        script.append("'unsafe-eval'")
    # blob: lets the chat stream model files stored in the browser (OPFS) into the engine.
    connect = ["'self'", "blob:", *storage_origins(settings), *settings.csp_connect_src]
    directives = {
        "default-src": ["'self'"],
        "script-src": script,
        # Emotion and Radix insert <style> elements and style attributes at run time.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": connect,
        "worker-src": ["'self'", "blob:"],
        "media-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def static_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    ]
    if settings.secure_cookies:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._hash_cache: OrderedDict[bytes, list[str]] = OrderedDict()

    def _hashes(self, body: bytes) -> list[str]:
        key = hashlib.sha256(body).digest()
        found = self._hash_cache.get(key)
        if found is None:
            found = list(
                dict.fromkeys(
                    base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()
                    for m in _INLINE_SCRIPT.finditer(body)
                )
            )
            self._hash_cache[key] = found
            while len(self._hash_cache) > 256:
                self._hash_cache.popitem(last=False)
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        path: str = scope.get("path", "")
        start: Message | None = None
        if any(k == b"accept" and b"text/html" in v for k, v in scope.get("headers", [])):
            # A page's CSP lists the hashes of its inline scripts, computed from its body: a 304
            # has no body, and the browser would take the 304's CSP. Pages are small: always 200.
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k not in _CONDITIONAL]}
        chunks: list[bytes] = []

        def finish_headers(message: Message, body: bytes | None) -> Message:
            drop = {b"content-security-policy"} | (_VALIDATORS if body is not None else set())
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in drop]
            if body is not None:
                headers.append((b"cache-control", b"no-cache"))
            present = {k.lower() for k, _ in headers}
            headers += [(k, v) for k, v in static_headers(settings) if k not in present]
            hashes = self._hashes(body) if body is not None else []
            headers.append((b"content-security-policy", content_security_policy(settings, hashes).encode()))
            if path.startswith(("/auth/", "/api/")) and b"cache-control" not in present:
                headers.append((b"cache-control", b"no-store"))
            elif body is None and message.get("status") in (200, 304) and FINGERPRINTED.fullmatch(path):
                headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                headers.append((b"cache-control", IMMUTABLE))
            return {**message, "headers": headers}

        async def send_wrapper(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = next((v for k, v in message.get("headers", []) if k.lower() == b"content-type"), b"")
                encoded = any(k.lower() == b"content-encoding" for k, _ in message.get("headers", []))
                if content_type.startswith(b"text/html") and not encoded:
                    start = message  # hold the headers until the body (and its inline scripts) is known
                    return
                await send(finish_headers(message, None))
                return
            if message["type"] == "http.response.pathsend" and start is not None:
                # The server sends the file itself (ASGI pathsend); an HTML page is small: read it
                # to hash its inline scripts, and send it as a body instead.
                body = await anyio.Path(message["path"]).read_bytes()
                await send(finish_headers(start, body if len(body) <= MAX_HASHED_HTML else b""))
                start = None
                await send({"type": "http.response.body", "body": body})
                return
            if message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False) and sum(map(len, chunks)) <= MAX_HASHED_HTML:
                    return
                body = b"".join(chunks)
                await send(finish_headers(start, body if len(body) <= MAX_HASHED_HTML else b""))
                start = None
                await send({**message, "body": body})
                return
            await send(message)

        await self.app(scope, receive, send_wrapper)


class CSRFOriginMiddleware:
    """Refuses cross-origin state-changing requests to our routes (Reflex's own /_... excluded),
    and cross-origin reads of the JSON API: Reflex's CORS setting answers any origin with
    credentials allowed, so a page on another origin must not get to read /api/ with our cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        unsafe = scope.get("method") not in SAFE_METHODS and not path.startswith("/_")
        cross_read = path.startswith("/api/") and scope.get("method") != "OPTIONS"
        if scope["type"] == "http" and (unsafe or cross_read):
            request = Request(scope)
            if not web.same_origin(request):
                message = "Cross-site request refused."
                if web.wants_json(request):
                    response = JSONResponse({"ok": False, "error": message, "code": "csrf"}, status_code=403)
                else:
                    response = PlainTextResponse(message, status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class APIRateLimitMiddleware:
    """RATE_LIMIT_API for every /api/ route: per signed-in user, else per client IP."""

    def __init__(self, app: ASGIApp, *, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            principal = principal_for_request(request) if request.cookies else None
            subject = f"user:{principal.user_id}" if principal else f"ip:{web.client_ip(request)}"
            # Synchronous on purpose: one short Redis call (about half the cost of redis.asyncio's),
            # like the session lookup just above.
            decision = get_limiter().check(f"api:{subject}", get_runtime_config().values["ratelimit.api"])
        except redis.RedisError:
            # Redis is down, so nothing can be counted. Reads (browsing the catalog) go through
            # rather than fail; anything that changes state is refused with a 503 (fail safe).
            if request.method not in SAFE_METHODS:
                raise
            await self.app(scope, receive, send)
            return
        if not decision.allowed:
            await web.too_many(request, decision, message="Too many requests.")(scope, receive, send)
            return
        await self.app(scope, receive, send)
