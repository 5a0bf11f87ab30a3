"""Creator pages: /creator/upload (check, convert, describe, publish), /creator/adapters, edit."""

from __future__ import annotations

import reflex as rx

from components.catalog import status_badge
from components.shell import empty_state, page
from state.creator import (
    UPLOAD_ID,
    VERSION_UPLOAD_ID,
    CheckRow,
    CreatorAdaptersState,
    CreatorUploadState,
    EditAdapterState,
    MyAdapterRow,
)


def _sign_in_needed(text: str) -> rx.Component:
    return empty_state(
        "lock",
        "Sign in as a creator",
        text,
        rx.link(rx.button("Sign in", variant="soft"), href="/signin"),
    )


def _field(label: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        rx.cond(hint != "", rx.text(hint, size="1", color_scheme="gray")),
        spacing="1",
        width="100%",
    )


def metadata_form(state: type, *, actions: rx.Component) -> rx.Component:
    """The describe-your-adapter form; `state` is a MetadataForm subclass."""

    def text(name: str, **props) -> rx.Component:  # noqa: ANN003
        return rx.input(
            value=getattr(state, name), on_change=lambda v: state.set_field(name, v), name=name, width="100%", **props
        )

    return rx.vstack(
        _field("Title", text("title", max_length=120, id="meta-title")),
        _field("Summary", text("summary", max_length=300, id="meta-summary"), "One sentence shown on the card."),
        _field(
            "Model card (markdown)",
            rx.text_area(
                value=state.description_md,
                on_change=lambda v: state.set_field("description_md", v),
                rows="10",
                width="100%",
                id="meta-description",
                max_length=20000,
            ),
            "Markdown. HTML tags are shown as text; links must be http(s) or mailto.",
        ),
        rx.grid(
            _field("Tags", text("tags", id="meta-tags", placeholder="poetry, english"), "Comma-separated, lower case."),
            _field("Languages", text("languages", id="meta-languages", placeholder="en, fr")),
            _field(
                "Task",
                rx.select(
                    state.task_types,
                    value=state.task_type,
                    on_change=lambda v: state.set_field("task_type", v),
                    width="100%",
                ),
            ),
            _field(
                "License",
                rx.select(
                    state.licenses, value=state.license, on_change=lambda v: state.set_field("license", v), width="100%"
                ),
            ),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="3",
            width="100%",
        ),
        _field(
            "Example prompts",
            rx.text_area(
                value=state.example_prompts,
                on_change=lambda v: state.set_field("example_prompts", v),
                rows="3",
                width="100%",
                id="meta-prompts",
            ),
            "One per line.",
        ),
        rx.grid(
            _field("Temperature", text("temperature", id="meta-temperature")),
            _field("Top-k", text("top_k", id="meta-topk")),
            _field("Max tokens", text("max_tokens", id="meta-maxtokens")),
            columns="3",
            spacing="3",
            width="100%",
        ),
        rx.cond(
            state.form_error != "",
            rx.callout(state.form_error, icon="triangle-alert", color_scheme="red", id="form-error"),
        ),
        actions,
        spacing="3",
        width="100%",
    )


def _check_row(row: CheckRow) -> rx.Component:
    return rx.table.row(rx.table.row_header_cell(row.label), rx.table.cell(rx.text(row.value, word_break="break-all")))


