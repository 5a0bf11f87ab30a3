"""The Reflex app: pages, the extra HTTP routes, and the tables registered with Reflex."""

import reflex as rx

from app.analytics import lifecycle as analytics_lifecycle
from app.models import ALL_TABLES
from app.observability.errors import backend_exception_handler
from app.observability.setup import setup_observability
from app.pages import admin_catalog, admin_config, analytics, auth, catalog, chat, creator, home, selftest
from app.routes import api_transformers
from app.startup import on_startup

setup_observability()

for table in ALL_TABLES:
    rx.ModelRegistry.register(table)

app = rx.App(api_transformer=api_transformers(), backend_exception_handler=backend_exception_handler)
app.register_lifespan_task(on_startup)
app.register_lifespan_task(analytics_lifecycle.lifespan)

for module in (home, selftest, chat, auth, admin_config, catalog, creator, admin_catalog, analytics):
    module.add_pages(app)
