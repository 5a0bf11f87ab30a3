"""Catalog pages: /catalog (search, filters, sort, pages) and /adapters/[slug] (the model card)."""

from __future__ import annotations

import reflex as rx

from components.analytics import typical_speed
from components.catalog import adapter_card, demo_badge, status_badge
from components.shell import empty_state, page
from state.catalog import AdapterPageState, CatalogState, FileRow, MetaRow, VersionRow

# The sanitized card HTML has no classes: give its plain tags readable typography.
MODEL_CARD_STYLE = {
    "line_height": "1.6",
    "& h1, & h2, & h3, & h4": {"font_weight": "600", "margin": "1em 0 0.4em"},
    "& h1": {"font_size": "1.5em"},
    "& h2": {"font_size": "1.25em"},
    "& h3": {"font_size": "1.1em"},
    "& p, & ul, & ol, & pre, & blockquote, & table": {"margin": "0.5em 0"},
    "& ul, & ol": {"padding_left": "1.5em"},
    "& ul": {"list_style": "disc"},
    "& ol": {"list_style": "decimal"},
    "& a": {"color": "var(--accent-11)", "text_decoration": "underline"},
    "& code": {"font_family": "var(--code-font-family)", "font_size": "0.9em"},
    "& pre": {"background": "var(--gray-3)", "padding": "0.75em", "border_radius": "6px", "overflow_x": "auto"},
    "& blockquote": {"border_left": "3px solid var(--amber-8)", "padding_left": "0.9em", "color": "var(--gray-11)"},
    "& th, & td": {"border": "1px solid var(--gray-6)", "padding": "0.25em 0.5em"},
}
SORT_LABELS = [("popular", "Most downloaded"), ("newest", "Newest"), ("favourites", "Most favourited")]


def _filter(label: str, name: str, value: rx.Var, options: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.select.root(
            rx.select.trigger(placeholder="Any", aria_label=label, id=f"filter-{name}", width="100%"),
            rx.select.content(
                rx.select.item("Any", value="any"),
                rx.foreach(options, lambda option: rx.select.item(option, value=option)),
            ),
            value=value,
            on_change=lambda v: CatalogState.set_filter(name, v),
        ),
        spacing="1",
        min_width="9em",
    )


def search_bar() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                name="q",
                value=CatalogState.q,
                on_change=CatalogState.set_q,
                placeholder="Search title, summary, tags or author",
                aria_label="Search adapters",
                id="catalog-search",
                size="3",
                flex="1",
                max_length=200,
            ),
            rx.button("Search", type="submit", size="3", id="catalog-search-submit"),
            width="100%",
        ),
        on_submit=CatalogState.search,
        width="100%",
    )


def filters() -> rx.Component:
    return rx.flex(
        _filter("Tag", "tag", CatalogState.tag_value, CatalogState.tag_options),
        _filter("Task", "task", CatalogState.task_value, CatalogState.task_options),
        _filter("License", "license", CatalogState.license_value, CatalogState.license_options),
        _filter("Rank", "rank", CatalogState.rank_value, CatalogState.rank_options),
        rx.vstack(
            rx.text("Sort", size="1", color_scheme="gray"),
            rx.select.root(
                rx.select.trigger(aria_label="Sort", id="filter-sort", width="100%"),
                rx.select.content(*[rx.select.item(label, value=value) for value, label in SORT_LABELS]),
                value=CatalogState.sort,
                on_change=lambda v: CatalogState.set_filter("sort", v),
            ),
            spacing="1",
            min_width="11em",
        ),
        rx.cond(
            CatalogState.has_filters,
            rx.button("Clear", variant="ghost", on_click=CatalogState.clear, align_self="end", id="catalog-clear"),
        ),
        gap="3",
        wrap="wrap",
        align="end",
    )


def pager() -> rx.Component:
    return rx.hstack(
        rx.cond(
            CatalogState.page > 1,
            rx.link(rx.button("Previous", variant="soft"), href=CatalogState.prev_href, id="page-prev"),
        ),
        rx.text(f"Page {CatalogState.page} of {CatalogState.pages}", size="2", color_scheme="gray"),
        rx.cond(
            CatalogState.page < CatalogState.pages,
            rx.link(rx.button("Next", variant="soft"), href=CatalogState.next_href, id="page-next"),
        ),
        justify="center",
        align="center",
        spacing="4",
        width="100%",
    )


def results() -> rx.Component:
    return rx.cond(
        CatalogState.total > 0,
        rx.vstack(
            rx.text(
                rx.cond(CatalogState.total == 1, "1 adapter", f"{CatalogState.total} adapters"),
                size="2",
                color_scheme="gray",
                id="catalog-count",
            ),
            rx.grid(
                rx.foreach(CatalogState.items, adapter_card),
                columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                spacing="4",
                width="100%",
            ),
            pager(),
            spacing="4",
            width="100%",
        ),
        rx.cond(
            CatalogState.has_filters,
            empty_state(
                "search-x",
                "No adapters match",
                "Try fewer words or clear the filters.",
                rx.button("Clear search", variant="soft", on_click=CatalogState.clear),
            ),
            empty_state(
                "library",
                "No adapters published yet",
                "Adapters that creators publish appear here. Creators can upload a PEFT LoRA or a MediaPipe .bin.",
                rx.link(rx.button("Upload an adapter", variant="soft"), href="/creator/upload"),
                rx.link(rx.button("Run the self-test", variant="outline"), href="/selftest"),
            ),
        ),
    )


