"""What the catalog's domain functions take and return: plain, validated, JSON-ready objects.

The same models are the JSON API's bodies and its OpenAPI schemas, and what the cache stores,
so a page, a script and the cache never disagree about the shape of an adapter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TASK_TYPES = (
    "general",
    "chat",
    "code",
    "writing",
    "summarization",
    "translation",
    "classification",
    "extraction",
    "roleplay",
    "education",
    "other",
)
LICENSES = (
    "apache-2.0",
    "mit",
    "cc-by-4.0",
    "cc-by-sa-4.0",
    "cc-by-nc-4.0",
    "cc0-1.0",
    "gemma",
    "other",
)
SORTS = ("popular", "newest", "favourites")
Sort = Literal["popular", "newest", "favourites"]
StatusName = Literal["draft", "pending", "published", "unlisted", "removed"]
MAX_TAGS = 10
MAX_PROMPTS = 10
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_LANG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")


@dataclass(frozen=True)
class Actor:
    """Who is calling a domain function; the guard builds it from the server-side session."""

    user_id: int
    is_admin: bool = False
    is_creator: bool = False

    @classmethod
    def from_role(cls, user_id: int, role: str) -> Actor:
        """Roles are ordered user < creator < admin: an admin may do what a creator may."""
        return cls(user_id=user_id, is_admin=role == "admin", is_creator=role in ("creator", "admin"))


class GenerationSettings(BaseModel):
    """Recommended settings for the in-browser engine (MediaPipe LlmInference options)."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.8, ge=0.0, le=2.0)
    top_k: int = Field(40, ge=1, le=100)
    max_tokens: int = Field(1024, ge=16, le=8192)


class AdapterMetadata(BaseModel):
    """What a creator writes about an adapter; validated before it reaches the database."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=120)
    summary: str = Field("", max_length=300)
    description_md: str = Field("", max_length=20_000)
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    task_type: str = "general"
    languages: list[str] = Field(default_factory=lambda: ["en"], max_length=10)
    license: str = "apache-2.0"
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    example_prompts: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=MAX_PROMPTS
    )

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,\s]+", value) if part]
        if isinstance(value, list):
            cleaned = list(dict.fromkeys(str(tag).strip().lower().lstrip("#") for tag in value if str(tag).strip()))
            bad = [tag for tag in cleaned if not _TAG.match(tag)]
            if bad:
                raise ValueError(f"tags are lower-case letters, digits and '-', up to 40 characters: {bad[0]!r}")
            return cleaned
        return value

    @field_validator("languages", mode="before")
    @classmethod
    def _languages(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,\s]+", value) if part]
        if isinstance(value, list):
            cleaned = list(dict.fromkeys(str(lang).strip().lower() for lang in value if str(lang).strip()))
            bad = [lang for lang in cleaned if not _LANG.match(lang)]
            if bad:
                raise ValueError(f"languages are ISO 639 codes such as 'en' or 'pt-br': {bad[0]!r}")
            return cleaned
        return value

    @field_validator("task_type")
    @classmethod
    def _task(cls, value: str) -> str:
        if value not in TASK_TYPES:
            raise ValueError(f"task type must be one of {', '.join(TASK_TYPES)}")
        return value

    @field_validator("license")
    @classmethod
    def _license(cls, value: str) -> str:
        if value not in LICENSES:
            raise ValueError(f"license must be one of {', '.join(LICENSES)}")
        return value


class AdapterCard(BaseModel):
    """One search result."""

    slug: str
    title: str
    summary: str
    tags: list[str]
    task_type: str
    license: str
    base_model: str
    rank: int
    author_name: str
    status: StatusName
    is_demo: bool
    download_count: int
    favourite_count: int
    created_at: datetime
    updated_at: datetime


class AdapterFileOut(BaseModel):
    role: Literal["mediapipe-lora", "peft-weights", "peft-config"]
    format: str
    filename: str
    size_bytes: int
    sha256: str
    url: str = Field("", description="Where to download it: this app's /files/ route, or a presigned/CDN URL.")


class AdapterVersionOut(BaseModel):
    number: int
    changelog: str
    source_format: Literal["peft", "mediapipe"]
    created_at: datetime
    files: list[AdapterFileOut]


class AdapterDetail(AdapterCard):
    author_id: int
    description_md: str
    description_html: str = Field(description="The model card, rendered and sanitized (no script, no handlers).")
    languages: list[str]
    alpha: float | None
    use_rslora: bool
    target_modules: list[str]
    generation: GenerationSettings
    example_prompts: list[str]
    moderation_reason: str | None = Field(None, description="Shown to the author and admins only.")
    published_at: datetime | None
    versions: list[AdapterVersionOut]

    @property
    def lora_file(self) -> AdapterFileOut | None:
        for version in self.versions[:1]:
            for item in version.files:
                if item.role == "mediapipe-lora":
                    return item
        return None


class RunnableAdapter(BaseModel):
    """A published adapter as the chat loads it: its runtime file and generation defaults."""

    slug: str
    title: str
    rank: int
    generation: GenerationSettings
    file: AdapterFileOut


class RunnableAdapters(BaseModel):
    base_model: str
    items: list[RunnableAdapter]


class SearchPage(BaseModel):
    items: list[AdapterCard]
    total: int
    page: int
    per_page: int
    pages: int


class SearchParams(BaseModel):
    """A catalog query; `pages` and the API accept exactly these."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    q: str = Field("", max_length=200)
    tag: str | None = Field(None, max_length=40)
    task: str | None = Field(None, max_length=32)
    license: str | None = Field(None, max_length=64)
    rank: int | None = Field(None, ge=1, le=256)
    sort: Sort = "popular"
    page: int = Field(1, ge=1, le=10_000)
    per_page: int = Field(24, ge=1, le=100)

    @field_validator("tag", "task", "license", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("q", "tag")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        # NUL and other control characters can never match and PostgreSQL refuses NUL outright.
        return None if value is None else "".join(ch for ch in value if ch.isprintable())

    @field_validator("task")
    @classmethod
    def _known_task(cls, value: str | None) -> str | None:
        if value is not None and value not in TASK_TYPES:
            raise ValueError(f"task must be one of {', '.join(TASK_TYPES)}")
        return value

    @field_validator("license")
    @classmethod
    def _known_license(cls, value: str | None) -> str | None:
        if value is not None and value not in LICENSES:
            raise ValueError(f"license must be one of {', '.join(LICENSES)}")
        return value


class BaseModelOut(BaseModel):
    name: str
    title: str
    architecture: str
    sha256: str
    size_bytes: int
    license_note: str
    source: str
    is_active: bool
    is_demo: bool
    created_at: datetime
    url: str = ""


class FacetValues(BaseModel):
    """What the catalog's filters can offer (tags in use, task types, licenses, ranks)."""

    tags: list[str]
    task_types: list[str]
    licenses: list[str]
    ranks: list[int]
