"""The event schema (version 1): what the browser and the server may record, and nothing else.

No field takes free text: kinds are enumerations, identifiers match tight patterns, numbers
are bounded and finite, and unknown fields are refused. A prompt or an answer has nowhere to go.
The browser never sends a user id: the server attaches it from the signed-in session.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationInfo, field_validator

SCHEMA_VERSION = 1

SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
ADAPTER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"  # catalog slugs are 1-80 of [a-z0-9-]
GPU_ARCHITECTURE_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,31}$"
APP_VERSION_PATTERN = r"^[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}(?:[-+][0-9A-Za-z.]{1,20})?$"

MAX_MS = 3_600_000  # one hour: longer timings are measurement errors
MAX_TTFT_MS = 600_000
MAX_TOKENS_PER_S = 100_000.0
MAX_TOKENS = 1_000_000
MAX_BYTES = 64 * 1024**3


class GpuVendor(enum.StrEnum):
    """WebGPU `GPUAdapterInfo.vendor`, mapped by the browser; anything else is `other`."""

    nvidia = "nvidia"
    amd = "amd"
    intel = "intel"
    apple = "apple"
    qualcomm = "qualcomm"
    arm = "arm"
    imagination = "imagination"
    samsung = "samsung"
    google = "google"
    microsoft = "microsoft"
    mesa = "mesa"
    other = "other"
    unknown = "unknown"


class BrowserFamily(enum.StrEnum):
    chrome = "chrome"
    edge = "edge"
    firefox = "firefox"
    safari = "safari"
    opera = "opera"
    samsung = "samsung"
    other = "other"
    unknown = "unknown"


class PageKind(enum.StrEnum):
    home = "home"
    catalog = "catalog"
    adapter = "adapter"
    chat = "chat"
    selftest = "selftest"
    creator = "creator"
    admin = "admin"
    account = "account"
    signin = "signin"
    signup = "signup"
    other = "other"


class Capability(enum.StrEnum):
    """What a capability check can find missing."""

    secure_context = "secure_context"
    webgpu = "webgpu"
    gpu_adapter = "gpu_adapter"
    gpu_device = "gpu_device"
    shader_f16 = "shader_f16"
    max_buffer_size = "max_buffer_size"
    max_storage_buffer_binding_size = "max_storage_buffer_binding_size"
    storage_quota = "storage_quota"
    persistent_storage = "persistent_storage"
    wasm_simd = "wasm_simd"
    device_memory = "device_memory"


class Outcome(enum.StrEnum):
    ok = "ok"
    failed = "failed"
    cancelled = "cancelled"


class DownloadSource(enum.StrEnum):
    network = "network"
    cache = "cache"
    local_file = "local_file"


class ErrorKind(enum.StrEnum):
    webgpu_unavailable = "webgpu_unavailable"
    adapter_request_failed = "adapter_request_failed"
    device_lost = "device_lost"
    out_of_memory = "out_of_memory"
    model_download_failed = "model_download_failed"
    model_invalid = "model_invalid"
    storage_quota = "storage_quota"
    engine_init_failed = "engine_init_failed"
    lora_load_failed = "lora_load_failed"
    generation_failed = "generation_failed"
    network = "network"
    unknown = "unknown"


class Stage(enum.StrEnum):
    capability = "capability"
    download = "download"
    init = "init"
    lora = "lora"
    generate = "generate"
    other = "other"


class SignInMethod(enum.StrEnum):
    password = "password"  # noqa: S105 - a method name, not a secret
    oidc = "oidc"


class UploadFormat(enum.StrEnum):
    peft = "peft"
    mediapipe = "mediapipe"


class FileKind(enum.StrEnum):
    lora = "lora"
    base_model = "base_model"


SessionId = Annotated[str, Field(pattern=SESSION_ID_PATTERN)]
AdapterId = Annotated[str, Field(pattern=ADAPTER_ID_PATTERN)]
Millis = Annotated[int, Field(ge=0, le=MAX_MS)]
Rate = Annotated[float, Field(ge=0, le=MAX_TOKENS_PER_S, allow_inf_nan=False)]
TokenCount = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
ByteCount = Annotated[int, Field(ge=0, le=MAX_BYTES)]


class _Event(BaseModel):
    """The context every event carries."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True, str_max_length=80)

    v: Literal[1] = Field(description="Schema version the sender speaks.")
    adapter_id: AdapterId | None = None
    gpu_vendor: GpuVendor = GpuVendor.unknown
    gpu_architecture: Annotated[str, Field(pattern=GPU_ARCHITECTURE_PATTERN)] | None = None
    browser: BrowserFamily = BrowserFamily.unknown
    app_version: Annotated[str, Field(pattern=APP_VERSION_PATTERN)]


