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
        **dict(config_overrides or {}),
    )
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
