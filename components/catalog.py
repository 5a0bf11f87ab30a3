"""Catalog UI pieces: adapter cards and badges."""

from __future__ import annotations

import reflex as rx
from reflex.event import passthrough_event_spec


def demo_badge() -> rx.Component:
    return rx.badge(rx.icon("flask-conical", size=12), "Demo file", color_scheme="amber", variant="soft")


def status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        ("published", rx.fragment()),
        ("draft", rx.badge("Draft", color_scheme="gray")),
        ("pending", rx.badge("Waiting for review", color_scheme="orange")),
        ("unlisted", rx.badge("Unlisted", color_scheme="blue")),
        ("removed", rx.badge("Removed", color_scheme="red")),
        rx.fragment(),
    )


def adapter_card(card) -> rx.Component:  # noqa: ANN001 - a CardRow var
    return rx.link(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.heading(card.title, size="4", trim="both"),
                    rx.cond(card.is_demo, demo_badge()),
                    justify="between",
                    align="start",
                    width="100%",
                    spacing="2",
                ),
                rx.text(card.summary, size="2", color_scheme="gray", class_name="card-summary"),
                rx.hstack(
                    rx.foreach(card.tags, lambda tag: rx.badge(tag, variant="surface", size="1")),
                    spacing="1",
                    flex_wrap="wrap",
                ),
                rx.spacer(),
                rx.hstack(
                    rx.text(card.author_name, size="1", weight="medium"),
                    rx.spacer(),
                    rx.text(f"rank {card.rank}", size="1", color_scheme="gray"),
                    rx.hstack(
                        rx.icon("download", size=12),
                        rx.text(card.download_count, size="1"),
                        spacing="1",
                        align="center",
                    ),
                    rx.hstack(
                        rx.icon("heart", size=12), rx.text(card.favourite_count, size="1"), spacing="1", align="center"
                    ),
                    width="100%",
                    align="center",
                    spacing="2",
                ),
                spacing="2",
                height="100%",
                align="start",
            ),
            height="100%",
            class_name="adapter-card",
        ),
        href=card.href,
        underline="none",
        color_scheme="gray",
        high_contrast=True,
        data_slug=card.slug,
    )


class BaseModelUploader(rx.Component):
    """Resumable chunked upload of a base model file (assets/catalog/base_model_upload.jsx)."""

    library = "$/public/catalog/base_model_upload.jsx"
    tag = "BaseModelUploader"

    endpoint: rx.Var[str]
    chunk_size: rx.Var[int]
    on_done: rx.EventHandler[passthrough_event_spec(str)]


def base_model_uploader(*, on_done: rx.EventHandler) -> rx.Component:
    return BaseModelUploader.create(
        endpoint="/api/v1/admin/base-model-uploads", chunk_size=8 * 1024 * 1024, on_done=on_done
    )
