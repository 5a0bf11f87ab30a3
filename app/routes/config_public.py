"""`GET /api/v1/config/public`: what the browser needs (generation defaults, ranks, banner, flags).

The body and its ETag are computed once per configuration change, so answering is a copy of bytes;
a browser that sends the ETag back gets 304 until something changes.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth.guard import PUBLIC, requires
from app.config import RuntimeConfig, get_runtime_config

_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def _matches(header: str, etag: str) -> bool:
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return etag in candidates or "*" in candidates


def config_routes(config: Callable[[], RuntimeConfig] = get_runtime_config) -> list[Route]:
    @requires(PUBLIC, reason="what every browser needs: generation defaults, ranks, banner, feature flags")
    async def public_config(request: Request) -> Response:
        public = config().public
        headers = {**_HEADERS, "ETag": public.etag}
        if _matches(request.headers.get("if-none-match", ""), public.etag):
            return Response(status_code=304, headers=headers)
        return Response(public.body, media_type="application/json", headers=headers)

    return [Route("/api/v1/config/public", public_config, methods=["GET", "HEAD"])]
