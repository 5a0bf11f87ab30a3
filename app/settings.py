"""One typed settings object for the whole app.

Values come from built-in defaults, then the environment and an optional `.env` file. The
defaults are the embedded topology (SQLite file, no Redis, local files), so a fresh checkout
runs with nothing configured. A bad value stops start-up with a message naming the setting.
"""

from __future__ import annotations

import functools
import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
_DB_DRIVERS = {"sqlite", "postgresql", "postgresql+psycopg"}


class SettingsError(SystemExit):
    """Start-up stops with this: its message names the setting at fault."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where the embedded database, secret key and files live.")
    database_url: str = Field("", description="SQLAlchemy URL; default: SQLite file under DATA_DIR.")
    redis_url: str | None = Field(None, description="redis://host:port/db; unset: in-process cache.")
    storage_backend: Literal["local", "s3"] = "local"
    storage_dir: Path | None = Field(None, description="Local file store; default: DATA_DIR/files.")
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_key_prefix: str = Field("files/", description="Prefix of every object key in the bucket.")
    s3_presign_expiry_s: int = Field(600, ge=1, le=604_800, description="Lifetime of presigned GET URLs.")
    s3_multipart_threshold_bytes: int = Field(64 * 1024**2, ge=5 * 1024**2, description="Multipart above this size.")
    s3_multipart_chunk_bytes: int = Field(16 * 1024**2, ge=5 * 1024**2, description="Part size of multipart uploads.")
    cdn_base_url: str | None = Field(None, description="Public files are linked here (e.g. CloudFront) instead.")
    max_adapter_upload_bytes: int = Field(256 * 1024**2, ge=1, description="Largest adapter upload (file or zip).")
    max_base_model_bytes: int = Field(8 * 1024**3, ge=1, description="Largest base model file.")
    lora_ranks: list[int] = Field([4, 8, 16], description="LoRA ranks declared to the runtime (loraRanks).")
    secret_key: SecretStr | None = Field(None, description="Unset: generated once into DATA_DIR/secret_key.")
    public_base_url: AnyHttpUrl = AnyHttpUrl("http://localhost:3000")
    mediapipe_wasm_dir: Path | None = Field(None, description="Override where the runtime's wasm files are read.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # Operations (app/observability): logs, metrics, health checks.
    log_format: Literal["json", "text"] = Field(
        "text", description="json: one JSON object per line for ELK/Loki (the image's default); text: a terminal."
    )
    access_log: bool = Field(True, description="Log one line per HTTP request and websocket session.")
    metrics_token: SecretStr | None = Field(None, description="Bearer token for GET /metrics; unset: /metrics is off.")
    health_timeout_s: float = Field(2.0, gt=0, le=30, description="Readiness gives up on a dependency after this.")
    db_connect_timeout_s: int = Field(5, ge=1, le=60, description="PostgreSQL connect timeout (no hanging requests).")
    db_pool_size: int = Field(10, ge=1, le=200, description="PostgreSQL connections kept per worker process.")
    db_max_overflow: int = Field(20, ge=0, le=200, description="Extra connections per worker under load.")

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value:
            return value
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL ({exc})") from None
        if url.drivername not in _DB_DRIVERS:
            raise ValueError(f"unsupported driver {url.drivername!r}; use sqlite:/// or postgresql+psycopg://")
        if url.drivername.startswith("postgresql") and url.drivername != "postgresql+psycopg":
            value = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("cdn_base_url")
    @classmethod
    def _check_cdn_base_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// or http://")
        return value.rstrip("/")

    @field_validator("s3_key_prefix")
    @classmethod
    def _check_key_prefix(cls, value: str) -> str:
        if value and (value.startswith("/") or ".." in value.split("/") or not value.endswith("/")):
            raise ValueError("must be empty or a relative path ending in '/', without '..'")
        return value

    @field_validator("lora_ranks")
    @classmethod
    def _check_lora_ranks(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("needs at least one rank")
        bad = [r for r in value if r <= 0 or r % 4 or r > 256]
        if bad:
            raise ValueError(f"ranks must be multiples of 4 between 4 and 256 (4x4 tiles), got {bad}")
        return sorted(set(value))

    @model_validator(mode="after")
    def _check_storage(self) -> Settings:
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'lorastudio.db').resolve()}"

    @property
    def effective_storage_dir(self) -> Path:
        return (self.storage_dir or self.data_dir / "files").resolve()

    @property
    def effective_staging_dir(self) -> Path:
        """Uploads land here while they are hashed and checked; same filesystem as local storage."""
        return self.effective_storage_dir / ".staging"

    @property
    def secure_cookies(self) -> bool:
        return str(self.public_base_url).startswith("https://")

    def secret(self) -> str:
        """The signing secret: from the environment, else generated once and kept in DATA_DIR."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return _persisted_secret(self.data_dir.resolve())


def _persisted_secret(data_dir: Path) -> str:
    path = data_dir / SECRET_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def load_settings(**overrides: object) -> Settings:
    """Read settings; turn a validation error into one message that names each bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]).upper() or "settings"
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("Invalid configuration: " + "; ".join(problems)) from None


@functools.cache
def get_settings() -> Settings:
    return load_settings()
