"""The admin's configuration page: every key, its source, edit with validation, reset, audit log."""

from __future__ import annotations

import json

import reflex as rx

from app.auth import guard
from app.config import Actor, AuditRecord, ConfigError, Entry, get_runtime_config
from app.models import Role
from state.session import SessionState

AUDIT_ROWS = 50


def _text(value_json: str | None) -> str:
    """A stored JSON value as an admin types it: plain text, numbers, true/false, '4, 8, 16'."""
    if value_json is None:
        return ""
    value = json.loads(value_json)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)


def _shown(value_json: str | None) -> str:
    text = _text(value_json)
    return text if text else "(empty)"


def _row(entry: Entry, kind: str) -> dict[str, str]:
    return {
        "key": entry.key,
        "group": entry.group,
        "value": "hidden (secret)" if entry.secret else _text(entry.value),
        "checked": "1" if entry.value == "true" else "",
        "kind": kind,
        "source": entry.source,
        "default": "" if entry.default is None else _shown(entry.default),
        "description": entry.description,
        "bounds": entry.bounds,
        "env": entry.env_var,
    }


def _audit_row(record: AuditRecord) -> dict[str, str]:
    return {
        "id": str(record.id),
        "at": record.at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "actor": record.actor,
        "key": record.key,
        "action": record.action,
        "old": _shown(record.old),
        "new": _shown(record.new),
    }


class AdminConfigState(SessionState):
    """Every handler is guarded for admins: a refused caller gets nothing loaded and nothing changed."""

    rows: list[dict[str, str]] = []
    env_rows: list[dict[str, str]] = []
    audit: list[dict[str, str]] = []
    message: str = ""
    error: str = ""
    error_key: str = ""

    def _reload(self) -> None:
        config = get_runtime_config()
        rows, env_rows = [], []
        for entry in config.entries():
            if entry.editable:
                rows.append(_row(entry, config.registry[entry.key].kind))
            else:
                env_rows.append(_row(entry, "env"))
        self.rows, self.env_rows = rows, env_rows
        self.audit = [_audit_row(record) for record in config.audit_log(limit=AUDIT_ROWS)]

    def _actor(self) -> Actor:
        principal = guard.current_principal()
        assert principal is not None  # the guard let only an admin in
        return Actor(f"{principal.display_name} <{principal.email}>", user_id=principal.user_id)

    def _change(self, key: str, value: object | None) -> None:
        config = get_runtime_config()
        try:
            if value is None:
                record = config.reset(key, actor=self._actor())
                self.message = (
                    f"{key} is back to its {config.source(key)} value." if record else f"{key} had no override."
                )
            else:
                record = config.set(key, value, actor=self._actor())
                self.message = f"{key} saved."
            self.error = self.error_key = ""
        except ConfigError as exc:
            self.error, self.error_key, self.message = f"{exc.key} {exc.reason}.", exc.key, ""
        self._reload()

    @rx.event
    @guard.requires(Role.admin)
    def load(self) -> None:
        self._show(guard.current_principal())
        self.message = self.error = self.error_key = ""
        self._reload()

    @rx.event
    @guard.requires(Role.admin)
    def save(self, form: dict[str, str]) -> None:
        fields = form if isinstance(form, dict) else {}
        self._change(str(fields.get("key", ""))[:64], str(fields.get("value", ""))[:2000])

    @rx.event
    @guard.requires(Role.admin)
    def toggle(self, key: str, checked: bool) -> None:
        self._change(str(key)[:64], checked is True)

    @rx.event
    @guard.requires(Role.admin)
    def reset_key(self, key: str) -> None:
        self._change(str(key)[:64], None)
