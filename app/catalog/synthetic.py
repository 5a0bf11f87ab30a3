"""Synthetic PEFT LoRA adapters: for tests, benchmarks, the demo catalog and the browser check.

They are written exactly as PEFT's `save_pretrained(safe_serialization=True)` lays them out
(`adapter_config.json` + `adapter_model.safetensors` with `base_model.model.model.layers.N...`
keys), through the `safetensors` package, so the catalog's own reader is checked against the
reference writer.

`factorization_pair` builds the §8.4 invariance check of mediapipe-web.md: for an invertible r×r
matrix M, (A, B) and (M·A, B·M⁻¹) have the same product B·A, so after a correct conversion both
give identical greedy output in the real runtime, and a wrong tile layout or o_proj rule breaks it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors.numpy import save_file

from app.catalog.base_models import BaseModelSpec

Factors = dict[tuple[int, str], tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]]
"""(layer, PEFT module name such as 'q_proj') -> (A [r, in], B [out, r])."""

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
_BLOCK = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn"}


def peft_key(layer: int, module: str, factor: str) -> str:
    block = _BLOCK.get(module, "mlp")
    return f"base_model.model.model.layers.{layer}.{block}.{module}.lora_{factor}.weight"


def random_factors(
    base: BaseModelSpec,
    *,
    rank: int,
    modules: Sequence[str] = ATTENTION,
    layers: Iterable[int] | None = None,
    seed: int = 0,
    std: float = 0.3,
) -> Factors:
    dims = base.peft_dims()
    rng = np.random.default_rng(seed)
    chosen = range(base.sizes.num_stacks) if layers is None else layers
    factors: Factors = {}
    for layer in chosen:
        for module in modules:
            fan_in, fan_out = dims[module]
            a = rng.normal(0.0, std, size=(rank, fan_in)).astype(np.float32)
            b = rng.normal(0.0, std, size=(fan_out, rank)).astype(np.float32)
            factors[(layer, module)] = (a, b)
    return factors


def factorization_pair(
    base: BaseModelSpec,
    *,
    rank: int,
    modules: Sequence[str] = ATTENTION,
    seed: int = 0,
    std: float = 0.3,
) -> tuple[Factors, Factors]:
    """(A, B) and (M·A, B·M⁻¹) with M = orthogonal × diag(0.7..1.4), per layer and module."""
    first = random_factors(base, rank=rank, modules=modules, seed=seed, std=std)
    rng = np.random.default_rng(seed + 1_000_003)
    second: Factors = {}
    for key, (a, b) in first.items():
        q, _ = np.linalg.qr(rng.normal(size=(rank, rank)))
        m = q @ np.diag(rng.uniform(0.7, 1.4, size=rank))
        m_inv = np.linalg.inv(m)
        second[key] = ((m @ a.astype(np.float64)).astype(np.float32), (b.astype(np.float64) @ m_inv).astype(np.float32))
    return first, second


def adapter_config(
    *,
    rank: int,
    alpha: float,
    target_modules: Sequence[str],
    base_model_name: str | None,
    use_rslora: bool = False,
    **overrides: object,
) -> dict[str, object]:
    """An adapter_config.json as PEFT 0.1x writes it for a causal LM LoRA."""
    config: dict[str, object] = {
        "alpha_pattern": {},
        "auto_mapping": None,
        "base_model_name_or_path": base_model_name,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "layers_pattern": None,
        "layers_to_transform": None,
        "lora_alpha": alpha,
        "lora_dropout": 0.05,
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": rank,
        "rank_pattern": {},
        "revision": None,
        "target_modules": sorted(target_modules),
        "task_type": "CAUSAL_LM",
        "use_dora": False,
        "use_rslora": use_rslora,
    }
    config.update(overrides)
    return config


def write_peft_adapter(
    directory: Path,
    factors: Mapping[tuple[int, str], tuple[npt.ArrayLike, npt.ArrayLike]],
    *,
    rank: int,
    alpha: float,
    base_model_name: str | None,
    use_rslora: bool = False,
    dtype: str = "F32",
    config_overrides: Mapping[str, object] | None = None,
    extra_tensors: Mapping[str, npt.ArrayLike] | None = None,
) -> tuple[Path, Path]:
    """Write adapter_config.json + adapter_model.safetensors into ``directory``; return both paths."""
    np_dtype = {"F32": np.float32, "F16": np.float16}[dtype] if dtype != "BF16" else None
    tensors: dict[str, np.ndarray] = {}
    for (layer, module), (a, b) in factors.items():
        for factor, value in (("A", a), ("B", b)):
            if value is None:  # lets tests write a broken adapter with one factor missing
                continue
            array = np.asarray(value, dtype=np.float32)
            tensors[peft_key(layer, module, factor)] = array.astype(np_dtype) if np_dtype else _to_bf16(array)
    for name, value in (extra_tensors or {}).items():
        tensors[name] = np.asarray(value)
    directory.mkdir(parents=True, exist_ok=True)
    config = adapter_config(
        rank=rank,
        alpha=alpha,
        target_modules=sorted({module for _, module in factors}),
        base_model_name=base_model_name,
        use_rslora=use_rslora,
    )
    config.update(config_overrides or {})
    config_path = directory / "adapter_config.json"
    config_path.write_text(json.dumps(config, indent=2))
    weights_path = directory / "adapter_model.safetensors"
    if dtype == "BF16":
        _save_with_bf16(tensors, weights_path)
    else:
        save_file(tensors, str(weights_path), metadata={"format": "pt"})
    return config_path, weights_path


def _to_bf16(array: npt.NDArray[np.float32]) -> npt.NDArray[np.uint16]:
    """Round-to-nearest-even float32 -> bfloat16 bits (numpy has no bfloat16 dtype)."""
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    rounded = bits + 0x7FFF + ((bits >> 16) & 1)
    return (rounded >> 16).astype(np.uint16)


def _save_with_bf16(tensors: Mapping[str, np.ndarray], path: Path) -> None:
    """safetensors.numpy cannot label uint16 bits as BF16, so write the (simple) format by hand."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        dtype = "BF16" if array.dtype == np.uint16 else {np.dtype("<f4"): "F32", np.dtype("<f2"): "F16"}[array.dtype]
        raw = array.tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as handle:
        handle.write(len(encoded).to_bytes(8, "little"))
        handle.write(encoded)
        for raw in blobs:
            handle.write(raw)


