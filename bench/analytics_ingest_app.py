"""The ingest route with the app's real write path, as a bare ASGI app for bench/analytics_ingest.py
(granian serves it with several workers; the Reflex app mounts the same route and lifespan)."""

from starlette.applications import Starlette

from app.analytics import lifecycle
from app.routes.events import event_routes

app = Starlette(routes=event_routes(), lifespan=lambda _app: lifecycle.lifespan())
