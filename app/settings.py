"""One typed settings object for the whole app.

Values come from built-in defaults, then the environment and an optional `.env` file. The
defaults are the embedded topology (SQLite file, no Redis, local files), so a fresh checkout
runs with nothing configured. A bad value stops start-up with a message naming the setting.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError as PydanticSettingsError
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


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|seconds|m|min|minute|minutes|h|hour|hours)?\s*$")
_UNITS = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60, "minutes": 60}
_UNITS |= {"h": 3600, "hour": 3600, "hours": 3600}


class Rate(BaseModel, frozen=True):
    """A sliding-window limit: at most `limit` hits in any `window_s` seconds.

    Written in settings as "10/minute", "5/15minutes", "100/3600s" or "10/60".
    """

    limit: int = Field(ge=1)
    window_s: int = Field(ge=1)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if isinstance(value, str):
            match = _RATE.match(value)
            if not match:
                raise ValueError(f"not a rate like '10/minute': {value!r}")
            count, multiple, unit = match.groups()
            return {"limit": int(count), "window_s": int(multiple or 1) * _UNITS[unit or "s"]}
        return value

    def __str__(self) -> str:
        return f"{self.limit}/{self.window_s}s"


RateSetting = Annotated[Rate, NoDecode]


class OIDCProviderConfig(BaseModel, frozen=True):
    """One sign-in provider. `kind` picks a preset; `generic` needs `issuer` (discovery + JWKS)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="Used in URLs: /auth/oidc/NAME/...")
    kind: Literal["generic", "google", "github"] = "generic"
    label: str = ""
    issuer: str | None = None
    client_id: str
    client_secret: SecretStr | None = None
    scopes: str = ""

    @model_validator(mode="after")
    def _check(self) -> OIDCProviderConfig:
        if self.kind == "generic" and not self.issuer:
            raise ValueError(f"provider {self.name!r}: kind=generic needs an issuer URL")
        return self

    @property
    def display_label(self) -> str:
        return self.label or {"google": "Google", "github": "GitHub"}.get(self.kind, self.name.title())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_nested_delimiter="__"
    )

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
    base_model_import_dirs: list[Path] | None = Field(
        None, description="Folders an admin may register base model files from by path; default DATA_DIR/import."
    )
    seed_demo_catalog: bool = Field(True, description="Seed the demo adapters (tiny model family) on first start.")
    lora_ranks: list[int] = Field([4, 8, 16], description="LoRA ranks declared to the runtime (loraRanks).")
    secret_key: SecretStr | None = Field(None, description="Unset: generated once into DATA_DIR/secret_key.")
    public_base_url: AnyHttpUrl = AnyHttpUrl("http://localhost:3000")
    mediapipe_wasm_dir: Path | None = Field(None, description="Override where the runtime's wasm files are read.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    trusted_proxy_hops: int = Field(0, ge=0, description="Reverse proxies in front; 0 ignores X-Forwarded-For.")

    # Accounts and sessions (app/auth).
    session_idle_timeout_s: int = Field(3 * 86400, ge=60, description="Sign out after this long without a request.")
    session_absolute_timeout_s: int = Field(30 * 86400, ge=60, description="Sign out this long after sign-in.")
    signup_enabled: bool = True
    signup_default_role: Literal["user", "creator"] = "user"
    password_min_length: int = Field(10, ge=8, le=128)
    argon2_time_cost: int = Field(2, ge=1, description="argon2id passes; hashes are upgraded on sign-in.")
    argon2_memory_kib: int = Field(65536, ge=8192, description="argon2id memory in KiB (64 MiB).")
    argon2_parallelism: int = Field(1, ge=1, le=16)
    first_admin_email: str | None = Field(None, description="With FIRST_ADMIN_PASSWORD: created at first start.")
    first_admin_password: SecretStr | None = None

    # Rate limits (sliding windows; Redis when configured, else per process).
    rate_limit_signin: RateSetting = Field(Rate(limit=10, window_s=60), description="Sign-in attempts per client IP.")
    rate_limit_signin_failures: RateSetting = Field(
        Rate(limit=10, window_s=900), description="Failed sign-ins per account from browsers it has not seen."
    )
    rate_limit_signup: RateSetting = Field(Rate(limit=10, window_s=3600), description="Sign-ups per client IP.")
    rate_limit_password: RateSetting = Field(Rate(limit=10, window_s=3600), description="Password changes per account.")
    rate_limit_api: RateSetting = Field(Rate(limit=300, window_s=60), description="JSON API requests per user (or IP).")

    # OpenID Connect / OAuth2 sign-in.
    oidc_providers: list[OIDCProviderConfig] = Field(default_factory=list, description="JSON list of providers.")
    oidc_link_verified_email: bool = Field(
        False, description="Link a new provider identity to an existing account with the same, verified email."
    )

    # Content-Security-Policy.
    csp_connect_src: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra origins the browser may fetch (comma-separated)."
    )
    csp_allow_eval: bool = Field(
        True,
        description="Allow 'unsafe-eval': Reflex runs client actions sent by event handlers (rx.toast, "
        "rx.call_script, rx.set_clipboard returned from a handler) through eval. False is stricter.",
    )
    config: dict[str, str] = Field(
        default_factory=dict,
        description="Environment layer of the run-time keys (app/config/keys.py): CONFIG__BANNER_TEXT=Hello.",
    )

    # Operations (app/observability): logs, metrics, health checks.
    log_format: Literal["json", "text"] = Field(
        "text", description="json: one JSON object per line for ELK/Loki (the image's default); text: a terminal."
    )
    access_log: bool = Field(True, description="Log one line per HTTP request and websocket session.")
    metrics_token: SecretStr | None = Field(None, description="Bearer token for GET /metrics; unset: /metrics is off.")
    health_timeout_s: float = Field(2.0, gt=0, le=30, description="Readiness gives up on a dependency after this.")
    health_cache_s: float = Field(1.0, ge=0, le=30, description="Readiness reuses its last result this long.")
    db_connect_timeout_s: int = Field(5, ge=1, le=60, description="PostgreSQL connect timeout (no hanging requests).")
    db_pool_size: int = Field(10, ge=1, le=200, description="PostgreSQL connections kept per worker process.")
    db_max_overflow: int = Field(20, ge=0, le=200, description="Extra connections per worker under load.")

    # Analytics ingest (rate limit: RATE_LIMIT_API; on/off and retention: run-time config).
    analytics_max_batch_events: int = Field(200, ge=1, le=10_000, description="Events per ingest request.")
    analytics_max_body_bytes: int = Field(256 * 1024, ge=1024, description="Request body as sent (maybe gzip).")
    analytics_max_decompressed_bytes: int = Field(1024 * 1024, ge=1024, description="Body after gunzip.")
    analytics_queue_capacity: int = Field(200_000, ge=100, description="Accepted events waiting to be written.")
    analytics_flush_max_events: int = Field(5000, ge=1, description="Writer batch size.")
    analytics_flush_interval_s: float = Field(1.0, gt=0, le=60, description="Longest wait before a batch is written.")
    analytics_shutdown_timeout_s: float = Field(60.0, gt=0, description="Time to drain the queue on shutdown.")
    analytics_min_samples: int = Field(20, ge=1, description="Samples before a public speed figure is shown.")
    analytics_min_sessions: int = Field(
        5, ge=1, description="Distinct chat sessions (per day, summed) before a public speed figure is shown."
    )

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

    @field_validator("csp_connect_src", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for origin in value if isinstance(value, list) else []:
            if not re.match(r"^(https?|wss?)://[A-Za-z0-9.\-\[\]:*]+$", str(origin)):
                raise ValueError(f"not an origin like https://files.example.com: {origin!r}")
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
    def _check_config_layer(self) -> Settings:
        from app.config.keys import environment_layer  # local: app.config reads this module

        environment_layer(self)
        return self

    @model_validator(mode="after")
    def _check_storage(self) -> Settings:
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        return self

    @model_validator(mode="after")
    def _check_auth(self) -> Settings:
        if self.session_absolute_timeout_s < self.session_idle_timeout_s:
            raise ValueError("SESSION_ABSOLUTE_TIMEOUT_S must be at least SESSION_IDLE_TIMEOUT_S")
        names = [provider.name for provider in self.oidc_providers]
        if len(names) != len(set(names)):
            raise ValueError("OIDC_PROVIDERS: provider names must be unique")
        if bool(self.first_admin_email) != bool(self.first_admin_password):
            raise ValueError("FIRST_ADMIN_EMAIL and FIRST_ADMIN_PASSWORD go together")
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
    def effective_import_dirs(self) -> list[Path]:
        dirs = self.base_model_import_dirs if self.base_model_import_dirs is not None else [self.data_dir / "import"]
        return [d.resolve() for d in dirs]

    @property
    def secure_cookies(self) -> bool:
        return str(self.public_base_url).startswith("https://")

    @property
    def public_origin(self) -> str:
        url = self.public_base_url
        port = f":{url.port}" if url.port and url.port not in (80, 443) else ""
        return f"{url.scheme}://{url.host}{port}"

    def oidc_provider(self, name: str) -> OIDCProviderConfig | None:
        return next((provider for provider in self.oidc_providers if provider.name == name), None)

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
    except PydanticSettingsError as exc:
        raise SettingsError(f"Invalid configuration: {exc} ({exc.__cause__})") from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]).upper() or "settings"
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("Invalid configuration: " + "; ".join(problems)) from None


@functools.cache
def get_settings() -> Settings:
    return load_settings()
