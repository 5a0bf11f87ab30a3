"""Reflex configuration, derived from the app's one settings object (app/settings.py)."""

import os

import reflex as rx
from reflex_base.plugins.sitemap import SitemapPlugin

from app.observability.procenv import ensure_metrics_dir
from app.settings import get_settings

os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
os.environ.setdefault("REFLEX_CHECK_LATEST_VERSION", "0")
ensure_metrics_dir()  # before the server forks its workers, so /metrics sums all of them

settings = get_settings()
if settings.log_format == "json":
    os.environ.setdefault("REFLEX_LOG_JSON", "true")  # Reflex's and granian's own lines as JSON too
settings.data_dir.mkdir(parents=True, exist_ok=True)  # the SQLite file and secret key live here

config = rx.Config(
    app_name="app",
    db_url=settings.effective_database_url,
    redis_url=settings.redis_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # Model and wasm files must never be served compressed (the runtime needs Content-Length).
    frontend_compression_formats=[],
    disable_plugins=[SitemapPlugin],
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="violet", gray_color="slate", radius="medium", has_background=True)
        )
    ],
)
