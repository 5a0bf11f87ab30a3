"""Sections whose features arrive with their own issues; each shows an honest empty state."""

import reflex as rx

from components.shell import empty_state, page


def catalog() -> rx.Component:
    return page(
        empty_state(
            "library",
            "No adapters published yet",
            "Adapters that creators publish appear here, with search and filters.",
            rx.link(rx.button("Run the self-test", variant="soft"), href="/selftest"),
        ),
        title="Catalog",
    )


def add_pages(app: rx.App) -> None:
    app.add_page(catalog, route="/catalog", title="Catalog · LoRA Studio")
