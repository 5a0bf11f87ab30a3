"""HTTP routes that live beside Reflex's own (mounted through `api_transformer`)."""

from starlette.applications import Starlette

from app.observability.errors import exception_handlers
from app.routes.files import file_routes
from app.routes.health import health_routes
from app.routes.metrics import metrics_routes
from app.routes.runtime_files import runtime_routes


def build_api() -> Starlette:
    return Starlette(
        routes=[*health_routes(), *metrics_routes(), *runtime_routes(), *file_routes()],
        exception_handlers=exception_handlers(),  # type: ignore[arg-type]
    )
