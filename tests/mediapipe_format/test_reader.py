"""The reader treats files as hostile: every failure is a ContainerError with a readable message."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from app.mediapipe_format import (
    ContainerError,
    ContainerWriter,
    MetadataBuffer,
    MetadataValue,
    read_container,
)


@pytest.fixture
def lora_bytes(tiny_dir: Path) -> bytes:
    return (tiny_dir / "tiny-lora-r4.bin").read_bytes()


def write(tmp_path: Path, data: bytes, name: str = "x.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_wrong_magic(tmp_path: Path, lora_bytes: bytes) -> None:
    data = bytearray(lora_bytes)
    data[4:8] = b"TFL2"
    with pytest.raises(ContainerError, match="TFL3"):
        read_container(write(tmp_path, bytes(data)))
    zip_like = b"PK\x03\x04" + bytes(100)
    with pytest.raises(ContainerError, match="not a TFLite"):
        read_container(write(tmp_path, zip_like))


@pytest.mark.parametrize("size", [0, 7])
def test_tiny_files(tmp_path: Path, size: int) -> None:
    with pytest.raises(ContainerError, match="only"):
        read_container(write(tmp_path, b"\x10\x00\x00\x00TFL3"[:size]))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ContainerError, match="cannot read"):
        read_container(tmp_path / "nope.bin")


def test_truncated(tmp_path: Path, lora_bytes: bytes) -> None:
    info = read_container(write(tmp_path, lora_bytes, "ok.bin"))
    last = info.tensors[-1]
    cut = lora_bytes[: last.offset + last.size - 1]
    with pytest.raises(ContainerError, match="past the end"):
        read_container(write(tmp_path, cut))
    with pytest.raises(ContainerError):
        read_container(write(tmp_path, lora_bytes[:200]))  # flatbuffer itself cut


def test_offset_past_eof(tmp_path: Path, lora_bytes: bytes) -> None:
    info = read_container(write(tmp_path, lora_bytes, "ok.bin"))
    target = struct.pack("<Q", info.tensors[3].offset)
    header = lora_bytes[:65_536]
    assert header.count(target) == 1
    at = header.index(target)
    for bad in (len(lora_bytes), 2**63, 2**64 - 1):
        data = bytearray(lora_bytes)
        data[at : at + 8] = struct.pack("<Q", bad)
        with pytest.raises(ContainerError, match="past the end"):
            read_container(write(tmp_path, bytes(data)))


def test_absurd_flatbuffer(tmp_path: Path, lora_bytes: bytes) -> None:
    data = bytearray(lora_bytes)
    data[0:4] = struct.pack("<I", 0xFFFFFFF0)  # root table far beyond the file and the parse cap
    with pytest.raises(ContainerError, match="outside the flatbuffer"):
        read_container(write(tmp_path, bytes(data)))
    # A flatbuffer larger than the parse cap is refused, not read.
    with pytest.raises(ContainerError, match="at most 1,024"):
        read_container(write(tmp_path, lora_bytes, "ok.bin"), max_header_bytes=1024)


def _u32(buf: bytes, pos: int) -> int:
    value: int = struct.unpack_from("<I", buf, pos)[0]
    return value


def _field(buf: bytes, table: int, slot: int) -> int:
    """Absolute position of a table field, navigated by hand (independent of the reader)."""
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    rel: int = struct.unpack_from("<H", buf, vtable + 4 + 2 * slot)[0]
    assert rel
    return table + rel


def _deref(buf: bytes, pos: int) -> int:
    return pos + _u32(buf, pos)


def tensors_vector_pos(buf: bytes) -> int:
    model = _deref(buf, 0)
    subgraphs = _deref(buf, _field(buf, model, 2))
    subgraph = _deref(buf, subgraphs + 4)
    return _deref(buf, _field(buf, subgraph, 0))


def test_absurd_vector_length(tmp_path: Path, lora_bytes: bytes) -> None:
    at = tensors_vector_pos(lora_bytes)
    assert _u32(lora_bytes, at) == 16
    for count, message in [(0x7FFFFFFF, "more than the allowed"), (50_000, "outside the flatbuffer")]:
        data = bytearray(lora_bytes)
        data[at : at + 4] = struct.pack("<I", count)
        with pytest.raises(ContainerError, match=message):
            read_container(write(tmp_path, bytes(data)))


def test_garbage_after_magic(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        body = bytearray(rng.integers(0, 256, size=4096, dtype=np.uint8).tobytes())
        body[4:8] = b"TFL3"
        with pytest.raises(ContainerError):
            read_container(write(tmp_path, bytes(body)))


def test_fuzzed_headers_only_raise_container_error(tmp_path: Path, lora_bytes: bytes) -> None:
    """Random corruption of the flatbuffer either still parses or raises ContainerError, nothing else."""
    info = read_container(write(tmp_path, lora_bytes, "ok.bin"))
    header_end = 4096
    assert info.buffers[1].offset == 65_536
    rng = np.random.default_rng(1234)
    errors = 0
    path = tmp_path / "fuzz.bin"
    for _ in range(300):
        data = bytearray(lora_bytes)
        for pos in rng.integers(0, header_end, size=int(rng.integers(1, 6))):
            data[int(pos)] = int(rng.integers(0, 256))
        path.write_bytes(bytes(data))
        try:
            read_container(path)
        except ContainerError:
            errors += 1
    assert errors > 0


def test_writer_rejects_oversized_header(tmp_path: Path) -> None:
    meta = [MetadataBuffer("odml.infra.proto.LlmParameters", b"\x10\x01"), MetadataValue("lora_rank", 4)]
    with pytest.raises(ContainerError, match="reserved"), ContainerWriter(tmp_path / "big.bin", metadata=meta) as w:
        for i in range(700):
            w.write_tensor(f"tensor_{i:04d}_" + "x" * 100, b"\x00" * 4)
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ContainerError, match="duplicate metadata"):
        ContainerWriter(tmp_path / "a.bin", metadata=[MetadataValue("a", 1), MetadataValue("a", 2)])
    with pytest.raises(ContainerError, match="duplicate tensor"):
        with ContainerWriter(tmp_path / "a.bin", metadata=[]) as w:
            w.write_tensor("t", b"1234")
            w.write_tensor("t", b"1234")
    with pytest.raises(ContainerError, match="expected 8"), ContainerWriter(tmp_path / "a.bin", metadata=[]) as w:
        w.write_tensor("t", [b"12", b"34"], size=8)
    assert list(tmp_path.iterdir()) == []


def test_writer_streams_chunks_and_pads_value_entries(tmp_path: Path) -> None:
    meta = [MetadataBuffer("params", b"abc"), MetadataValue("odml.infra.LlmModelType", 18)]
    with ContainerWriter(tmp_path / "s.bin", metadata=meta, subgraph_name=None) as w:
        w.write_tensor("t0", (bytes([i]) * 100 for i in range(5)))
        w.write_tensor("t1", memoryview(b"\x01\x02"))
    info = read_container(tmp_path / "s.bin")
    assert info.subgraph_name is None
    assert info.read_tensor("t0") == b"".join(bytes([i]) * 100 for i in range(5))
    assert info.read_tensor("t1") == b"\x01\x02"
    assert info.read_metadata_buffer("params") == b"abc"
    assert len(info.buffers) == 19  # grown past the value 18 with empty buffers
    assert info.file_size == 1_048_576
    with pytest.raises(ContainerError, match="out of range"):
        info.read_buffer(99)
