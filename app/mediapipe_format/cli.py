"""Command line: ``python -m app.mediapipe_format {tiny,inspect}``.

``tiny`` writes the CI test models (same bytes every run); ``inspect`` prints what the reader
sees in a ``.bin``, which is handy when a browser test rejects a file.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

from .container import ContainerError, read_container
from .names import LLM_MODEL_TYPE, LLM_PARAMETERS, LORA_RANK
from .proto import ProtoError, decode_llm_parameters
from .tiny import build_tiny_base, build_tiny_lora

__all__ = ["TINY_LORA_RANKS", "main", "sha256_file", "write_tiny_set"]

TINY_LORA_RANKS = (4, 8, 16)
TINY_BASE_SEED = 0
TINY_LORA_SEED = 1


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_tiny_set(out: Path) -> list[Path]:
    """Write tiny-base.bin and tiny-lora-r{4,8,16}.bin into ``out`` (overwriting atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [build_tiny_base(out / "tiny-base.bin", seed=TINY_BASE_SEED)]
    for rank in TINY_LORA_RANKS:
        paths.append(build_tiny_lora(out / f"tiny-lora-r{rank}.bin", seed=TINY_LORA_SEED, rank=rank))
    return paths


def _inspect(path: Path) -> int:
    try:
        info = read_container(path)
    except ContainerError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    print(f"{path}: {info.file_size:,} bytes, version {info.version}, subgraph {info.subgraph_name!r}")
    for name, ref in info.metadata.items():
        print(f"  metadata {name} = {ref}")
    if LLM_PARAMETERS in info.metadata:
        try:
            params = decode_llm_parameters(info.read_metadata_buffer(LLM_PARAMETERS, max_bytes=1 << 20))
            print(f"  sizes {params.sizes()}")
        except (ContainerError, ProtoError) as exc:
            print(f"  LlmParameters unreadable: {exc}")
    print(f"  model type {info.metadata.get(LLM_MODEL_TYPE)}, lora_rank {info.metadata.get(LORA_RANK)}")
    for t in info.tensors:
        print(f"  tensor {t.name} {t.size:,} bytes @ {t.offset:,}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.mediapipe_format")
    sub = parser.add_subparsers(dest="command", required=True)
    tiny = sub.add_parser("tiny", help="write the tiny base model and LoRAs used by browser tests")
    tiny.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    insp = sub.add_parser("inspect", help="print the metadata and tensors of a .bin file")
    insp.add_argument("files", type=Path, nargs="+")
    args = parser.parse_args(argv)

    if args.command == "tiny":
        for path in write_tiny_set(args.out):
            print(f"{path.name}\t{path.stat().st_size}\t{sha256_file(path)}")
        return 0
    return max(_inspect(p) for p in args.files)
