"""Self-test: shows at once whether this browser can run MediaPipe, on a tiny built-in model."""

import reflex as rx

from app.runtime_assets import DEMO_MODEL_URL_BASE, TINY_BASE, TINY_LORA
from components.engine import engine_self_test
from components.shell import page


def selftest() -> rx.Component:
    return page(
        rx.text(
            "This page loads a tiny random-weight model (about 1 MB, built by the app) into the real "
            "MediaPipe runtime on your GPU, streams a response, and applies a tiny LoRA. Its output "
            "is gibberish by design: it proves the pipeline works, not answer quality.",
            color_scheme="gray",
        ),
        engine_self_test(
            model_url=f"{DEMO_MODEL_URL_BASE}/{TINY_BASE}",
            lora_url=f"{DEMO_MODEL_URL_BASE}/{TINY_LORA}",
            lora_ranks=[4, 8, 16],
        ),
        title="Engine self-test",
    )


def add_pages(app: rx.App) -> None:
    app.add_page(selftest, route="/selftest", title="Self-test · LoRA Studio")
