"""Wiring for app/app.py: logging, event metrics, and the outermost ASGI middleware."""

from __future__ import annotations

from starlette.types import ASGIApp

from app.observability.logs import configure_logging
from app.observability.metrics import install_event_metrics
from app.observability.middleware import ObservabilityMiddleware
from app.settings import get_settings


def setup_observability() -> None:
    settings = get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    install_event_metrics()


def observe(asgi_app: ASGIApp) -> ASGIApp:
    """The last `api_transformer`: wraps the app's routes and everything Reflex serves."""
    return ObservabilityMiddleware(asgi_app, access_log_enabled=get_settings().access_log)
