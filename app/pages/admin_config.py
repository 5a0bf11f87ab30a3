"""`/admin/config`: run-time configuration for admins (every handler behind it is guarded on the server)."""

from __future__ import annotations

import reflex as rx

from components.shell import page
from state.admin_config import AdminConfigState


def _source_badge(source: rx.Var) -> rx.Component:
    return rx.badge(
        source,
        color_scheme=rx.match(source, ("override", "violet"), ("env", "blue"), "gray"),
        variant="soft",
        class_name="config-source",
    )


def _editor(row: rx.Var) -> rx.Component:
    switch = rx.switch(
        checked=row["checked"] == "1",
        on_change=lambda checked: AdminConfigState.toggle(row["key"], checked),
        aria_label="Switch " + row["key"],
        class_name="config-switch",
    )
    form = rx.form(
        rx.hstack(
            rx.el.input(type="hidden", name="key", value=row["key"]),
            rx.input(
                name="value",
                default_value=row["value"],
                key=row["key"] + "=" + row["value"],
                aria_label="Value of " + row["key"],
                class_name="config-input",
                width="100%",
                max_length=1000,
            ),
            rx.button("Save", type="submit", size="2", variant="soft", class_name="config-save"),
            spacing="2",
            width="100%",
            align="center",
        ),
        on_submit=AdminConfigState.save,
        reset_on_submit=False,
        width="100%",
    )
    return rx.cond(row["kind"] == "bool", switch, form)


def _key_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.code(row["key"], variant="ghost", weight="bold"),
                rx.text(row["description"], size="1", color_scheme="gray"),
                rx.text("Env: " + row["env"], size="1", color_scheme="gray"),
                spacing="1",
            ),
            max_width="22em",
        ),
        rx.table.cell(
            rx.vstack(
                _editor(row),
                rx.cond(
                    AdminConfigState.error_key == row["key"],
                    rx.text(
                        AdminConfigState.error, color_scheme="red", size="2", role="alert", class_name="config-error"
                    ),
                ),
                rx.text("Allowed: " + row["bounds"] + " · default: " + row["default"], size="1", color_scheme="gray"),
                spacing="1",
                width="100%",
            ),
            min_width="18em",
        ),
        rx.table.cell(_source_badge(row["source"])),
        rx.table.cell(
            rx.cond(
                row["source"] == "override",
                rx.button(
                    rx.icon("rotate-ccw", size=14),
                    "Reset",
                    size="1",
                    variant="outline",
                    color_scheme="gray",
                    on_click=AdminConfigState.reset_key(row["key"]),
                    class_name="config-reset",
                ),
            ),
        ),
        custom_attrs={"data-key": row["key"]},
        class_name="config-row",
        align="center",
    )


def _env_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row["env"], variant="ghost")),
        rx.table.cell(rx.text(row["value"], size="2", class_name="config-value")),
        rx.table.cell(_source_badge(row["source"])),
        rx.table.cell(rx.text(row["description"], size="1", color_scheme="gray")),
        custom_attrs={"data-key": row["key"]},
        class_name="env-row",
    )


def _audit_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row["at"], size="1")),
        rx.table.cell(rx.text(row["actor"], size="2")),
        rx.table.cell(rx.code(row["key"], variant="ghost")),
        rx.table.cell(rx.text(row["action"], size="2")),
        rx.table.cell(rx.text(row["old"], size="2", class_name="audit-old")),
        rx.table.cell(rx.text(row["new"], size="2", class_name="audit-new")),
        class_name="audit-row",
    )


def _table(headers: list[str], body: rx.Component, **props: object) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(name) for name in headers])),
        rx.table.body(body),
        variant="surface",
        width="100%",
        **props,
    )


def admin_config() -> rx.Component:
    return page(
        rx.text(
            "Run-time settings apply to every worker within a second. Values set in the environment "
            "show through until overridden here; reset drops the override. Every change is audited.",
            color_scheme="gray",
        ),
        rx.cond(
            AdminConfigState.message != "",
            rx.callout(AdminConfigState.message, icon="check", color_scheme="green", id="config-message"),
        ),
        rx.cond(
            AdminConfigState.error != "",
            rx.callout(AdminConfigState.error, icon="triangle-alert", color_scheme="red", id="config-refused"),
        ),
        rx.heading("Run-time keys", size="5", as_="h2"),
        _table(["Key", "Value", "Source", ""], rx.foreach(AdminConfigState.rows, _key_row), id="config-keys"),
        rx.heading("Audit log", size="5", as_="h2"),
        rx.cond(
            AdminConfigState.audit.length() > 0,
            _table(
                ["When", "Who", "Key", "Action", "Old", "New"],
                rx.foreach(AdminConfigState.audit, _audit_row),
                id="config-audit",
            ),
            rx.text("No changes yet.", color_scheme="gray"),
        ),
        rx.heading("Set in the environment (read-only)", size="5", as_="h2"),
        rx.text(
            "Secrets are never shown. Change these in the environment or .env and restart.",
            size="2",
            color_scheme="gray",
        ),
        _table(
            ["Variable", "Value", "Source", "What"], rx.foreach(AdminConfigState.env_rows, _env_row), id="config-env"
        ),
        title="Configuration",
    )


def add_pages(app: rx.App) -> None:
    app.add_page(
        admin_config, route="/admin/config", title="Configuration · LoRA Studio", on_load=AdminConfigState.load
    )
