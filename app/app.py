"""The Reflex app: pages, the extra HTTP routes, and the tables registered with Reflex."""

from pathlib import Path

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

# Inline in every page's head, so it runs while the document is parsed: on /chat it starts a
# returning visitor's stored model in the engine's worker while the page's own scripts are still
# loading (assets/engine/warm_boot.js; the CSP lists its hash like any inline script's).
WARM_BOOT = rx.el.script((Path(__file__).parents[1] / "assets" / "engine" / "warm_boot.js").read_text())

app = rx.App(
    api_transformer=api_transformers(),
    backend_exception_handler=backend_exception_handler,
    head_components=[WARM_BOOT],
)
app.register_lifespan_task(on_startup)
app.register_lifespan_task(analytics_lifecycle.lifespan)

for module in (home, selftest, chat, auth, admin_config, catalog, creator, admin_catalog, analytics):
    module.add_pages(app)