def upload_panel() -> rx.Component:
    s = CreatorUploadState
    return rx.card(
        rx.vstack(
            rx.heading("1. Upload and check", size="4"),
            rx.text(
                "A Hugging Face PEFT LoRA (adapter_config.json + adapter_model.safetensors, as two files or one "
                "zip), or an already converted MediaPipe LoRA .bin. The files are checked against the base model "
                "and the browser runtime; PEFT adapters are converted to MediaPipe's format.",
                size="2",
                color_scheme="gray",
            ),
            rx.hstack(
                _field(
                    "Base model",
                    rx.select.root(
                        rx.select.trigger(id="upload-base"),
                        rx.select.content(
                            rx.select.item("Gemma2-2b / Gemma2-2b-it", value="gemma2-2b"),
                            rx.select.item("Tiny Gemma2 (demo, for testing)", value="tiny-gemma2"),
                        ),
                        value=s.base_model,
                        on_change=s.set_base_model,
                    ),
                ),
                _field(
                    "Title (optional)",
                    rx.input(
                        value=s.title, on_change=lambda v: s.set_field("title", v), id="upload-title", max_length=120
                    ),
                ),
                width="100%",
                spacing="4",
            ),
            rx.upload(
                rx.vstack(
                    rx.icon("upload", size=28),
                    rx.text("Drop files here or click to choose", size="2"),
                    rx.text(
                        rx.foreach(rx.selected_files(UPLOAD_ID), lambda f: rx.text(f, as_="span", margin_right="1em")),
                        size="1",
                        color_scheme="gray",
                        id="selected-files",
                    ),
                    align="center",
                    spacing="2",
                ),
                id=UPLOAD_ID,
                multiple=True,
                max_files=2,
                accept={
                    "application/json": [".json"],
                    "application/octet-stream": [".safetensors", ".bin"],
                    "application/zip": [".zip"],
                },
                border=f"1px dashed {rx.color('gray', 7)}",
                border_radius="10px",
                padding="2em",
                width="100%",
                cursor="pointer",
            ),
            rx.hstack(
                rx.button(
                    rx.cond(s.busy, rx.spinner(size="2"), rx.icon("shield-check", size=16)),
                    "Check and convert",
                    on_click=s.handle_upload(rx.upload_files(upload_id=UPLOAD_ID)),
                    disabled=s.busy,
                    id="upload-submit",
                ),
                rx.button("Clear", variant="ghost", on_click=rx.clear_selected_files(UPLOAD_ID)),
            ),
            rx.cond(
                s.error != "",
                rx.callout(s.error, icon="circle-x", color_scheme="red", id="upload-error", width="100%"),
            ),
            rx.cond(
                s.checks.length() > 0,
                rx.vstack(
                    rx.callout(
                        "All checks passed. A draft was created.",
                        icon="circle-check",
                        color_scheme="green",
                        id="upload-ok",
                    ),
                    rx.table.root(
                        rx.table.body(rx.foreach(s.checks, _check_row)), size="1", width="100%", id="check-table"
                    ),
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def describe_panel() -> rx.Component:
    s = CreatorUploadState
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("2. Describe and publish", size="4"), status_badge(s.status), spacing="3", align="center"
            ),
            metadata_form(
                CreatorUploadState,
                actions=rx.vstack(
                    rx.hstack(
                        rx.button("Save draft", variant="soft", on_click=s.save_draft, id="save-draft"),
                        rx.button("Publish", on_click=s.publish, id="publish"),
                        rx.cond(s.status != "", rx.link("View its page", href=s.adapter_href, id="adapter-link")),
                        align="center",
                        spacing="3",
                    ),
                    rx.cond(
                        s.saved_message != "",
                        rx.callout(s.saved_message, icon="check", color_scheme="green", id="saved-message"),
                    ),
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def upload_page() -> rx.Component:
    s = CreatorUploadState
    return page(
        rx.cond(
            s.is_creator,
            rx.vstack(upload_panel(), rx.cond(s.slug != "", describe_panel()), spacing="4", width="100%"),
            _sign_in_needed("Uploading adapters needs a creator account. An admin can make your account a creator."),
        ),
        title="Upload an adapter",
    )


def _to_draft_button(label: str, slug: rx.Var) -> rx.Component:
    return rx.button(
        label, size="1", variant="soft", color_scheme="gray", on_click=CreatorAdaptersState.set_status(slug, "draft")
    )


def _my_row(row: MyAdapterRow) -> rx.Component:
    card = row.card
    s = CreatorAdaptersState
    return rx.table.row(
        rx.table.cell(rx.link(card.title, href=card.href)),
        rx.table.cell(rx.hstack(rx.badge(card.status, variant="soft"), spacing="1")),
        rx.table.cell(rx.text(row.moderation_reason, color_scheme="red", size="2")),
        rx.table.cell(card.download_count),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    card.status != "published",
                    rx.match(
                        card.status,
                        ("removed", rx.fragment()),
                        ("pending", _to_draft_button("Withdraw", card.slug)),
                        rx.button("Publish", size="1", on_click=s.set_status(card.slug, "published")),
                    ),
                    rx.button("Unlist", size="1", variant="soft", on_click=s.set_status(card.slug, "unlisted")),
                ),
                rx.cond(
                    (card.status == "published") | (card.status == "unlisted"),
                    _to_draft_button("Unpublish", card.slug),
                ),
                rx.cond(
                    card.status != "removed",
                    rx.link(rx.button("Edit", size="1", variant="outline"), href=f"/adapters/{card.slug}/edit"),
                ),
                spacing="2",
            )
        ),
    )


def my_adapters_page() -> rx.Component:
    s = CreatorAdaptersState
    return page(
        rx.cond(
            s.signed_in,
            rx.vstack(
                rx.link(rx.button(rx.icon("upload", size=16), "Upload an adapter"), href="/creator/upload"),
                rx.cond(s.message != "", rx.callout(s.message, icon="info")),
                rx.cond(
                    s.rows.length() > 0,
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell("Adapter"),
                                rx.table.column_header_cell("Status"),
                                rx.table.column_header_cell("Moderator's reason"),
                                rx.table.column_header_cell("Downloads"),
                                rx.table.column_header_cell(""),
                            )
                        ),
                        rx.table.body(rx.foreach(s.rows, _my_row)),
                        width="100%",
                    ),
                    empty_state("package-open", "No adapters yet", "Upload a PEFT LoRA or a MediaPipe .bin to start."),
                ),
                width="100%",
                spacing="4",
            ),
            _sign_in_needed("Sign in to see your adapters."),
        ),
        title="My adapters",
    )