class _BrowserEvent(_Event):
    session_id: SessionId


class PageView(_BrowserEvent):
    type: Literal["page_view"]
    page: PageKind


class CapabilityCheck(_BrowserEvent):
    type: Literal["capability_check"]
    ok: bool
    missing: Annotated[list[Capability], Field(max_length=len(Capability), validate_default=True)] = []

    @field_validator("missing")
    @classmethod
    def _consistent(cls, missing: list[str], info: ValidationInfo) -> list[str]:
        if len(set(missing)) != len(missing):
            raise ValueError("missing capabilities must be unique")
        ok = info.data.get("ok")
        if ok is True and missing:
            raise ValueError("ok=true cannot list missing capabilities")
        if ok is False and not missing:
            raise ValueError("ok=false must list at least one missing capability")
        return missing


class ModelDownload(_BrowserEvent):
    type: Literal["model_download"]
    outcome: Outcome
    source: DownloadSource
    bytes: ByteCount
    duration_ms: Millis


class EngineInit(_BrowserEvent):
    type: Literal["engine_init"]
    outcome: Outcome
    duration_ms: Millis


class LoraLoad(_BrowserEvent):
    type: Literal["lora_load"]
    outcome: Outcome
    duration_ms: Millis
    rank: Annotated[int, Field(ge=1, le=256)] | None = None


class GenerationFinished(_BrowserEvent):
    """One answer generated in the browser: its timings and sizes, never its text."""

    type: Literal["generation_finished"]
    ttft_ms: Annotated[float, Field(ge=0, le=MAX_TTFT_MS, allow_inf_nan=False)] | None = None
    prefill_tokens_per_s: Rate | None = None
    decode_tokens_per_s: Rate | None = None
    input_tokens: TokenCount
    output_tokens: TokenCount
    cancelled: bool


class ErrorEvent(_BrowserEvent):
    type: Literal["error"]
    kind: ErrorKind
    stage: Stage = Stage.other


class _ServerEvent(_Event):
    session_id: SessionId | None = None


class SignIn(_ServerEvent):
    type: Literal["sign_in"]
    method: SignInMethod
    outcome: Literal["ok", "failed"]


class SignUp(_ServerEvent):
    type: Literal["sign_up"]
    method: SignInMethod


class Upload(_ServerEvent):
    type: Literal["upload"]
    format: UploadFormat
    outcome: Literal["ok", "rejected"]
    bytes: ByteCount


class Publish(_ServerEvent):
    type: Literal["publish"]
    adapter_id: AdapterId


class FileDownload(_ServerEvent):
    type: Literal["file_download"]
    file_kind: FileKind
    bytes: ByteCount


BROWSER_EVENTS = (PageView, CapabilityCheck, ModelDownload, EngineInit, LoraLoad, GenerationFinished, ErrorEvent)
SERVER_EVENTS = (SignIn, SignUp, Upload, Publish, FileDownload)

BrowserEvent = Annotated[
    PageView | CapabilityCheck | ModelDownload | EngineInit | LoraLoad | GenerationFinished | ErrorEvent,
    Field(discriminator="type"),
]
ServerEvent = Annotated[SignIn | SignUp | Upload | Publish | FileDownload, Field(discriminator="type")]
AnyEvent = Annotated[
    PageView
    | CapabilityCheck
    | ModelDownload
    | EngineInit
    | LoraLoad
    | GenerationFinished
    | ErrorEvent
    | SignIn
    | SignUp
    | Upload
    | Publish
    | FileDownload,
    Field(discriminator="type"),
]

BROWSER_EVENT = TypeAdapter(BrowserEvent)
BROWSER_BATCH = TypeAdapter(list[BrowserEvent])
ANY_EVENT = TypeAdapter(AnyEvent)
ANY_EVENTS = TypeAdapter(list[AnyEvent])

CONTEXT_FIELDS = ("type", "v", "session_id", "adapter_id", "gpu_vendor", "gpu_architecture", "browser", "app_version")
