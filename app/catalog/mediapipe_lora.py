"""Check an already converted MediaPipe LoRA `.bin` before it enters the catalog.

The runtime does not validate LoRA files: a bad one hangs or traps the engine in the user's
browser (mediapipe-web.md §5). So everything it relies on is checked here: the TFL3 container,
size >= 1 MiB, LlmParameters matching the base, `lora_rank` among the declared ranks, exactly the
tensors (names, order, byte sizes) the runtime reads for that rank, and finite fp16 data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from app.catalog.base_models import GEMMA2_2B, BaseModelSpec
from app.catalog.errors import AdapterRejectedError
from app.mediapipe_format import ContainerError, ProtoError, decode_llm_parameters, lora_tensor_plan, read_container
from app.mediapipe_format.container import MIN_FILE_SIZE
from app.mediapipe_format.names import LLM_PARAMETERS, LORA_RANK


@dataclass(frozen=True)
class MediapipeLora:
    path: Path
    size: int
    rank: int
    include_mlp: bool


def _sniff(head: bytes) -> str | None:
    if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        return "a Python pickle (e.g. a PyTorch adapter_model.bin), not a MediaPipe LoRA file"
    if head[:4] == b"PK\x03\x04":
        return "a zip archive, not a MediaPipe LoRA file"
    if head[4:6] == b"PK":
        return "a MediaPipe .task bundle; LoRA adapters must be .bin files"
    if head[:8] == b"LITERTLM":
        return "a .litertlm model; LoRA adapters must be .bin files"
    if head[:1] == b"{" and head.count(b'"') > 1:
        return "a JSON file, not a MediaPipe LoRA file"
    return None


def validate_mediapipe_lora(
    path: Path,
    *,
    display_name: str = "the .bin file",
    base: BaseModelSpec = GEMMA2_2B,
    ranks: Sequence[int] = (4, 8, 16),
) -> MediapipeLora:
    name = display_name
    size = path.stat().st_size
    if size == 0:
        raise AdapterRejectedError(f"{name} is empty (0 bytes)")
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head[4:8] != b"TFL3":
        what = _sniff(head)
        if what:
            raise AdapterRejectedError(f"{name} is {what}")
        raise AdapterRejectedError(f"{name} is not a MediaPipe LoRA file: bytes 4-7 are not the TFL3 identifier")
    if size < MIN_FILE_SIZE:
        raise AdapterRejectedError(
            f"{name} is {size:,} bytes; MediaPipe LoRA files must be at least {MIN_FILE_SIZE:,} bytes "
            "(the runtime crashes on shorter ones; pad with zeros)"
        )
    try:
        info = read_container(path)
    except ContainerError as exc:
        raise AdapterRejectedError(f"{name} is not a valid MediaPipe .bin: {exc}") from None
    if LLM_PARAMETERS not in info.metadata:
        raise AdapterRejectedError(f"{name} has no {LLM_PARAMETERS} metadata; the runtime refuses such files")
    if LORA_RANK not in info.metadata:
        raise AdapterRejectedError(f"{name} has no lora_rank metadata: it is a base model or not a LoRA file")
    try:
        params = decode_llm_parameters(info.read_metadata_buffer(LLM_PARAMETERS, max_bytes=64 * 1024))
        sizes = params.sizes()
    except (ContainerError, ProtoError) as exc:
        raise AdapterRejectedError(f"{name}: its LlmParameters metadata is unreadable ({exc})") from None
    want = base.sizes
    differ = [
        f"{f.name} {getattr(sizes, f.name)} (expected {getattr(want, f.name)})"
        for f in fields(want)
        if f.name != "vocab_size" and getattr(sizes, f.name) != getattr(want, f.name)
    ]
    if differ:
        raise AdapterRejectedError(f"{name} was built for another model than {base.label}: {', '.join(differ)}")
    rank = info.metadata[LORA_RANK]
    if rank not in ranks:
        raise AdapterRejectedError(
            f"{name} has lora_rank {rank}, which is not supported: the browser runtime is set up for ranks "
            f"{', '.join(map(str, ranks))}"
        )
    include_mlp = any(".ff_layer." in t.name for t in info.tensors)
    plan = lora_tensor_plan(want, rank, include_mlp=include_mlp)
    actual = {t.name: t for t in info.tensors}
    for spec in plan:
        if spec.name not in actual:
            scope = "all 8 attention tensors per layer" if spec.module in ("q", "k", "v", "o") else "all 6 MLP tensors"
            raise AdapterRejectedError(f"{name} is missing tensor {spec.name} (the runtime needs {scope})")
    expected_names = {spec.name for spec in plan}
    for tensor in info.tensors:
        if tensor.name not in expected_names:
            raise AdapterRejectedError(f"{name} has an unexpected tensor {tensor.name!r}")
    if [t.name for t in info.tensors] != [spec.name for spec in plan]:
        first = next(t.name for t, s in zip(info.tensors, plan, strict=True) if t.name != s.name)
        raise AdapterRejectedError(f"{name}: tensors are not in the runtime's order (first out of place: {first})")
    for spec in plan:
        tensor = actual[spec.name]
        if tensor.size != spec.nbytes:
            raise AdapterRejectedError(
                f"{name}: tensor {spec.name} is {tensor.size:,} bytes; rank {rank} on {base.label} needs "
                f"{spec.nbytes:,} (fp16 {spec.shape[0]}x{spec.shape[1]})"
            )
        data = np.frombuffer(info.read_tensor(spec.name), dtype="<f2")
        if not np.isfinite(data).all():
            raise AdapterRejectedError(f"{name}: tensor {spec.name} holds NaN or infinite values")
    return MediapipeLora(path=path, size=size, rank=rank, include_mlp=include_mlp)