def catalog() -> rx.Component:
    return page(
        rx.text(
            "LoRA adapters for Gemma2-2b-it. Pick one and chat with it in your browser.",
            color_scheme="gray",
        ),
        search_bar(),
        filters(),
        rx.cond(CatalogState.error != "", rx.callout(CatalogState.error, icon="info", color_scheme="amber")),
        rx.cond(CatalogState.loaded, results(), rx.center(rx.spinner(size="3"), padding="3em")),
        title="Catalog",
    )


# --- the adapter page ----------------------------------------------------------------------------


def _meta_row(row: MetaRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(row.label, white_space="nowrap"),
        rx.table.cell(row.value),
    )


def _file_row(row: FileRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(row.filename, href=row.url, is_external=False)),
        rx.table.cell(row.role),
        rx.table.cell(row.size, white_space="nowrap", class_name="file-size"),
        rx.table.cell(rx.code(row.sha256.to(str)[:16] + "…", title=row.sha256)),
    )


def _version(v: VersionRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(f"Version {v.number}", size="3"),
                rx.badge(v.source_format, variant="soft"),
                rx.spacer(),
                rx.text(v.created, size="2", color_scheme="gray"),
                width="100%",
                align="center",
            ),
            rx.cond(v.changelog != "", rx.text(v.changelog, size="2")),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("File"),
                        rx.table.column_header_cell("What"),
                        rx.table.column_header_cell("Size"),
                        rx.table.column_header_cell("sha256"),
                    )
                ),
                rx.table.body(rx.foreach(v.files, _file_row)),
                size="1",
                width="100%",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def _found() -> rx.Component:
    s = AdapterPageState
    return rx.vstack(
        rx.hstack(
            rx.heading(s.title, size="7", as_="h1", id="adapter-title"),
            rx.cond(s.is_demo, demo_badge()),
            status_badge(s.status),
            align="center",
            spacing="3",
            flex_wrap="wrap",
        ),
        rx.text(s.summary, size="4", color_scheme="gray"),
        rx.text("by ", rx.text.strong(s.author_name), size="2"),
        rx.cond(
            s.is_demo,
            rx.callout(
                "Demo file: random weights for the tiny test model. It exercises the pipeline (checks, "
                "conversion, delivery, the in-browser engine); its output is gibberish by design.",
                icon="flask-conical",
                color_scheme="amber",
                id="demo-notice",
            ),
        ),
        rx.cond(
            s.moderation_reason != "",
            rx.callout(
                rx.text("A moderator changed this adapter's status: ", rx.text.strong(s.moderation_reason)),
                icon="shield-alert",
                color_scheme="red",
                id="moderation-reason",
            ),
        ),
        rx.hstack(
            rx.link(
                rx.button(rx.icon("message-square"), "Chat with this adapter", size="3"),
                href=s.chat_href,
                id="chat-button",
            ),
            rx.hstack(rx.icon("download", size=16), rx.text(s.download_count), align="center", spacing="1"),
            rx.cond(
                s.signed_in,
                rx.button(
                    rx.icon("heart", size=16, fill=rx.cond(s.is_favourite, "currentColor", "none")),
                    rx.text(s.favourite_count, id="favourite-count"),
                    rx.cond(s.is_favourite, "Favourite", "Add to favourites"),
                    variant="soft",
                    on_click=s.toggle_favourite,
                    id="favourite-button",
                ),
                rx.hstack(
                    rx.icon("heart", size=16),
                    rx.text(s.favourite_count, id="favourite-count"),
                    align="center",
                    spacing="1",
                ),
            ),
            align="center",
            spacing="4",
            flex_wrap="wrap",
        ),
        typical_speed(s.slug),
        rx.text(s.base_note, size="2", color_scheme="gray"),
        rx.hstack(rx.foreach(s.tags, lambda t: rx.badge(t, variant="surface")), spacing="2", flex_wrap="wrap"),
        rx.grid(
            rx.box(
                rx.heading("Model card", size="5", margin_bottom="0.5em"),
                rx.box(rx.html(s.description_html), class_name="model-card", id="model-card", style=MODEL_CARD_STYLE),
                min_width="0",
            ),
            rx.vstack(
                rx.heading("Details", size="5"),
                rx.table.root(rx.table.body(rx.foreach(s.metadata, _meta_row)), size="1", width="100%"),
                rx.cond(
                    s.example_prompts.length() > 0,
                    rx.vstack(
                        rx.heading("Example prompts", size="4"),
                        rx.foreach(
                            s.example_prompts,
                            lambda p: rx.card(rx.text(p, size="2", white_space="pre-wrap"), width="100%"),
                        ),
                        width="100%",
                        spacing="2",
                    ),
                ),
                spacing="3",
                min_width="0",
            ),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="6",
            width="100%",
        ),
        rx.heading("Versions and files", size="5"),
        rx.foreach(s.versions, _version),
        spacing="4",
        width="100%",
        align="stretch",
    )


def adapter_page() -> rx.Component:
    return page(
        rx.cond(
            AdapterPageState.loaded,
            rx.cond(
                AdapterPageState.found,
                _found(),
                empty_state(
                    "file-question",
                    "Adapter not found",
                    "It does not exist, or it is not published.",
                    rx.link(rx.button("Back to the catalog", variant="soft"), href="/catalog"),
                ),
            ),
            rx.center(rx.spinner(size="3"), padding="3em"),
        )
    )


def add_pages(app: rx.App) -> None:
    app.add_page(catalog, route="/catalog", title="Catalog · LoRA Studio", on_load=CatalogState.load)
    app.add_page(adapter_page, route="/adapters/[slug]", title="Adapter · LoRA Studio", on_load=AdapterPageState.load)
