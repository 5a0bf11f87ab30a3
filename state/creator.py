"""Creators: upload (check + convert), describe, publish; and their own adapter list.

Thin: every action is one call into app.catalog.service with the caller resolved on the server
(state.identity.current_actor); the domain refuses what the caller may not do.
"""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx
from pydantic import ValidationError

from app.auth.guard import requires
from app.catalog import service
from app.catalog.errors import AdapterRejectedError
from app.catalog.intake import Upload
from app.catalog.schemas import LICENSES, TASK_TYPES, AdapterDetail, AdapterMetadata, GenerationSettings
from app.config import get_runtime_config
from app.db import session_scope
from app.models import Role
from app.storage import get_storage
from state.catalog import CardRow, card_row, human_size
from state.identity import current_actor

UPLOAD_ID = "adapter-upload"
VERSION_UPLOAD_ID = "version-upload"


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in err["loc"]) or "form"
    return f"{field.replace('_', ' ')}: {err['msg'].removeprefix('Value error, ')}"


@dataclasses.dataclass
class CheckRow:
    label: str = ""
    value: str = ""


class MetadataForm(rx.State):
    """The describe-your-adapter form, shared by the upload flow and the edit page."""

    title: str = ""
    summary: str = ""
    description_md: str = ""
    tags: str = ""
    task_type: str = "general"
    license: str = "apache-2.0"
    languages: str = "en"
    example_prompts: str = ""
    temperature: str = "0.8"
    top_k: str = "40"
    max_tokens: str = "1024"
    form_error: str = ""
    task_types: list[str] = list(TASK_TYPES)
    licenses: list[str] = list(LICENSES)

    def _fill(self, detail: AdapterDetail) -> None:
        self.title, self.summary, self.description_md = detail.title, detail.summary, detail.description_md
        self.tags = ", ".join(detail.tags)
        self.task_type, self.license = detail.task_type, detail.license
        self.languages = ", ".join(detail.languages)
        self.example_prompts = "\n".join(detail.example_prompts)
        gen = detail.generation
        self.temperature, self.top_k, self.max_tokens = f"{gen.temperature:g}", str(gen.top_k), str(gen.max_tokens)
        self.form_error = ""

    def _metadata(self) -> AdapterMetadata | None:
        try:
            return AdapterMetadata(
                title=self.title,
                summary=self.summary,
                description_md=self.description_md,
                tags=self.tags,  # type: ignore[arg-type]
                task_type=self.task_type,
                license=self.license,
                languages=self.languages,  # type: ignore[arg-type]
                example_prompts=[line.strip() for line in self.example_prompts.splitlines() if line.strip()],
                generation=GenerationSettings(
                    temperature=float(self.temperature or 0.8),
                    top_k=int(self.top_k or 40),
                    max_tokens=int(self.max_tokens or 1024),
                ),
            )
        except ValidationError as exc:
            self.form_error = _first_error(exc)
        except ValueError:
            self.form_error = "temperature, top-k and max tokens must be numbers"
        return None

    @rx.event
    @requires(Role.creator)
    def set_field(self, name: str, value: str) -> None:
        if name in {
            "title", "summary", "description_md", "tags", "task_type", "license", "languages",
            "example_prompts", "temperature", "top_k", "max_tokens",
        }:  # fmt: skip
            setattr(self, name, str(value)[:20_000])


