"""Write a MediaPipe LoRA ``.bin`` from PEFT-orientation factors (docs/mediapipe-web.md §7, §8.3).

Input per (layer, module): ``A`` [r, in] and ``B`` [out, r], exactly as PEFT stores
``lora_A.weight`` / ``lora_B.weight``. The file holds ``first = Aᵀ`` [in, r] and
``second = (scale·B)ᵀ`` [r, out] as fp16 in 4x4 tiles. Neither the file nor the runtime knows
``lora_alpha``, so the PEFT scale must be folded in here. o_proj uses the straight rule with the
swapped ``post`` names (the official converter scrambles o_proj, §8.2).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .container import ContainerWriter, required_header_reserve
from .names import ATTENTION_MODULES, MLP_MODULES, MODULES, SUBGRAPH_NAME, Factor, llm_metadata, lora_tensor_name
from .proto import LlmModelType, LlmParameters, ModelSizes, decode_llm_parameters
from .tiles import fp16_tiled_bytes

__all__ = [
    "FactorPair",
    "LoraError",
    "LoraTensorSpec",
    "build_lora",
    "lora_tensor_plan",
    "module_dims",
]

FactorPair = tuple[npt.ArrayLike, npt.ArrayLike]
"""(A [r, in], B [out, r]) in PEFT orientation."""


class LoraError(ValueError):
    """Factors that cannot be written as a runtime-compatible LoRA file."""


@dataclass(frozen=True)
class LoraTensorSpec:
    """One tensor of a LoRA file: which factor of which module, its logical shape and byte size."""

    name: str
    layer: int
    module: str
    factor: Factor
    shape: tuple[int, int]

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.shape[1] * 2


def module_dims(sizes: ModelSizes) -> dict[str, tuple[int, int]]:
    """(in_features, out_features) of every LoRA-able projection, from the model's sizes."""
    h = sizes.embedding_dim
    q_out = sizes.num_heads * sizes.head_dimension
    kv_heads = sizes.num_kv_heads or sizes.num_heads
    kv_out = kv_heads * sizes.head_dimension
    ff = sizes.hidden_dimension
    return {
        "q": (h, q_out),
        "k": (h, kv_out),
        "v": (h, kv_out),
        "o": (q_out, h),
        "gate": (h, ff),
        "up": (h, ff),
        "down": (ff, h),
    }


def lora_tensor_plan(sizes: ModelSizes, rank: int, *, include_mlp: bool) -> list[LoraTensorSpec]:
    """All tensors in file order: per layer q, k, v, post (+ gate, up, down), first factor first."""
    if rank <= 0 or rank % 4:
        raise LoraError(f"LoRA rank must be a positive multiple of 4 (4x4 tiles), got {rank}")
    dims = module_dims(sizes)
    modules = ATTENTION_MODULES + (MLP_MODULES if include_mlp else ())
    plan: list[LoraTensorSpec] = []
    for layer in range(sizes.num_stacks):
        for module in modules:
            fan_in, fan_out = dims[module]
            factors: tuple[tuple[Factor, tuple[int, int]], ...] = (
                ("first", (fan_in, rank)),
                ("second", (rank, fan_out)),
            )
            for factor, shape in factors:
                plan.append(LoraTensorSpec(lora_tensor_name(layer, module, factor), layer, module, factor, shape))
    return plan


def _check_keys(factors: Mapping[tuple[int, str], FactorPair], num_layers: int) -> None:
    for key in factors:
        if not (isinstance(key, tuple) and len(key) == 2):
            raise LoraError(f"factor keys must be (layer, module) tuples, got {key!r}")
        layer, module = key
        if module not in MODULES:
            raise LoraError(f"unknown module {module!r}; expected one of {', '.join(MODULES)}")
        if not isinstance(layer, int) or not 0 <= layer < num_layers:
            raise LoraError(f"layer {layer!r} is outside 0..{num_layers - 1}")


def _factor_matrices(
    pair: FactorPair, *, layer: int, module: str, rank: int, dims: tuple[int, int], scale: float
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    a = np.asarray(pair[0], dtype=np.float32)
    b = np.asarray(pair[1], dtype=np.float32)
    fan_in, fan_out = dims
    if a.shape != (rank, fan_in):
        raise LoraError(f"layer {layer} {module}: lora_A has shape {a.shape}, expected {(rank, fan_in)}")
    if b.shape != (fan_out, rank):
        raise LoraError(f"layer {layer} {module}: lora_B has shape {b.shape}, expected {(fan_out, rank)}")
    return a.T, (b * np.float32(scale)).T


def build_lora(
    path: str | os.PathLike[str],
    *,
    params: LlmParameters | bytes,
    rank: int,
    factors: Mapping[tuple[int, str], FactorPair],
    scale: float = 1.0,
    include_mlp: bool | None = None,
    tokenizer: bytes | None = None,
    model_type: int = LlmModelType.GEMMA2_2B,
    subgraph_name: str | None = SUBGRAPH_NAME,
) -> Path:
    """Write a LoRA ``.bin`` for the base described by ``params``.

    ``factors`` maps (layer, module) -> (A, B) in PEFT orientation; modules are q, k, v, o,
    gate, up, down. It may be a lazy Mapping (values are fetched one at a time while writing).
    Missing entries are written as zeros; all 8 attention tensors per layer are always present,
    and all 6 MLP tensors per layer when ``include_mlp`` (default: when any MLP module has
    factors). ``scale`` (PEFT's alpha/r, or alpha/sqrt(r) for rsLoRA) is folded into B.
    ``params`` should be the base file's own LlmParameters bytes when available, so the
    adapter carries exactly what its base carries. The file is zero-padded to >= 1 MiB.
    """
    params_bytes = params.encode() if isinstance(params, LlmParameters) else bytes(params)
    sizes = decode_llm_parameters(params_bytes).sizes()
    if sizes.num_stacks <= 0:
        raise LoraError("LlmParameters has no layers (num_stacks is 0)")
    _check_keys(factors, sizes.num_stacks)
    has_mlp = any(module in MLP_MODULES for _, module in factors)
    if include_mlp is None:
        include_mlp = has_mlp
    elif has_mlp and not include_mlp:
        raise LoraError("MLP factors were given but include_mlp=False")
    plan = lora_tensor_plan(sizes, rank, include_mlp=include_mlp)
    dims = module_dims(sizes)
    metadata = llm_metadata(params_bytes, tokenizer=tokenizer, model_type=model_type, lora_rank=rank)
    reserve = required_header_reserve([t.name for t in plan], metadata, subgraph_name=subgraph_name)

    with ContainerWriter(path, metadata=metadata, subgraph_name=subgraph_name, header_reserve=reserve) as writer:
        pending: npt.NDArray[np.float32] | None = None
        for spec in plan:
            key = (spec.layer, spec.module)
            if key not in factors:
                writer.write_tensor(spec.name, bytes(spec.nbytes))
                continue
            if spec.factor == "first":
                first, pending = _factor_matrices(
                    factors[key], layer=spec.layer, module=spec.module, rank=rank, dims=dims[spec.module], scale=scale
                )
                matrix = first
            else:
                if pending is None:  # plan always yields first then second
                    raise LoraError(f"internal error: no first factor before {spec.name}")
                matrix, pending = pending, None
            what = f"layer {spec.layer} {spec.module} {'lora_A' if spec.factor == 'first' else 'scaled lora_B'}"
            try:
                data = fp16_tiled_bytes(matrix, what=what)
            except ValueError as exc:
                raise LoraError(str(exc)) from exc
            writer.write_tensor(spec.name, data, size=spec.nbytes)
    return Path(path)