def new_version_panel() -> rx.Component:
    s = EditAdapterState
    return rx.card(
        rx.vstack(
            rx.heading("Upload a new version", size="4"),
            rx.text(
                "The same checks and conversion as a first upload; chat loads the newest version.",
                size="2",
                color_scheme="gray",
            ),
            rx.upload(
                rx.text("Drop the new files here or click to choose", size="2"),
                rx.text(
                    rx.foreach(
                        rx.selected_files(VERSION_UPLOAD_ID), lambda f: rx.text(f, as_="span", margin_right="1em")
                    ),
                    size="1",
                ),
                id=VERSION_UPLOAD_ID,
                multiple=True,
                max_files=2,
                border=f"1px dashed {rx.color('gray', 7)}",
                border_radius="10px",
                padding="1.5em",
                width="100%",
            ),
            rx.input(
                value=s.changelog,
                on_change=s.set_changelog,
                placeholder="What changed",
                width="100%",
                id="version-changelog",
            ),
            rx.button(
                "Upload version",
                on_click=s.upload_version(rx.upload_files(upload_id=VERSION_UPLOAD_ID)),
                loading=s.busy,
                id="version-submit",
            ),
            rx.cond(s.version_error != "", rx.callout(s.version_error, icon="circle-x", color_scheme="red")),
            rx.cond(s.version_message != "", rx.callout(s.version_message, icon="check", color_scheme="green")),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def edit_page() -> rx.Component:
    s = EditAdapterState
    return page(
        rx.cond(
            s.found,
            rx.vstack(
                metadata_form(
                    EditAdapterState,
                    actions=rx.hstack(
                        rx.button("Save", on_click=s.save, id="edit-save"),
                        rx.link("View its page", href=f"/adapters/{s.slug}"),
                        rx.cond(s.saved_message != "", rx.text(s.saved_message, color_scheme="green")),
                        align="center",
                        spacing="3",
                    ),
                ),
                new_version_panel(),
                spacing="5",
                width="100%",
            ),
            _sign_in_needed("Only the adapter's author can edit it."),
        ),
        title="Edit adapter",
    )


def add_pages(app: rx.App) -> None:
    app.add_page(upload_page, route="/creator/upload", title="Upload · LoRA Studio", on_load=CreatorUploadState.load)
    app.add_page(
        my_adapters_page,
        route="/creator/adapters",
        title="My adapters · LoRA Studio",
        on_load=CreatorAdaptersState.load,
    )
    app.add_page(
        edit_page, route="/adapters/[slug]/edit", title="Edit adapter · LoRA Studio", on_load=EditAdapterState.load
    )