class CreatorUploadState(MetadataForm):
    base_model: str = "gemma2-2b"
    busy: bool = False
    error: str = ""
    slug: str = ""
    status: str = ""
    checks: list[CheckRow] = []
    saved_message: str = ""
    signed_in: bool = False
    is_creator: bool = False

    @rx.var
    def adapter_href(self) -> str:
        return f"/adapters/{self.slug}" if self.slug else ""

    @rx.event
    @requires(Role.creator)
    def load(self) -> None:
        actor = current_actor(self)
        self.signed_in = actor is not None
        self.is_creator = actor is not None and actor.is_creator
        self.busy, self.error, self.slug, self.status, self.checks, self.saved_message = False, "", "", "", [], ""
        self.title = ""

    @rx.event
    @requires(Role.creator)
    def set_base_model(self, value: str) -> None:
        self.base_model = value if value in ("gemma2-2b", "tiny-gemma2") else "gemma2-2b"

    @rx.event
    @requires(Role.creator)
    async def handle_upload(self, files: list[rx.UploadFile]):  # noqa: ANN201
        """Check and convert the files, then create a draft: the page shows each step's result."""
        self.error, self.checks, self.slug, self.saved_message = "", [], "", ""
        actor = current_actor(self)
        if actor is None or not actor.is_creator:
            self.error = "Only creators can upload adapters."
            return
        if not files or not isinstance(files, list):
            self.error = "Choose adapter_config.json + adapter_model.safetensors, one zip, or one .bin first."
            return
        names = [f.filename or f"file{i}" for i, f in enumerate(files)]
        title = self.title.strip() or _title_from(names)
        self.busy = True
        yield
        uploads = [Upload(name, f.file) for name, f in zip(names, files)]

        def run() -> AdapterDetail:
            with session_scope() as session:
                return service.upload_adapter(
                    session,
                    uploads=uploads,
                    storage=get_storage(),
                    actor=actor,
                    metadata=AdapterMetadata(title=title[:120]),
                    base_model=self.base_model,
                    config=get_runtime_config(),
                )

        try:
            detail = await asyncio.to_thread(run)
        except (AdapterRejectedError, service.CatalogError) as exc:
            self.error = str(exc)
            self.busy = False
            return
        self.busy = False
        self._show_checks(detail, names)
        self._fill(detail)
        self.slug, self.status = detail.slug, detail.status

    def _show_checks(self, detail: AdapterDetail, names: list[str]) -> None:
        version = detail.versions[0]
        lora = next(f for f in version.files if f.role == "mediapipe-lora")
        source = "Hugging Face PEFT adapter" if version.source_format == "peft" else "MediaPipe LoRA .bin"
        rows = [
            CheckRow("Uploaded", ", ".join(names)),
            CheckRow("Recognised as", source),
            CheckRow("Base model", "Gemma2-2b" if detail.base_model == "gemma2-2b" else "Tiny Gemma2 (demo)"),
            CheckRow("Rank", str(detail.rank)),
            CheckRow(
                "Alpha",
                "—" if detail.alpha is None else f"{detail.alpha:g}" + (" (rsLoRA)" if detail.use_rslora else ""),
            ),
            CheckRow("Target modules", ", ".join(detail.target_modules)),
        ]
        if version.source_format == "peft":
            rows.append(CheckRow("Conversion", f"converted to a MediaPipe LoRA .bin of {human_size(lora.size_bytes)}"))
        rows.append(CheckRow("Browser file sha256", lora.sha256))
        self.checks = rows

    def _save(self, publish: bool) -> None:
        self.form_error, self.saved_message = "", ""
        actor = current_actor(self)
        if actor is None or not self.slug:
            self.form_error = "Upload an adapter first."
            return
        metadata = self._metadata()
        if metadata is None:
            return
        try:
            with session_scope() as session:
                config = get_runtime_config()
                detail = service.update_metadata(session, slug=self.slug, actor=actor, metadata=metadata, config=config)
                if publish:
                    detail = service.publish(session, slug=self.slug, actor=actor, config=config)
        except service.CatalogError as exc:
            self.form_error = exc.message
            return
        self.status = detail.status
        self.saved_message = SAVED_MESSAGES.get(detail.status, "Draft saved.") if publish else "Draft saved."

    @rx.event
    @requires(Role.creator)
    def save_draft(self) -> None:
        self._save(False)

    @rx.event
    @requires(Role.creator)
    def publish(self) -> None:
        self._save(True)


PENDING_MESSAGE = "Sent for review: a moderator publishes it once approved."
SAVED_MESSAGES = {"published": "Published: it is in the catalog now.", "pending": PENDING_MESSAGE}


def _title_from(names: list[str]) -> str:
    stem = names[0].rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if stem in ("adapter_config", "adapter_model") and len(names) > 1:
        return "New adapter"
    return stem.replace("_", " ").replace("-", " ").strip().capitalize() or "New adapter"


