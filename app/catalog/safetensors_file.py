"""A safetensors reader that trusts nothing in the file.

Why not `safetensors.safe_open`: it is safe against code execution, but its error messages are
not ones we can show a creator, and it maps whatever a header claims. Here the 8-byte length,
the JSON header, every dtype, shape and offset are checked against limits and the real file size
before any tensor byte is read, and each failure says exactly what is wrong. Never pickle.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.catalog.errors import AdapterRejectedError

MAX_HEADER_BYTES = 1024 * 1024
MAX_TENSORS = 4096
DTYPE_SIZES = {"F32": 4, "F16": 2, "BF16": 2}


class SafetensorsError(AdapterRejectedError):
    """The file is not a usable safetensors file; the message names the problem."""


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: str
    shape: tuple[int, ...]
    offset: int  # absolute file offset of the first byte
    nbytes: int


@dataclass
class SafetensorsFile:
    path: Path
    file_size: int
    tensors: dict[str, TensorEntry]
    metadata: dict[str, str] = field(default_factory=dict)

    def read(self, name: str) -> npt.NDArray[np.float32]:
        """One tensor as float32 (F16 and BF16 widened exactly), read from its byte range only."""
        entry = self.tensors[name]
        with open(self.path, "rb") as handle:
            handle.seek(entry.offset)
            raw = handle.read(entry.nbytes)
        if len(raw) != entry.nbytes:
            raise SafetensorsError(f"{self.path.name}: tensor {name!r} is cut short (the file changed while reading)")
        if entry.dtype == "F32":
            array = np.frombuffer(raw, dtype="<f4")
        elif entry.dtype == "F16":
            array = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        else:  # BF16: the top half of a float32
            array = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        return array.reshape(entry.shape)


def _describe_foreign(head: bytes) -> str | None:
    """Name formats that people rename to .safetensors by mistake (or on purpose)."""
    if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        return "a Python pickle (e.g. a PyTorch .bin/.pt checkpoint)"
    if head[:4] == b"PK\x03\x04":
        return "a zip archive (e.g. a PyTorch checkpoint saved with torch.save, which holds pickles)"
    if head[:4] == b"GGUF":
        return "a GGUF model file"
    if head[4:8] == b"TFL3":
        return "a TFLite/MediaPipe .bin file"
    return None


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise SafetensorsError(f"the header names {key!r} twice")
        result[key] = value
    return result


def read_safetensors(
    path: Path,
    *,
    display_name: str | None = None,
    max_header_bytes: int = MAX_HEADER_BYTES,
    max_tensor_bytes: int | None = None,
    allowed_dtypes: tuple[str, ...] = tuple(DTYPE_SIZES),
    check_name: Callable[[str], object] | None = None,
) -> SafetensorsFile:
    """Parse and check the header; ``check_name`` judges each tensor name before its dtype and size,
    so that a forbidden tensor is rejected for what it is rather than for how big it is."""
    name = display_name or path.name
    size = path.stat().st_size
    if size == 0:
        raise SafetensorsError(f"{name} is empty (0 bytes)")
    with open(path, "rb") as handle:
        head = handle.read(16)
        foreign = _describe_foreign(head)
        if len(head) >= 9 and head[8:9] != b"{" and foreign:
            raise SafetensorsError(
                f"{name} is {foreign}, not a safetensors file; only safetensors are accepted (pickles can run code)"
            )
        if size < 8:
            raise SafetensorsError(f"{name} is truncated: {size} bytes, less than the 8-byte header length")
        (header_len,) = struct.unpack("<Q", head[:8])
        if header_len > max_header_bytes:
            if foreign:
                raise SafetensorsError(f"{name} is {foreign}, not a safetensors file")
            raise SafetensorsError(
                f"{name}: the header claims {header_len:,} bytes, more than the limit of {max_header_bytes:,}"
            )
        if 8 + header_len > size:
            raise SafetensorsError(
                f"{name} is truncated: the header claims {header_len:,} bytes but only {size - 8:,} follow"
            )
        handle.seek(8)
        header_bytes = handle.read(header_len)
    if not header_bytes.startswith(b"{"):
        raise SafetensorsError(f"{name} is {foreign or 'not a safetensors file'}: no JSON header after the length")
    try:
        header = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except SafetensorsError as exc:
        raise SafetensorsError(f"{name}: {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SafetensorsError(f"{name}: the header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{name}: the header is not a JSON object")

    metadata_raw = header.pop("__metadata__", {})
    if not isinstance(metadata_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata_raw.items()
    ):
        raise SafetensorsError(f"{name}: __metadata__ must map strings to strings")
    if len(header) > MAX_TENSORS:
        raise SafetensorsError(f"{name}: {len(header):,} tensors, more than the limit of {MAX_TENSORS:,}")

    data_start = 8 + header_len
    data_size = size - data_start
    spans: list[tuple[int, int, str]] = []
    tensors: dict[str, TensorEntry] = {}
    if check_name is not None:
        for tname in sorted(header):
            check_name(tname)
    for tname, spec in header.items():
        if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"{name}: tensor {tname!r} needs exactly dtype, shape and data_offsets")
        dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
        if dtype not in allowed_dtypes:
            raise SafetensorsError(
                f"{name}: tensor {tname!r} has dtype {dtype!r}; LoRA weights must be {', '.join(allowed_dtypes)}"
            )
        if (
            not isinstance(shape, list)
            or len(shape) > 8
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            raise SafetensorsError(f"{name}: tensor {tname!r} has an invalid shape {shape!r:.100}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
            or offsets[0] > offsets[1]
        ):
            raise SafetensorsError(f"{name}: tensor {tname!r} has invalid data_offsets {offsets!r:.100}")
        nbytes = math.prod(shape) * DTYPE_SIZES[dtype]
        begin, end = offsets
        if max_tensor_bytes is not None and nbytes > max_tensor_bytes:
            raise SafetensorsError(
                f"{name}: tensor {tname!r} claims {nbytes:,} bytes (shape {shape}), "
                f"more than the limit of {max_tensor_bytes:,}"
            )
        if end - begin != nbytes:
            raise SafetensorsError(
                f"{name}: tensor {tname!r} spans {end - begin:,} bytes but dtype {dtype} and shape {shape} "
                f"need {nbytes:,}"
            )
        if end > data_size:
            raise SafetensorsError(
                f"{name} is truncated: tensor {tname!r} ends at byte {end:,} of the data section, "
                f"which has only {data_size:,} bytes"
            )
        spans.append((begin, end, tname))
        tensors[tname] = TensorEntry(tname, dtype, tuple(shape), data_start + begin, nbytes)

    position = 0
    for begin, end, tname in sorted(spans):
        if begin != position:
            what = "overlaps another tensor" if begin < position else f"leaves a gap of {begin - position:,} bytes"
            raise SafetensorsError(f"{name}: tensor {tname!r} {what} (data_offsets must tile the data section)")
        position = end
    if position != data_size:
        raise SafetensorsError(f"{name}: {data_size - position:,} bytes after the last tensor belong to no tensor")
    return SafetensorsFile(path=path, file_size=size, tensors=tensors, metadata=dict(metadata_raw))
