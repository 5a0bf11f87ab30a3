"""Private chat: the model runs in the visitor's browser; the server only serves files and metadata."""

import reflex as rx

from app.runtime_assets import DEMO_MODEL_URL_BASE
from components.engine import private_chat
from components.shell import page

# Counts and timings only (assets/engine/metrics.js); the route answers 204 when analytics is off.
ANALYTICS_URL = "/api/v1/events"


def chat() -> rx.Component:
    return page(
        rx.text(
            "Chat with Gemma2-2b-it and a LoRA adapter on your own GPU. Your messages and the answers "
            "stay in this browser; the server only delivers the model files.",
            color_scheme="gray",
        ),
        private_chat(
            models_index_url=f"{DEMO_MODEL_URL_BASE}/index.json",
            config_url="/api/v1/config/public",
            api_base="/api/v1",
            analytics_url=ANALYTICS_URL,
        ),
        title="Chat",
    )


def add_pages(app: rx.App) -> None:
    app.add_page(chat, route="/chat", title="Chat · LoRA Studio")
