"""Catalog browsing and the adapter page: thin states over app.catalog (same functions as the API).

The catalog's query lives in the URL (/catalog?q=...&tag=...&page=2): the search form redirects
there and on_load reads it, so results can be linked, bookmarked and paged with plain links.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

import reflex as rx
from pydantic import ValidationError

from app.auth.guard import PUBLIC, requires
from app.catalog import registry, service
from app.catalog.schemas import AdapterCard, AdapterDetail, SearchParams
from app.catalog.search import facet_values, search_adapters
from app.db import session_scope
from app.models import Role
from app.storage import get_storage
from state.identity import current_actor


@dataclasses.dataclass
class CardRow:
    slug: str = ""
    title: str = ""
    summary: str = ""
    tags: list[str] = dataclasses.field(default_factory=list)
    task_type: str = ""
    license: str = ""
    rank: int = 0
    author_name: str = ""
    is_demo: bool = False
    status: str = ""
    download_count: int = 0
    favourite_count: int = 0
    href: str = ""


def card_row(card: AdapterCard) -> CardRow:
    return CardRow(
        slug=card.slug,
        title=card.title,
        summary=card.summary,
        tags=list(card.tags),
        task_type=card.task_type,
        license=card.license,
        rank=card.rank,
        author_name=card.author_name,
        is_demo=card.is_demo,
        status=card.status,
        download_count=card.download_count,
        favourite_count=card.favourite_count,
        href=f"/adapters/{card.slug}",
    )


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{n:,} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


class CatalogState(rx.State):
    q: str = ""
    tag: str = ""
    task: str = ""
    license: str = ""
    rank: str = ""
    sort: str = "popular"
    page: int = 1
    pages: int = 1
    total: int = 0
    items: list[CardRow] = []
    tag_options: list[str] = []
    task_options: list[str] = []
    license_options: list[str] = []
    rank_options: list[str] = []
    error: str = ""
    loaded: bool = False

    def _params(self) -> dict[str, str]:
        raw = {
            "q": self.q,
            "tag": self.tag,
            "task": self.task,
            "license": self.license,
            "rank": self.rank,
            "sort": self.sort if self.sort != "popular" else "",
        }
        return {k: v for k, v in raw.items() if v}

    @rx.var
    def has_filters(self) -> bool:
        return bool(self.q or self.tag or self.task or self.license or self.rank)

    @rx.var
    def prev_href(self) -> str:
        return "/catalog?" + urlencode({**self._params(), "page": max(1, self.page - 1)})

    @rx.var
    def next_href(self) -> str:
        return "/catalog?" + urlencode({**self._params(), "page": min(self.pages, self.page + 1)})

    @rx.event
    @requires(PUBLIC, reason="browsing the public catalog (published adapters only)")
    def load(self) -> None:
        query = dict(self.router.url.query_parameters)
        allowed = {k: v for k, v in query.items() if k in SearchParams.model_fields}
        self.error = ""
        try:
            params = SearchParams.model_validate(allowed)
        except ValidationError:
            params = SearchParams()
            self.error = "Some filters in the address were not valid and were ignored."
        with session_scope() as session:
            result = search_adapters(session, params)
            facets = facet_values(session)
        self.q, self.tag = params.q, params.tag or ""
        self.task, self.license = params.task or "", params.license or ""
        self.rank = str(params.rank) if params.rank else ""
        self.sort, self.page = params.sort, result.page
        self.pages, self.total = result.pages, result.total
        self.items = [card_row(card) for card in result.items]
        self.tag_options = facets.tags
        self.task_options = facets.task_types
        self.license_options = facets.licenses
        self.rank_options = [str(r) for r in facets.ranks]
        self.loaded = True

    @rx.var
    def tag_value(self) -> str:
        return self.tag or "any"

    @rx.var
    def task_value(self) -> str:
        return self.task or "any"

    @rx.var
    def license_value(self) -> str:
        return self.license or "any"

    @rx.var
    def rank_value(self) -> str:
        return self.rank or "any"

    @rx.event
    @requires(PUBLIC, reason="browsing the public catalog (published adapters only)")
    def set_q(self, value: str) -> None:
        self.q = value[:200]

    @rx.event
    @requires(PUBLIC, reason="browsing the public catalog (published adapters only)")
    def set_filter(self, name: str, value: str) -> rx.event.EventSpec | None:
        """A filter or the sort changed: apply it at once (the query box waits for Enter/Search)."""
        if name not in ("tag", "task", "license", "rank", "sort"):
            return None
        setattr(self, name, "" if value == "any" else value[:64])
        return self._go()

    def _go(self) -> rx.event.EventSpec:
        fields = self._params()
        return rx.redirect("/catalog" + ("?" + urlencode(fields) if fields else ""))

    @rx.event
    @requires(PUBLIC, reason="browsing the public catalog (published adapters only)")
    def search(self, form: dict) -> rx.event.EventSpec:
        form = form if isinstance(form, dict) else {}
        self.q = str(form.get("q", "") or "").strip()[:200]
        return self._go()

    @rx.event
    @requires(PUBLIC, reason="browsing the public catalog (published adapters only)")
    def clear(self) -> rx.event.EventSpec:
        return rx.redirect("/catalog")


@dataclasses.dataclass
class FileRow:
    role: str = ""
    format: str = ""
    filename: str = ""
    size: str = ""
    sha256: str = ""
    url: str = ""


@dataclasses.dataclass
class VersionRow:
    number: int = 0
    changelog: str = ""
    source_format: str = ""
    created: str = ""
    files: list[FileRow] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class MetaRow:
    label: str = ""
    value: str = ""


ROLE_LABELS = {
    "mediapipe-lora": "MediaPipe LoRA (what the browser loads)",
    "peft-weights": "PEFT weights (as uploaded)",
    "peft-config": "PEFT config (as uploaded)",
}


class AdapterPageState(rx.State):
    found: bool = False
    loaded: bool = False
    slug: str = ""
    title: str = ""
    summary: str = ""
    author_name: str = ""
    description_html: str = ""
    status: str = ""
    is_demo: bool = False
    tags: list[str] = []
    example_prompts: list[str] = []
    metadata: list[MetaRow] = []
    versions: list[VersionRow] = []
    download_count: int = 0
    favourite_count: int = 0
    moderation_reason: str = ""
    is_favourite: bool = False
    signed_in: bool = False
    base_note: str = ""

    @rx.var
    def chat_href(self) -> str:
        return f"/chat?adapter={self.slug}"

    def _slug_from_url(self) -> str:
        path = self.router.url.path.rstrip("/")
        return path.rsplit("/", 1)[-1] if path.startswith("/adapters/") else ""

    def _show(self, detail: AdapterDetail) -> None:
        self.found = True
        self.slug, self.title, self.summary = detail.slug, detail.title, detail.summary
        self.author_name = detail.author_name
        self.description_html = detail.description_html
        self.status, self.is_demo = detail.status, detail.is_demo
        self.tags, self.example_prompts = list(detail.tags), list(detail.example_prompts)
        self.download_count, self.favourite_count = detail.download_count, detail.favourite_count
        self.moderation_reason = detail.moderation_reason or ""
        gen = detail.generation
        self.metadata = [
            MetaRow("Base model", registry.ARCHITECTURES.get(detail.base_model, detail.base_model)),
            MetaRow("Task", detail.task_type),
            MetaRow("License", detail.license),
            MetaRow("Languages", ", ".join(detail.languages) or "—"),
            MetaRow("Rank", str(detail.rank)),
            MetaRow(
                "Alpha",
                "—" if detail.alpha is None else f"{detail.alpha:g}" + (" (rsLoRA)" if detail.use_rslora else ""),
            ),
            MetaRow("Target modules", ", ".join(detail.target_modules)),
            MetaRow(
                "Recommended settings",
                f"temperature {gen.temperature:g}, top-k {gen.top_k}, max tokens {gen.max_tokens}",
            ),
            MetaRow("Author", detail.author_name),
            MetaRow("Downloads", f"{detail.download_count:,}"),
        ]
        self.versions = [
            VersionRow(
                number=v.number,
                changelog=v.changelog,
                source_format="PEFT, converted by LoRA Studio" if v.source_format == "peft" else "MediaPipe .bin",
                created=v.created_at.strftime("%Y-%m-%d"),
                files=[
                    FileRow(
                        role=ROLE_LABELS.get(f.role, f.role),
                        format=f.format,
                        filename=f.filename,
                        size=human_size(f.size_bytes),
                        sha256=f.sha256,
                        url=f.url,
                    )
                    for f in v.files
                ],
            )
            for v in detail.versions
        ]

    @rx.event
    @requires(
        PUBLIC,
        reason="an adapter page; drafts and removed adapters only for their author and admins (checked in app.catalog.service)",
    )
    def load(self) -> None:
        self.loaded = False
        self.found = False
        slug = self._slug_from_url()
        actor = current_actor(self)
        self.signed_in = actor is not None
        try:
            with session_scope() as session:
                detail = service.with_file_urls(service.get_adapter(session, slug, actor=actor), get_storage())
                base = registry.active_base_model(session, architecture=detail.base_model)
                self.is_favourite = bool(actor) and service.is_favourite(session, slug=slug, user_id=actor.user_id)
        except service.CatalogError:
            self.loaded = True
            return
        self._show(detail)
        self.base_note = (
            f"Chat loads {base.title} ({human_size(base.size_bytes)}) once; the browser keeps it."
            if base
            else "No base model file is registered for this adapter yet: an admin must register it before chat works."
        )
        self.loaded = True

    @rx.event
    @requires(Role.user)
    def toggle_favourite(self) -> None:
        actor = current_actor(self)
        if actor is None or not self.slug:
            return
        try:
            with session_scope() as session:
                self.favourite_count = service.set_favourite(
                    session, slug=self.slug, actor=actor, favourite=not self.is_favourite
                )
        except service.CatalogError:
            return
        self.is_favourite = not self.is_favourite
