"""Landing page: what the product is and where to go next."""

import reflex as rx

from components.shell import page


def _feature(icon: str, title: str, text: str) -> rx.Component:
    return rx.card(
        rx.vstack(rx.icon(icon, size=24), rx.heading(title, size="4"), rx.text(text, color_scheme="gray"), spacing="2"),
        width="100%",
    )


def home() -> rx.Component:
    return page(
        rx.vstack(
            rx.heading("Chat with Gemma2 LoRA adapters, privately, on your own GPU", size="8", as_="h1"),
            rx.text(
                "Browse adapters for Gemma2-2b-it, pick one and chat. The model runs in your browser "
                "through WebGPU: your prompts and the answers never leave your device.",
                size="4",
                color_scheme="gray",
            ),
            rx.hstack(
                rx.link(rx.button("Browse the catalog", size="3"), href="/catalog"),
                rx.link(rx.button("Run the self-test", size="3", variant="outline"), href="/selftest"),
                spacing="3",
                flex_wrap="wrap",
            ),
            spacing="4",
            padding_y="2em",
        ),
        rx.grid(
            _feature(
                "shield-check",
                "Private by design",
                "Inference runs locally; the server sees ids, counts and timings only.",
            ),
            _feature(
                "layers", "Adapters, not downloads", "One base model download; switching adapters takes milliseconds."
            ),
            _feature(
                "gauge", "Know before you load", "A capability check tells you whether your browser and GPU can run it."
            ),
            columns=rx.breakpoints(initial="1", md="3"),
            spacing="4",
            width="100%",
        ),
    )


def add_pages(app: rx.App) -> None:
    app.add_page(home, route="/", title="LoRA Studio")