def bf16_round(array: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """The float32 values a BF16 tensor written by `write_peft_adapter` decodes to."""
    return (_to_bf16(np.asarray(array, dtype=np.float32)).astype(np.uint32) << 16).view(np.float32)


# --------------------------------------------------------------------------- the §8.4 browser check

LAYOUTS = ("tiled", "row-major", "official-post")
"""tiled: the converter's (correct) layout. row-major: no 4x4 tiling. official-post: MediaPipe
0.10.35's o_proj rule (reinterpret, transpose, tile; §8.2). The last two are negative controls:
the runtime factorization check must fail with them."""


def write_lora_with_layout(
    path: Path,
    base: BaseModelSpec,
    factors: Mapping[tuple[int, str], tuple[npt.ArrayLike, npt.ArrayLike]],
    *,
    rank: int,
    scale: float = 1.0,
    layout: str = "tiled",
) -> Path:
    """A LoRA `.bin` in a chosen byte layout. Production conversion uses `convert_peft`; this
    exists so a browser test can show that wrong layouts are caught."""
    from app.mediapipe_format import ContainerWriter, lora_tensor_plan, required_header_reserve, tile4x4
    from app.mediapipe_format.names import PEFT_MODULES, SUBGRAPH_NAME, llm_metadata

    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}")
    short = {(layer, PEFT_MODULES[module]): pair for (layer, module), pair in factors.items()}
    include_mlp = any(module in ("gate", "up", "down") for _, module in short)
    plan = lora_tensor_plan(base.sizes, rank, include_mlp=include_mlp)
    params = base.params.encode()
    metadata = llm_metadata(params, tokenizer=None, lora_rank=rank)
    reserve = required_header_reserve([s.name for s in plan], metadata, subgraph_name=SUBGRAPH_NAME)
    with ContainerWriter(path, metadata=metadata, subgraph_name=SUBGRAPH_NAME, header_reserve=reserve) as writer:
        for spec in plan:
            pair = short.get((spec.layer, spec.module))
            if pair is None:
                writer.write_tensor(spec.name, bytes(spec.nbytes))
                continue
            a = np.asarray(pair[0], dtype=np.float32)
            b = np.asarray(pair[1], dtype=np.float32)
            matrix = a.T if spec.factor == "first" else (np.float32(scale) * b).T
            if layout == "row-major":
                flat = np.ascontiguousarray(matrix).reshape(-1)
            elif layout == "official-post" and spec.module == "o":
                rows, cols = matrix.shape
                flat = tile4x4(np.ascontiguousarray(matrix).reshape(cols, rows).T)
            else:
                flat = tile4x4(matrix)
            writer.write_tensor(spec.name, flat.astype("<f2").tobytes())
    return path


def build_factorization_set(
    out_dir: Path,
    *,
    rank: int = 4,
    modules: Sequence[str] = ATTENTION,
    seed: int = 7,
    hidden: int = 128,
    heads: int = 4,
    kv_heads: int = 2,
    head_dim: int = 64,
    ffn: int = 256,
    layers: int = 2,
    vocab: int = 256,
) -> dict[str, Path]:
    """Everything the in-browser factorization test (§8.4) loads, written into ``out_dir``.

    base.bin: a tiny base with these dimensions (default 4 heads of 64 on width 128, so q/o are
    not square). For each of the two factorizations, a PEFT adapter folder (uploadable as is)
    and its conversion by the catalog's own validator + converter: `ab.bin` and `mamb.bin`
    must give identical greedy output and differ from the base. Negative controls with the
    same (M·A, B·M⁻¹) factors: `mamb-row-major.bin` and `mamb-official-post.bin` must differ
    from `ab.bin` (the latter only when o_proj is among ``modules``).
    """
    from app.catalog.base_models import tiny_spec
    from app.catalog.peft import convert_peft, validate_peft
    from app.mediapipe_format import build_tiny_base

    dims = {
        "hidden": hidden,
        "heads": heads,
        "kv_heads": kv_heads,
        "head_dim": head_dim,
        "ffn": ffn,
        "layers": layers,
        "vocab": vocab,
    }
    base = tiny_spec(**dims)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {"base": build_tiny_base(out_dir / "base.bin", **dims)}
    ab, mamb = factorization_pair(base, rank=rank, modules=modules, seed=seed)
    for label, factors in (("ab", ab), ("mamb", mamb)):
        config, weights = write_peft_adapter(
            out_dir / f"{label}-peft", factors, rank=rank, alpha=rank, base_model_name="lorastudio/tiny-gemma2"
        )
        adapter = validate_peft(config, weights, base=base, ranks=(rank,))
        paths[label] = convert_peft(adapter, out_dir / f"{label}.bin").path
        paths[f"{label}-peft"] = config.parent
    for layout in ("row-major", "official-post"):
        paths[f"mamb-{layout}"] = write_lora_with_layout(
            out_dir / f"mamb-{layout}.bin", base, mamb, rank=rank, layout=layout
        )
    return paths
