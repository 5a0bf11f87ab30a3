"""HTTP routes that live beside Reflex's own (mounted through `api_transformer`)."""

from starlette.applications import Starlette

from app.routes.catalog_admin import catalog_admin_routes
from app.routes.catalog_api import catalog_api_routes
from app.routes.files import file_routes
from app.routes.runtime_files import runtime_routes


def build_api() -> Starlette:
    return Starlette(routes=[*runtime_routes(), *file_routes(), *catalog_api_routes(), *catalog_admin_routes()])
