"""Writer and hardened reader for the TFLite-flatbuffer ``.bin`` container MediaPipe LLMs use.

Layout (docs/mediapipe-web.md §6.1-§6.3, §7.1): a TFLite ``Model`` flatbuffer with file
identifier ``TFL3`` at byte 0, one subgraph of FLOAT32-typed 1-D ``[byte_size]`` tensors, and
every non-empty buffer stored *outside* the flatbuffer (``Buffer.offset``/``Buffer.size``):
first at 65,536, then each at the next multiple of 256; the file is zero-padded to a multiple
of 65,536 and to at least 1 MiB (the web runtime's first read is 1,048,576 bytes, §3.4).

The writer streams tensor data straight to disk (Gemma2-2b files are GBs) and writes the
flatbuffer last into space reserved at the start. The reader parses the flatbuffer by hand
with bounds checks on every access, because uploaded files are untrusted.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import flatbuffers

__all__ = [
    "BUFFER_ALIGNMENT",
    "FILE_ALIGNMENT",
    "FILE_IDENTIFIER",
    "FIRST_BUFFER_OFFSET",
    "MAX_HEADER_BYTES",
    "MIN_FILE_SIZE",
    "TENSOR_TYPE_FLOAT32",
    "BufferInfo",
    "ContainerError",
    "ContainerInfo",
    "ContainerWriter",
    "MetadataBuffer",
    "MetadataItem",
    "MetadataValue",
    "TensorInfo",
    "read_container",
    "required_header_reserve",
]

FILE_IDENTIFIER = b"TFL3"
FIRST_BUFFER_OFFSET = 65_536
BUFFER_ALIGNMENT = 256
FILE_ALIGNMENT = 65_536
MIN_FILE_SIZE = 1_048_576
TENSOR_TYPE_FLOAT32 = 0
TFLITE_SCHEMA_VERSION = 3
DEFAULT_DESCRIPTION = "LoRA Studio mediapipe_format"

MAX_HEADER_BYTES = 16 * 1024 * 1024
"""Most bytes of flatbuffer the reader will parse (real files need < 64 KiB)."""

_MAX_TENSORS = 100_000
_MAX_BUFFERS = 200_000
_MAX_METADATA = 4_096
_MAX_SUBGRAPHS = 64
_MAX_SHAPE_RANK = 16
_MAX_STRING = 65_536
_INT32_MAX = 2**31 - 1


class ContainerError(ValueError):
    """Any problem reading or writing a ``.bin`` container; the message is meant for humans."""


# =========================================================================== writing


@dataclass(frozen=True)
class MetadataBuffer:
    """Metadata entry whose ``buffer`` field points at a buffer holding ``data``."""

    name: str
    data: bytes


@dataclass(frozen=True)
class MetadataValue:
    """Metadata entry whose ``buffer`` field *is* the value (model type 18, ``lora_rank``; §6.2)."""

    name: str
    value: int


MetadataItem = MetadataBuffer | MetadataValue


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _check_metadata(metadata: Sequence[MetadataItem]) -> None:
    seen: set[str] = set()
    for item in metadata:
        if not item.name:
            raise ContainerError("metadata names must be non-empty")
        if item.name in seen:
            raise ContainerError(f"duplicate metadata entry {item.name!r}")
        seen.add(item.name)
        if isinstance(item, MetadataValue) and not 0 <= item.value <= 0xFFFFFFFF:
            raise ContainerError(f"metadata value {item.name}={item.value} does not fit uint32")
        if isinstance(item, MetadataBuffer) and not item.data:
            raise ContainerError(f"metadata buffer {item.name!r} is empty")


def _buffer_count(n_meta_buffers: int, n_tensors: int, metadata: Sequence[MetadataItem]) -> int:
    """Buffers list length: sentinel + metadata + tensors, grown past any value-style entry.

    Both verified builders kept the list longer than the model-type value 18 (§6.2); we do the
    same for every value entry by appending empty buffers when needed.
    """
    count = 1 + n_meta_buffers + n_tensors
    for item in metadata:
        if isinstance(item, MetadataValue) and item.value >= count:
            count = item.value + 1
    return count


def _build_header(
    *,
    metadata: Sequence[MetadataItem],
    buffers: Sequence[tuple[int, int]],
    tensors: Sequence[tuple[str, int, int]],
    subgraph_name: str | None,
    description: str | None,
) -> bytes:
    """Serialize the TFLite ``Model`` flatbuffer.

    ``buffers`` lists (offset, size) for buffer 1.. (buffer 0 is the empty sentinel; (0, 0)
    entries become empty tables). ``tensors`` lists (name, byte_size, buffer_index).
    Defaults are forced so the size depends only on names and counts (see
    :func:`required_header_reserve`).

    TFLite schema slots used: Model{0 version, 1 operator_codes, 2 subgraphs, 3 description,
    4 buffers, 6 metadata}; SubGraph{0 tensors, 1 inputs, 2 outputs, 3 operators, 4 name};
    Tensor{0 shape, 1 type, 2 buffer, 3 name}; Buffer{0 data, 1 offset, 2 size};
    Metadata{0 name, 1 buffer}.
    """
    b = flatbuffers.Builder(1024 + 256 * len(tensors))
    b.ForceDefaults(True)

    def empty_vector(elem_size: int) -> int:
        b.StartVector(elem_size, 0, elem_size)
        return int(b.EndVector())

    def offsets_vector(items: Sequence[int]) -> int:
        b.StartVector(4, len(items), 4)
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        return int(b.EndVector())

    # Tensors.
    tensor_tables: list[int] = []
    for name, size, buffer_index in tensors:
        name_off = b.CreateString(name)
        b.StartVector(4, 1, 4)
        b.PrependInt32(size)
        shape_off = b.EndVector()
        b.StartObject(4)
        b.PrependUOffsetTRelativeSlot(0, shape_off, 0)
        b.PrependInt8Slot(1, TENSOR_TYPE_FLOAT32, 0)
        b.PrependUint32Slot(2, buffer_index, 0)
        b.PrependUOffsetTRelativeSlot(3, name_off, 0)
        tensor_tables.append(b.EndObject())
    tensors_vec = offsets_vector(tensor_tables)
    inputs_vec = empty_vector(4)
    outputs_vec = empty_vector(4)
    operators_vec = empty_vector(4)
    sg_name = b.CreateString(subgraph_name) if subgraph_name else None
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(0, tensors_vec, 0)
    b.PrependUOffsetTRelativeSlot(1, inputs_vec, 0)
    b.PrependUOffsetTRelativeSlot(2, outputs_vec, 0)
    b.PrependUOffsetTRelativeSlot(3, operators_vec, 0)
    if sg_name is not None:
        b.PrependUOffsetTRelativeSlot(4, sg_name, 0)
    subgraph = b.EndObject()
    subgraphs_vec = offsets_vector([subgraph])

    # Buffers: 0 is the empty sentinel (TFLite convention); others are external.
    buffer_tables: list[int] = []
    b.StartObject(3)
    buffer_tables.append(b.EndObject())
    for offset, size in buffers:
        b.StartObject(3)
        if size:
            b.PrependUint64Slot(1, offset, 0)
            b.PrependUint64Slot(2, size, 0)
        buffer_tables.append(b.EndObject())
    buffers_vec = offsets_vector(buffer_tables)

    # Metadata: buffer-style entries take buffer indices 1.. in order.
    meta_tables: list[int] = []
    next_buffer = 1
    for item in metadata:
        name_off = b.CreateString(item.name)
        if isinstance(item, MetadataBuffer):
            ref = next_buffer
            next_buffer += 1
        else:
            ref = item.value
        b.StartObject(2)
        b.PrependUOffsetTRelativeSlot(0, name_off, 0)
        b.PrependUint32Slot(1, ref, 0)
        meta_tables.append(b.EndObject())
    metadata_vec = offsets_vector(meta_tables)

    opcodes_vec = empty_vector(4)
    desc = b.CreateString(description) if description else None
    b.StartObject(8)
    b.PrependUint32Slot(0, TFLITE_SCHEMA_VERSION, 0)
    b.PrependUOffsetTRelativeSlot(1, opcodes_vec, 0)
    b.PrependUOffsetTRelativeSlot(2, subgraphs_vec, 0)
    if desc is not None:
        b.PrependUOffsetTRelativeSlot(3, desc, 0)
    b.PrependUOffsetTRelativeSlot(4, buffers_vec, 0)
    b.PrependUOffsetTRelativeSlot(6, metadata_vec, 0)
    model = b.EndObject()
    b.Finish(model, file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())


def required_header_reserve(
    tensor_names: Sequence[str],
    metadata: Sequence[MetadataItem],
    *,
    subgraph_name: str | None = None,
    description: str | None = DEFAULT_DESCRIPTION,
) -> int:
    """Bytes to reserve for the flatbuffer: its exact size rounded up to 65,536 (minimum 65,536).

    Exact because the header is built with forced defaults, so its size does not depend on the
    offset/size values that are only known after the data is written.
    """
    n_meta = sum(isinstance(m, MetadataBuffer) for m in metadata)
    count = _buffer_count(n_meta, len(tensor_names), metadata)
    header = _build_header(
        metadata=metadata,
        buffers=[(1 << 40, 1 << 30)] * (count - 1),
        tensors=[(name, 1, 1) for name in tensor_names],
        subgraph_name=subgraph_name,
        description=description,
    )
    return max(FIRST_BUFFER_OFFSET, _round_up(len(header), FILE_ALIGNMENT))


Chunk = bytes | bytearray | memoryview


class ContainerWriter:
    """Streams a ``.bin`` to disk: metadata buffers first, then tensors one by one.

    Use as a context manager; the file appears at ``path`` only after a successful close
    (written to a temporary file in the same folder, then renamed), so reruns are idempotent
    and a failure never leaves a half-written model behind.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        metadata: Sequence[MetadataItem],
        subgraph_name: str | None = None,
        description: str | None = DEFAULT_DESCRIPTION,
        header_reserve: int = FIRST_BUFFER_OFFSET,
        min_file_size: int = MIN_FILE_SIZE,
    ) -> None:
        _check_metadata(metadata)
        if header_reserve < FIRST_BUFFER_OFFSET or header_reserve % FILE_ALIGNMENT:
            raise ContainerError("header_reserve must be a multiple of 65,536 (at least 65,536)")
        self.path = Path(path)
        self._metadata = list(metadata)
        self._subgraph_name = subgraph_name
        self._description = description
        self._header_reserve = header_reserve
        self._min_file_size = min_file_size
        self._buffers: list[tuple[int, int]] = []
        self._tensors: list[tuple[str, int, int]] = []
        self._names: set[str] = set()
        self._cursor = header_reserve
        self._closed = False
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
        self._tmp = Path(tmp)
        self._file: BinaryIO = os.fdopen(fd, "w+b")
        try:
            for item in self._metadata:
                if isinstance(item, MetadataBuffer):
                    self._append_buffer([item.data])
        except BaseException:
            self.abort()
            raise

    def _append_buffer(self, chunks: Iterable[Chunk], expected: int | None = None) -> tuple[int, int]:
        offset = _round_up(self._cursor, BUFFER_ALIGNMENT)
        self._file.seek(offset)
        size = 0
        for chunk in chunks:
            view = memoryview(chunk).cast("B")
            self._file.write(view)
            size += len(view)
        if expected is not None and size != expected:
            raise ContainerError(f"tensor data was {size} bytes, expected {expected}")
        if size == 0:
            raise ContainerError("buffers must not be empty")
        self._cursor = offset + size
        self._buffers.append((offset, size))
        return offset, size

    def write_tensor(self, name: str, data: Chunk | Iterable[Chunk], *, size: int | None = None) -> None:
        """Append one tensor: ``data`` is its bytes, or an iterable of chunks (streamed)."""
        if self._closed:
            raise ContainerError("writer is closed")
        if not name:
            raise ContainerError("tensor names must be non-empty")
        if name in self._names:
            raise ContainerError(f"duplicate tensor name {name!r}")
        chunks: Iterable[Chunk]
        chunks = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
        _, written = self._append_buffer(chunks, size)
        if written > _INT32_MAX:
            raise ContainerError(f"tensor {name!r} is {written} bytes; the int32 shape cannot hold it")
        self._names.add(name)
        self._tensors.append((name, written, len(self._buffers)))

    def close(self) -> Path:
        """Write the flatbuffer header and padding, then move the file into place."""
        if self._closed:
            return self.path
        try:
            count = _buffer_count(len(self._buffers) - len(self._tensors), len(self._tensors), self._metadata)
            buffers = self._buffers + [(0, 0)] * (count - 1 - len(self._buffers))
            header = _build_header(
                metadata=self._metadata,
                buffers=buffers,
                tensors=self._tensors,
                subgraph_name=self._subgraph_name,
                description=self._description,
            )
            if len(header) > self._header_reserve:
                raise ContainerError(
                    f"flatbuffer header is {len(header)} bytes but only {self._header_reserve} were "
                    "reserved; pass header_reserve=required_header_reserve(...)"
                )
            self._file.seek(0)
            self._file.write(header)
            total = max(_round_up(self._cursor, FILE_ALIGNMENT), _round_up(self._min_file_size, FILE_ALIGNMENT))
            self._file.truncate(total)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, self.path)
            self._closed = True
            return self.path
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Discard the partial file."""
        self._closed = True
        try:
            self._file.close()
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> ContainerWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


# =========================================================================== reading


@dataclass(frozen=True)
class BufferInfo:
    """Where a buffer's bytes live: absolute file ``offset`` and ``size`` (``external`` = outside the flatbuffer)."""

    index: int
    offset: int
    size: int
    external: bool


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of the subgraph with its resolved buffer location."""

    name: str
    type: int
    shape: tuple[int, ...]
    buffer: int
    offset: int
    size: int


@dataclass(frozen=True)
class ContainerInfo:
    """Parsed, bounds-checked view of a ``.bin`` file; data is read lazily from ``path``."""

    path: Path
    file_size: int
    header_size_limit: int
    version: int
    description: str | None
    subgraph_name: str | None
    buffers: tuple[BufferInfo, ...]
    tensors: tuple[TensorInfo, ...]
    metadata: dict[str, int] = field(default_factory=dict)

    def tensor(self, name: str) -> TensorInfo:
        for t in self.tensors:
            if t.name == name:
                return t
        raise ContainerError(f"no tensor named {name!r}")

    def tensor_names(self) -> list[str]:
        return [t.name for t in self.tensors]

    def metadata_value(self, name: str) -> int:
        """The raw ``buffer`` field of a metadata entry (a value for model type / ``lora_rank``)."""
        if name not in self.metadata:
            raise ContainerError(f"metadata entry {name!r} is missing")
        return self.metadata[name]

    def read_buffer(self, index: int, *, max_bytes: int | None = None) -> bytes:
        if not 0 <= index < len(self.buffers):
            raise ContainerError(f"buffer index {index} out of range (0..{len(self.buffers) - 1})")
        info = self.buffers[index]
        if max_bytes is not None and info.size > max_bytes:
            raise ContainerError(f"buffer {index} is {info.size} bytes, more than the allowed {max_bytes}")
        return self._read(info.offset, info.size)

    def read_tensor(self, name: str) -> bytes:
        t = self.tensor(name)
        return self._read(t.offset, t.size)

    def read_metadata_buffer(self, name: str, *, max_bytes: int | None = None) -> bytes:
        """Bytes of a buffer-style metadata entry (``LlmParameters``, ``spm_vocab_model``, ``backend``)."""
        return self.read_buffer(self.metadata_value(name), max_bytes=max_bytes)

    def _read(self, offset: int, size: int) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(offset)
            data = f.read(size)
        if len(data) != size:
            raise ContainerError(f"file shrank: wanted {size} bytes at {offset}, got {len(data)}")
        return data


class _Flat:
    """Bounds-checked flatbuffer primitives over an in-memory header prefix."""

    def __init__(self, buf: bytes, limit_note: str) -> None:
        self.buf = buf
        self.n = len(buf)
        self.note = limit_note

    def _need(self, pos: int, size: int, what: str) -> None:
        if pos < 0 or size < 0 or pos + size > self.n:
            raise ContainerError(f"{what} at byte {pos} lies outside the flatbuffer ({self.note})")

    def u16(self, pos: int, what: str) -> int:
        self._need(pos, 2, what)
        value: int = struct.unpack_from("<H", self.buf, pos)[0]
        return value

    def u32(self, pos: int, what: str) -> int:
        self._need(pos, 4, what)
        value: int = struct.unpack_from("<I", self.buf, pos)[0]
        return value

    def i32(self, pos: int, what: str) -> int:
        self._need(pos, 4, what)
        value: int = struct.unpack_from("<i", self.buf, pos)[0]
        return value

    def table(self, pos: int, what: str) -> _Table:
        self._need(pos, 4, what)
        vtable = pos - self.i32(pos, what)
        vt_size = self.u16(vtable, f"{what} vtable")
        obj_size = self.u16(vtable + 2, f"{what} vtable")
        if vt_size < 4 or vt_size % 2:
            raise ContainerError(f"{what}: malformed vtable size {vt_size}")
        self._need(vtable, vt_size, f"{what} vtable")
        if obj_size < 4:
            raise ContainerError(f"{what}: malformed object size {obj_size}")
        self._need(pos, obj_size, what)
        return _Table(self, pos, vtable, vt_size, obj_size, what)

    def deref(self, pos: int, what: str) -> int:
        target = pos + self.u32(pos, what)
        self._need(target, 1, what)
        return target

    def vector(self, pos: int, elem_size: int, cap: int, what: str) -> tuple[int, int]:
        count = self.u32(pos, f"{what} length")
        if count > cap:
            raise ContainerError(f"{what}: {count} entries is more than the allowed {cap}")
        self._need(pos + 4, count * elem_size, what)
        return pos + 4, count

    def string(self, pos: int, what: str) -> str:
        start, length = self.vector(pos, 1, _MAX_STRING, what)
        try:
            return self.buf[start : start + length].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ContainerError(f"{what}: not valid UTF-8") from exc


@dataclass(frozen=True)
class _Table:
    fb: _Flat
    pos: int
    vtable: int
    vt_size: int
    obj_size: int
    what: str

    def _field(self, slot: int, width: int) -> int | None:
        entry = 4 + 2 * slot
        if entry + 2 > self.vt_size:
            return None
        rel = self.fb.u16(self.vtable + entry, self.what)
        if rel == 0:
            return None
        if rel + width > self.obj_size:
            raise ContainerError(f"{self.what}: field {slot} lies outside its table")
        return self.pos + rel

    def scalar(self, slot: int, fmt: str, default: int) -> int:
        width = struct.calcsize(fmt)
        at = self._field(slot, width)
        if at is None:
            return default
        self.fb._need(at, width, self.what)
        value: int = struct.unpack_from(fmt, self.fb.buf, at)[0]
        return value

    def ref(self, slot: int, what: str) -> int | None:
        at = self._field(slot, 4)
        return None if at is None else self.fb.deref(at, what)

    def string(self, slot: int, what: str) -> str | None:
        at = self.ref(slot, what)
        return None if at is None else self.fb.string(at, what)

    def tables(self, slot: int, cap: int, what: str) -> Iterator[_Table]:
        at = self.ref(slot, what)
        if at is None:
            return
        start, count = self.fb.vector(at, 4, cap, what)
        for i in range(count):
            elem = start + 4 * i
            yield self.fb.table(self.fb.deref(elem, f"{what}[{i}]"), f"{what}[{i}]")

    def ints(self, slot: int, cap: int, what: str) -> tuple[int, ...]:
        at = self.ref(slot, what)
        if at is None:
            return ()
        start, count = self.fb.vector(at, 4, cap, what)
        return struct.unpack_from(f"<{count}i", self.fb.buf, start)

    def byte_vector(self, slot: int, what: str) -> tuple[int, int] | None:
        at = self.ref(slot, what)
        return None if at is None else self.fb.vector(at, 1, self.fb.n, what)


def read_container(path: str | os.PathLike[str], *, max_header_bytes: int = MAX_HEADER_BYTES) -> ContainerInfo:
    """Parse and validate a ``.bin`` container without trusting any offset or count in it.

    Raises :class:`ContainerError` for a wrong magic, a truncated or oversized flatbuffer,
    buffers that point past the end of the file, bad indices, duplicate names, and so on.
    """
    p = Path(path)
    try:
        file_size = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(min(file_size, max_header_bytes))
    except OSError as exc:
        raise ContainerError(f"cannot read {p.name}: {exc.strerror or exc}") from exc
    if len(head) < 8:
        raise ContainerError(f"file is only {len(head)} bytes; not a TFLite .bin model")
    if head[4:8] != FILE_IDENTIFIER:
        raise ContainerError(f"not a TFLite .bin model: bytes 4-7 are {head[4:8]!r}, expected b'TFL3'")
    note = f"the first {len(head):,} bytes of a {file_size:,}-byte file"
    if file_size > len(head):
        note += f"; the reader parses at most {max_header_bytes:,}"
    fb = _Flat(head, note)
    root = fb.deref(0, "root table offset")
    model = fb.table(root, "Model")
    version = model.scalar(0, "<I", 0)
    description = model.string(3, "Model.description")

    buffers: list[BufferInfo] = []
    for i, buf in enumerate(model.tables(4, _MAX_BUFFERS, "Model.buffers")):
        offset = buf.scalar(1, "<Q", 0)
        size = buf.scalar(2, "<Q", 0)
        if offset > 1:
            if size > file_size or offset > file_size - size:
                raise ContainerError(
                    f"buffer {i} claims {size:,} bytes at offset {offset:,}, past the end of the "
                    f"{file_size:,}-byte file (truncated or corrupt)"
                )
            buffers.append(BufferInfo(i, offset, size, True))
        else:
            inline = buf.byte_vector(0, f"Model.buffers[{i}].data")
            start, length = inline if inline is not None else (0, 0)
            buffers.append(BufferInfo(i, start, length, False))

    subgraphs = list(model.tables(2, _MAX_SUBGRAPHS, "Model.subgraphs"))
    if len(subgraphs) != 1:
        raise ContainerError(f"expected exactly one subgraph, found {len(subgraphs)}")
    sg = subgraphs[0]
    subgraph_name = sg.string(4, "SubGraph.name")
    tensors: list[TensorInfo] = []
    seen: set[str] = set()
    for i, t in enumerate(sg.tables(0, _MAX_TENSORS, "SubGraph.tensors")):
        name = t.string(3, f"tensors[{i}].name") or ""
        if name in seen:
            raise ContainerError(f"duplicate tensor name {name!r}")
        seen.add(name)
        shape = t.ints(0, _MAX_SHAPE_RANK, f"tensor {name!r} shape")
        ttype = t.scalar(1, "<b", 0)
        bidx = t.scalar(2, "<I", 0)
        if bidx >= len(buffers):
            raise ContainerError(f"tensor {name!r} refers to buffer {bidx}, but there are only {len(buffers)}")
        binfo = buffers[bidx]
        tensors.append(TensorInfo(name, ttype, tuple(shape), bidx, binfo.offset, binfo.size))

    metadata: dict[str, int] = {}
    for i, m in enumerate(model.tables(6, _MAX_METADATA, "Model.metadata")):
        meta_name = m.string(0, f"metadata[{i}].name")
        if not meta_name:
            raise ContainerError(f"metadata entry {i} has no name")
        if meta_name in metadata:
            raise ContainerError(f"duplicate metadata entry {meta_name!r}")
        metadata[meta_name] = m.scalar(1, "<I", 0)

    return ContainerInfo(
        path=p,
        file_size=file_size,
        header_size_limit=len(head),
        version=version,
        description=description,
        subgraph_name=subgraph_name,
        buffers=tuple(buffers),
        tensors=tuple(tensors),
        metadata=metadata,
    )