@dataclasses.dataclass
class MyAdapterRow:
    card: CardRow = dataclasses.field(default_factory=CardRow)
    moderation_reason: str = ""


class CreatorAdaptersState(rx.State):
    rows: list[MyAdapterRow] = []
    signed_in: bool = False
    message: str = ""

    @rx.event
    @requires(Role.creator)
    def load(self) -> None:
        actor = current_actor(self)
        self.signed_in = actor is not None
        self.rows = []
        if actor is None:
            return
        with session_scope() as session:
            cards = service.adapters_by_author(session, author_id=actor.user_id)
            self.rows = [
                MyAdapterRow(
                    card=card_row(c), moderation_reason=service.moderation_reason_for(session, slug=c.slug) or ""
                )
                for c in cards
            ]

    @rx.event
    @requires(Role.creator)
    def set_status(self, slug: str, status: str) -> None:
        actor = current_actor(self)
        if actor is None:
            self.message = "Sign in first."
            return
        try:
            with session_scope() as session:
                detail = service.set_status(session, slug=slug, actor=actor, status=status, config=get_runtime_config())
        except service.CatalogError as exc:
            self.message = exc.message
            return
        self.message = {
            "published": "Published.",
            "pending": PENDING_MESSAGE,
            "unlisted": "Unlisted: only people with the link see it.",
            "draft": "Back to draft.",
        }.get(detail.status, "")
        self.load()


class EditAdapterState(MetadataForm):
    slug: str = ""
    found: bool = False
    saved_message: str = ""

    @rx.event
    @requires(Role.creator)
    def load(self) -> None:
        self.saved_message, self.found = "", False
        path = self.router.url.path.rstrip("/")
        self.slug = path.rsplit("/", 2)[-2] if path.endswith("/edit") else ""
        actor = current_actor(self)
        if actor is None or not self.slug:
            return
        try:
            with session_scope() as session:
                detail = service.get_adapter(session, self.slug, actor=actor)
        except service.CatalogError:
            return
        if detail.author_id != actor.user_id:
            return
        self._fill(detail)
        self.found = True

    @rx.event
    @requires(Role.creator)
    def save(self) -> None:
        actor = current_actor(self)
        metadata = self._metadata()
        if actor is None or metadata is None:
            self.form_error = self.form_error or "Sign in first."
            return
        try:
            with session_scope() as session:
                service.update_metadata(
                    session, slug=self.slug, actor=actor, metadata=metadata, config=get_runtime_config()
                )
        except service.CatalogError as exc:
            self.form_error = exc.message
            return
        self.saved_message = "Saved."

    changelog: str = ""
    version_message: str = ""
    version_error: str = ""
    busy: bool = False

    @rx.event
    @requires(Role.creator)
    def set_changelog(self, value: str) -> None:
        self.changelog = str(value)[:2000]

    @rx.event
    @requires(Role.creator)
    async def upload_version(self, files: list[rx.UploadFile]):  # noqa: ANN201
        """A new version of this adapter: same checks and conversion as a first upload."""
        self.version_message, self.version_error = "", ""
        actor = current_actor(self)
        if actor is None or not self.slug:
            self.version_error = "Sign in first."
            return
        if not files or not isinstance(files, list):
            self.version_error = "Choose the new version's files first."
            return
        if not self.changelog.strip():
            self.version_error = "Say what changed in this version."
            return
        self.busy = True
        yield
        uploads = [Upload(f.filename or f"file{i}", f.file) for i, f in enumerate(files)]

        def run() -> AdapterDetail:
            with session_scope() as session:
                return service.add_version(
                    session,
                    slug=self.slug,
                    uploads=uploads,
                    storage=get_storage(),
                    actor=actor,
                    changelog=self.changelog,
                    config=get_runtime_config(),
                )

        try:
            detail = await asyncio.to_thread(run)
        except (AdapterRejectedError, service.CatalogError) as exc:
            self.version_error = str(exc)
        else:
            self.version_message = f"Version {detail.versions[0].number} added (rank {detail.rank})." + (
                " " + PENDING_MESSAGE if detail.status == "pending" else ""
            )
            self.changelog = ""
        finally:
            self.busy = False
