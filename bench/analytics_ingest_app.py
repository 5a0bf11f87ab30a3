"""The ingest route with the app's real write path, as a bare ASGI app for bench/analytics_ingest.py
(granian serves it with several workers; the Reflex app mounts the same route, middleware and
lifespan)."""

from starlette.applications import Starlette
from starlette.middleware import Middleware

from app.analytics import lifecycle
from app.routes.events import event_routes
from app.routes.middleware import APIRateLimitMiddleware, CSRFOriginMiddleware

app = Starlette(
    routes=event_routes(),
    middleware=[Middleware(CSRFOriginMiddleware), Middleware(APIRateLimitMiddleware)],
    lifespan=lambda _app: lifecycle.lifespan(),
)
