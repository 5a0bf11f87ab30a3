"""Admin catalog pages: /admin/catalog (moderation) and /admin/base-models (registration)."""

from __future__ import annotations

import reflex as rx

from components.catalog import base_model_uploader
from components.shell import empty_state, page
from state.admin_catalog import STATUS_FILTERS, BaseModelsState, BaseRow, ModerationRow, ModerationState


def _admins_only() -> rx.Component:
    return empty_state(
        "shield",
        "Admins only",
        "Sign in with an admin account.",
        rx.link(rx.button("Sign in", variant="soft"), href="/signin"),
    )


def _moderation_row(row: ModerationRow) -> rx.Component:
    card = row.card
    s = ModerationState
    return rx.table.row(
        rx.table.cell(rx.link(card.title, href=card.href), rx.text(card.author_name, size="1", color_scheme="gray")),
        rx.table.cell(rx.badge(card.status, variant="soft")),
        rx.table.cell(rx.text(row.reason, size="2")),
        rx.table.cell(
            rx.input(
                placeholder="Reason the author will see",
                on_change=lambda v: s.set_reason(card.slug, v),
                size="1",
                width="16em",
                data_slug=card.slug,
                class_name="moderation-reason",
            )
        ),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    card.status == "pending",
                    rx.button("Approve", size="1", color_scheme="green", on_click=s.moderate(card.slug, "approve")),
                ),
                rx.button("Unpublish", size="1", variant="soft", on_click=s.moderate(card.slug, "unpublish")),
                rx.button(
                    "Remove", size="1", color_scheme="red", variant="soft", on_click=s.moderate(card.slug, "remove")
                ),
                rx.cond(
                    card.status == "removed",
                    rx.button("Restore", size="1", variant="outline", on_click=s.moderate(card.slug, "restore")),
                ),
                spacing="2",
            )
        ),
    )


def moderation_page() -> rx.Component:
    s = ModerationState
    return page(
        rx.cond(
            s.is_admin,
            rx.vstack(
                rx.hstack(
                    rx.text("Show", size="2"),
                    rx.select(
                        list(STATUS_FILTERS),
                        value=s.status_filter,
                        on_change=s.set_status_filter,
                    ),
                    rx.link("Base models", href="/admin/base-models"),
                    align="center",
                    spacing="3",
                ),
                rx.cond(s.message != "", rx.callout(s.message, icon="check", color_scheme="green")),
                rx.cond(s.error != "", rx.callout(s.error, icon="triangle-alert", color_scheme="red")),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Adapter"),
                            rx.table.column_header_cell("Status"),
                            rx.table.column_header_cell("Current reason"),
                            rx.table.column_header_cell("Reason"),
                            rx.table.column_header_cell("Action"),
                        )
                    ),
                    rx.table.body(rx.foreach(s.rows, _moderation_row)),
                    width="100%",
                ),
                width="100%",
                spacing="4",
            ),
            _admins_only(),
        ),
        title="Moderate the catalog",
    )


def _base_row(row: BaseRow) -> rx.Component:
    s = BaseModelsState
    return rx.table.row(
        rx.table.cell(rx.text(row.title, weight="medium"), rx.text(row.name, size="1", color_scheme="gray")),
        rx.table.cell(row.architecture),
        rx.table.cell(row.size),
        rx.table.cell(rx.code(row.sha256.to(str)[:16] + "…", title=row.sha256)),
        rx.table.cell(row.source),
        rx.table.cell(rx.text(row.license_note, size="1")),
        rx.table.cell(
            rx.cond(
                row.is_active,
                rx.button("Deactivate", size="1", variant="soft", on_click=s.set_active(row.name, False)),
                rx.button("Activate", size="1", on_click=s.set_active(row.name, True)),
            )
        ),
    )


def _fields() -> list[rx.Component]:
    return [
        rx.input(name="name", placeholder="name, e.g. gemma2-2b-it-gpu-int8", required=True),
        rx.input(name="title", placeholder="title, e.g. Gemma2 2B IT (GPU, int8)", required=True),
        rx.el.select(
            rx.el.option("Gemma2-2b", value="gemma2-2b"),
            rx.el.option("Tiny Gemma2 (demo)", value="tiny-gemma2"),
            name="architecture",
        ),
        rx.input(name="license_note", placeholder="license note, e.g. Gemma Terms of Use, accepted by the operator"),
    ]


def base_models_page() -> rx.Component:
    s = BaseModelsState
    return page(
        rx.cond(
            s.is_admin,
            rx.vstack(
                rx.text(
                    "The base model (gemma2-2b-it-gpu-int8.bin, about 2.6 GB, Gemma Terms of Use) cannot ship with the "
                    "app: register the file you obtained after accepting its license. Chat loads the newest active "
                    "registration of an architecture.",
                    color_scheme="gray",
                ),
                rx.cond(s.message != "", rx.callout(s.message, icon="check", color_scheme="green", id="base-message")),
                rx.cond(s.error != "", rx.callout(s.error, icon="triangle-alert", color_scheme="red", id="base-error")),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("Model", "Architecture", "Size", "sha256", "Source", "License", "")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(s.rows, _base_row)),
                    width="100%",
                ),
                rx.grid(
                    rx.card(rx.heading("Upload (resumable)", size="4"), base_model_uploader(on_done=s.upload_done)),
                    rx.card(
                        rx.heading("From a path on the server", size="4"),
                        rx.text(f"Only files inside: {s.import_dirs}", size="1", color_scheme="gray"),
                        rx.form(
                            rx.vstack(
                                rx.input(
                                    name="path", placeholder="/srv/models/gemma2-2b-it-gpu-int8.bin", required=True
                                ),
                                *_fields(),
                                rx.button("Register", type="submit", loading=s.busy),
                                spacing="2",
                            ),
                            on_submit=s.register_path,
                            reset_on_submit=False,
                        ),
                    ),
                    rx.card(
                        rx.heading("From a URL", size="4"),
                        rx.text(
                            "Downloaded by the server, hashed while streaming; a sha256 mismatch stores nothing.",
                            size="1",
                            color_scheme="gray",
                        ),
                        rx.form(
                            rx.vstack(
                                rx.input(name="url", placeholder="https://…/gemma2-2b-it-gpu-int8.bin", required=True),
                                rx.input(name="sha256", placeholder="expected sha256 (64 hex digits)", required=True),
                                *_fields(),
                                rx.button("Download and register", type="submit", loading=s.busy),
                                spacing="2",
                            ),
                            on_submit=s.register_url,
                            reset_on_submit=False,
                        ),
                    ),
                    columns=rx.breakpoints(initial="1", lg="3"),
                    spacing="4",
                    width="100%",
                ),
                width="100%",
                spacing="4",
            ),
            _admins_only(),
        ),
        title="Base models",
    )


def add_pages(app: rx.App) -> None:
    app.add_page(
        moderation_page, route="/admin/catalog", title="Moderation · LoRA Studio", on_load=ModerationState.load
    )
    app.add_page(
        base_models_page, route="/admin/base-models", title="Base models · LoRA Studio", on_load=BaseModelsState.load
    )
