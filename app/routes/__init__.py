"""HTTP routes that live beside Reflex's own (mounted through `api_transformer`).

Every route is declared in the guard (app.auth.guard.requires). JSON API routes go under /api/,
where APIRateLimitMiddleware limits them; every state-changing request is origin-checked.
"""

from starlette.applications import Starlette
from starlette.middleware import Middleware

from app.routes.auth import auth_routes
from app.routes.catalog_admin import catalog_admin_routes
from app.routes.catalog_api import catalog_api_routes
from app.routes.config_public import config_routes
from app.routes.events import event_routes
from app.routes.files import file_routes
from app.routes.middleware import APIRateLimitMiddleware, CSRFOriginMiddleware, SecurityHeadersMiddleware
from app.routes.runtime_files import runtime_routes


def build_api() -> Starlette:
    return Starlette(
        routes=[
            *auth_routes(),
            *runtime_routes(),
            *file_routes(),
            *config_routes(),
            *catalog_api_routes(),
            *catalog_admin_routes(),
            *event_routes(),
        ],
        middleware=[Middleware(CSRFOriginMiddleware), Middleware(APIRateLimitMiddleware)],
    )


def api_transformers() -> list:
    """For rx.App(api_transformer=...): our routes (Reflex mounts inside them), then the security
    headers around everything, error pages included."""
    return [build_api(), SecurityHeadersMiddleware]
