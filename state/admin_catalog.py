"""Admin: moderate adapters, register base model files (path, URL; uploads go through the JSON API)."""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from app.auth.guard import requires
from app.catalog import registry, service
from app.db import session_scope
from app.models import Role
from app.storage import get_storage
from state.catalog import CardRow, card_row, human_size
from state.identity import current_actor


@dataclasses.dataclass
class ModerationRow:
    card: CardRow = dataclasses.field(default_factory=CardRow)
    reason: str = ""


STATUS_FILTERS = ("pending", "published", "unlisted", "draft", "removed", "all")


class ModerationState(rx.State):
    rows: list[ModerationRow] = []
    status_filter: str = "published"
    is_admin: bool = False
    reasons: dict[str, str] = {}
    message: str = ""
    error: str = ""

    @rx.event
    @requires(Role.admin)
    def load(self) -> None:
        actor = current_actor(self)
        self.is_admin = actor is not None and actor.is_admin
        self.rows = []
        if not self.is_admin:
            return
        status = None if self.status_filter == "all" else self.status_filter
        with session_scope() as session:
            cards = service.adapters_for_moderation(session, status=status)
            self.rows = [
                ModerationRow(card=card_row(c), reason=service.moderation_reason_for(session, slug=c.slug) or "")
                for c in cards
            ]

    @rx.event
    @requires(Role.admin)
    def set_status_filter(self, value: str) -> None:
        self.status_filter = value if value in STATUS_FILTERS else "published"
        self.load()

    @rx.event
    @requires(Role.admin)
    def set_reason(self, slug: str, value: str) -> None:
        self.reasons = {**self.reasons, slug: value[:2000]}

    @rx.event
    @requires(Role.admin)
    def moderate(self, slug: str, action: str) -> None:
        self.message, self.error = "", ""
        actor = current_actor(self)
        if actor is None:
            self.error = "Sign in as an admin."
            return
        try:
            with session_scope() as session:
                service.moderate(session, slug=slug, actor=actor, action=action, reason=self.reasons.get(slug, ""))
        except service.CatalogError as exc:
            self.error = exc.message
            return
        self.message = {
            "approve": "Approved and published",
            "unpublish": "Unpublished",
            "remove": "Removed",
            "restore": "Restored to draft",
        }[action] + f": {slug}"
        self.load()


@dataclasses.dataclass
class BaseRow:
    name: str = ""
    title: str = ""
    architecture: str = ""
    size: str = ""
    sha256: str = ""
    source: str = ""
    license_note: str = ""
    is_active: bool = True
    is_demo: bool = False
    url: str = ""


class BaseModelsState(rx.State):
    rows: list[BaseRow] = []
    is_admin: bool = False
    busy: bool = False
    message: str = ""
    error: str = ""
    import_dirs: str = ""

    @rx.event
    @requires(Role.admin)
    def load(self) -> None:
        from app.settings import get_settings

        actor = current_actor(self)
        self.is_admin = actor is not None and actor.is_admin
        self.rows = []
        self.import_dirs = ", ".join(str(d) for d in get_settings().effective_import_dirs)
        if not self.is_admin:
            return
        with session_scope() as session:
            self.rows = [
                BaseRow(
                    name=m.name,
                    title=m.title,
                    architecture=registry.ARCHITECTURES.get(m.architecture, m.architecture),
                    size=human_size(m.size_bytes),
                    sha256=m.sha256,
                    source=m.source,
                    license_note=m.license_note,
                    is_active=m.is_active,
                    is_demo=m.is_demo,
                    url=m.url,
                )
                for m in registry.list_base_models(session, storage=get_storage(), active_only=False)
            ]

    def _fields(self, form: dict) -> dict[str, str]:
        return {
            "name": str(form.get("name", "")).strip(),
            "title": str(form.get("title", "")).strip(),
            "architecture": str(form.get("architecture", "gemma2-2b")),
            "license_note": str(form.get("license_note", "")),
        }

    async def _register(self, how: str, form: dict):  # noqa: ANN202
        self.message, self.error = "", ""
        form = form if isinstance(form, dict) else {}
        actor = current_actor(self)
        if actor is None:
            self.error = "Sign in as an admin."
            return
        fields = self._fields(form)
        self.busy = True
        yield

        def run() -> str:
            with session_scope() as session:
                if how == "path":
                    out = registry.register_from_path(
                        session, path=str(form.get("path", "")), storage=get_storage(), actor=actor, **fields
                    )
                else:
                    out = registry.register_from_url(
                        session,
                        url=str(form.get("url", "")).strip(),
                        expected_sha256=str(form.get("sha256", "")),
                        storage=get_storage(),
                        actor=actor,
                        **fields,
                    )
            return f"Registered {out.name} ({human_size(out.size_bytes)}, sha256 {out.sha256[:16]}…)"

        try:
            self.message = await asyncio.to_thread(run)
        except registry.BaseModelError as exc:
            self.error = exc.message
        finally:
            self.busy = False
        self.load()

    @rx.event
    @requires(Role.admin)
    async def register_path(self, form: dict):  # noqa: ANN201
        async for update in self._register("path", form):
            yield update

    @rx.event
    @requires(Role.admin)
    async def register_url(self, form: dict):  # noqa: ANN201
        async for update in self._register("url", form):
            yield update

    @rx.event
    @requires(Role.admin)
    def set_active(self, name: str, active: bool) -> None:
        actor = current_actor(self)
        if actor is None:
            return
        try:
            with session_scope() as session:
                registry.set_base_model_active(session, name=name, active=active, actor=actor)
        except registry.BaseModelError as exc:
            self.error = exc.message
        self.load()

    @rx.event
    @requires(Role.admin)
    def upload_done(self, name: str) -> None:
        """The resumable-upload component finished (it talks to the JSON API itself)."""
        self.message = f"Registered {name[:80]}"
        self.load()
