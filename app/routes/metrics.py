"""GET /metrics for Prometheus, behind a bearer token (METRICS_TOKEN).

On the app's own port so it works the same behind Docker, Kubernetes or nothing; without a
token configured the route is off (404), so metrics never leak by default.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth.guard import PUBLIC, requires
from app.observability import metrics
from app.settings import get_settings


@requires(PUBLIC, reason="Prometheus scrapes without a session: the route checks its own METRICS_TOKEN")
async def metrics_endpoint(request: Request) -> Response:
    token = get_settings().metrics_token
    if token is None:
        return JSONResponse({"error": "metrics are off; set METRICS_TOKEN to enable them"}, status_code=404)
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), token.get_secret_value().encode()):
        return JSONResponse(
            {"error": "a valid bearer token is required"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body, content_type = metrics.render()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


def metrics_routes() -> list[Route]:
    return [Route("/metrics", metrics_endpoint, methods=["GET"])]
