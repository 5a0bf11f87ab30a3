"""Sections whose features arrive with their own issues; each shows an honest empty state."""

import reflex as rx

from components.shell import empty_state, page


def chat() -> rx.Component:
    return page(
        empty_state(
            "message-square",
            "Pick an adapter to start chatting",
            "Chat needs the Gemma2-2b-it base model registered by an operator. Meanwhile the "
            "self-test shows whether your browser can run the engine.",
            rx.link(rx.button("Open the self-test", variant="soft"), href="/selftest"),
        ),
        title="Chat",
    )


def add_pages(app: rx.App) -> None:
    app.add_page(chat, route="/chat", title="Chat · LoRA Studio")
