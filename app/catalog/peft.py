"""Check a Hugging Face PEFT LoRA and convert it to a MediaPipe LoRA `.bin` (mediapipe-web.md §8.3).

Validation rejects, by name, everything the browser runtime cannot express: other PEFT types,
DoRA, per-module rank/alpha patterns, `modules_to_save`, biases, Conv1D (`fan_in_fan_out`)
weights, embedding LoRA, targets outside q/k/v/o/gate/up/down, ranks not declared to the
runtime, and tensors whose names or shapes do not fit the base model. Conversion then reads one
tensor at a time (never the whole adapter) and writes, per layer, Aᵀ and (s·B)ᵀ as fp16 4x4 tiles
with s = alpha/r (alpha/sqrt(r) for rsLoRA) folded in, zeros where nothing is targeted, the
swapped `post` names for o_proj, padded to >= 1 MiB — the file writer in app.mediapipe_format.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.catalog.base_models import GEMMA2_2B, BaseModelSpec
from app.catalog.errors import AdapterRejectedError
from app.catalog.safetensors_file import SafetensorsFile, read_safetensors
from app.mediapipe_format import LoraError, build_lora
from app.mediapipe_format.names import MLP_MODULES, PEFT_MODULES

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"
MAX_CONFIG_BYTES = 64 * 1024
ALLOWED_TARGETS = tuple(PEFT_MODULES)  # q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj
_ATTN = {"q_proj", "k_proj", "v_proj", "o_proj"}
_KEY = re.compile(
    r"base_model\.model\.model\.layers\.(?P<layer>\d{1,4})\."
    r"(?P<block>self_attn|mlp)\.(?P<module>[a-z_0-9]+)\.lora_(?P<factor>[AB])\.weight"
)


@dataclass(frozen=True)
class PeftAdapter:
    """A checked PEFT LoRA: everything conversion and the catalog entry need."""

    rank: int
    alpha: float
    use_rslora: bool
    scale: float
    target_modules: tuple[str, ...]
    """PEFT module names that carry tensors, in canonical order (q_proj, ..., down_proj)."""
    layers: tuple[int, ...]
    base_model_name: str | None
    base: BaseModelSpec
    weights: SafetensorsFile
    tensor_names: Mapping[tuple[int, str], tuple[str, str]]
    """(layer, short module) -> (lora_A name, lora_B name) in the safetensors file."""

    @property
    def include_mlp(self) -> bool:
        return any(module in MLP_MODULES for _, module in self.tensor_names)


def peft_scale(alpha: float, rank: int, *, use_rslora: bool) -> float:
    """PEFT's LoRA scaling: alpha/r, or alpha/sqrt(r) with rsLoRA."""
    return alpha / math.sqrt(rank) if use_rslora else alpha / rank


def _reject(message: str) -> AdapterRejectedError:
    return AdapterRejectedError(message)


def _load_config(path: Path) -> dict[str, object]:
    size = path.stat().st_size
    if size == 0:
        raise _reject(f"{CONFIG_NAME} is empty (0 bytes)")
    if size > MAX_CONFIG_BYTES:
        raise _reject(f"{CONFIG_NAME} is {size:,} bytes, more than the limit of {MAX_CONFIG_BYTES:,}")
    try:
        config = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _reject(f"{CONFIG_NAME} is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise _reject(f"{CONFIG_NAME} must hold a JSON object")
    return config


def _is_set(value: object) -> bool:
    return value not in (None, False, "", [], {}, 0)


def check_config(config: Mapping[str, object], *, base: BaseModelSpec, ranks: Sequence[int]) -> tuple[int, float, bool]:
    """Check adapter_config.json; return (r, lora_alpha, use_rslora)."""
    peft_type = config.get("peft_type")
    if peft_type != "LORA":
        raise _reject(f"{CONFIG_NAME}: peft_type is {peft_type!r}; only LORA adapters can run in the browser")
    base_name = config.get("base_model_name_or_path")
    if base_name not in (None, ""):
        if not isinstance(base_name, str):
            raise _reject(f"{CONFIG_NAME}: base_model_name_or_path must be a string")
        if not base.accepts_name(base_name):
            raise _reject(
                f"the adapter was trained on {base_name!r}, not {base.label}; "
                f"this catalog takes adapters for {base.expected_names}"
            )
    if config.get("use_dora"):
        raise _reject("DoRA adapters (use_dora: true) are not supported: the browser runtime applies plain LoRA only")
    rank = config.get("r")
    if not isinstance(rank, int) or isinstance(rank, bool):
        raise _reject(f"{CONFIG_NAME}: r must be an integer, got {rank!r:.40}")
    if rank not in ranks:
        raise _reject(
            f"rank r={rank} is not supported: the browser runtime is set up for ranks {', '.join(map(str, ranks))}"
        )
    alpha = config.get("lora_alpha", 8)  # PEFT's default
    if not isinstance(alpha, int | float) or isinstance(alpha, bool) or not math.isfinite(alpha) or alpha <= 0:
        raise _reject(f"{CONFIG_NAME}: lora_alpha must be a positive number, got {alpha!r:.40}")
    use_rslora = config.get("use_rslora", False)
    if not isinstance(use_rslora, bool):
        raise _reject(f"{CONFIG_NAME}: use_rslora must be true or false")
    for key, what in (("rank_pattern", "per-module ranks"), ("alpha_pattern", "per-module alphas")):
        if _is_set(config.get(key)):
            raise _reject(
                f"{key} ({what}) is not supported: the runtime takes one rank and one scale for the whole "
                "adapter; retrain without it"
            )
    if _is_set(config.get("modules_to_save")):
        raise _reject(
            f"modules_to_save ({config['modules_to_save']!r:.80}) is not supported: it ships fully trained copies "
            "of base layers, which a LoRA file cannot carry"
        )
    bias = config.get("bias", "none")
    if bias != "none":
        raise _reject(f"bias={bias!r:.20} is not supported: the runtime has no LoRA bias terms; use bias='none'")
    if config.get("lora_bias"):
        raise _reject("lora_bias: true is not supported: the runtime has no LoRA bias terms")
    if config.get("fan_in_fan_out"):
        raise _reject("fan_in_fan_out: true (Conv1D-style weights) is not supported; Gemma2 uses Linear layers")
    for key, what in (
        ("trainable_token_indices", "trainable token embeddings"),
        ("layer_replication", "layer replication"),
        ("target_parameters", "LoRA on raw parameters"),
        ("use_qalora", "QALoRA"),
        ("alora_invocation_tokens", "activated LoRA (aLoRA)"),
    ):
        if _is_set(config.get(key)):
            raise _reject(f"{key} ({what}) is not supported by the browser runtime")
    targets = config.get("target_modules")
    if isinstance(targets, list):
        for target in targets:
            if not isinstance(target, str):
                raise _reject(f"{CONFIG_NAME}: target_modules must be names, got {target!r:.40}")
            short = target.rsplit(".", 1)[-1]
            if short not in ALLOWED_TARGETS:
                raise _reject(
                    f"target module {target!r} cannot be applied by the browser runtime; "
                    f"allowed: {', '.join(ALLOWED_TARGETS)}"
                )
    elif targets is not None and not isinstance(targets, str):
        raise _reject(f"{CONFIG_NAME}: target_modules must be a list of names or a string")
    # A string (regex or "all-linear") is matched by PEFT at training time; the tensors checked
    # below are what it produced, so they are the authority.
    return rank, float(alpha), use_rslora


def _classify_unexpected(name: str) -> str:
    lower = name.lower()
    if "lora_magnitude_vector" in lower:
        return f"tensor {name!r} is a DoRA magnitude vector; DoRA adapters are not supported"
    if "lora_embedding_a" in lower or "lora_embedding_b" in lower:
        return f"tensor {name!r} is an embedding LoRA (lora_embedding_A/B); the runtime cannot apply LoRA to embeddings"
    for module in ("embed_tokens", "lm_head"):
        if f".{module}." in lower or lower.endswith(f".{module}.weight"):
            if "lora_" in lower:
                return f"tensor {name!r} targets {module}, which the browser runtime cannot apply LoRA to"
            return f"tensor {name!r} is a full copy of {module} (modules_to_save), which a LoRA file cannot carry"
    if lower.endswith(".bias"):
        return f"tensor {name!r} is a bias; LoRA biases (bias/lora_bias) are not supported"
    if "modules_to_save" in lower or "lora_" not in lower:
        return f"tensor {name!r} is not a LoRA factor (a full weight, e.g. from modules_to_save); not supported"
    match = re.search(r"\.([a-z_0-9]+)\.lora_[ab]\b", lower)
    if match and match.group(1) not in ALLOWED_TARGETS:
        return (
            f"tensor {name!r} targets module {match.group(1)!r}, which the browser runtime cannot apply; "
            f"allowed: {', '.join(ALLOWED_TARGETS)}"
        )
    return f"unexpected tensor {name!r}: PEFT LoRA keys look like base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight"


def check_tensor_name(name: str, *, base: BaseModelSpec) -> tuple[int, str, str]:
    """(layer, PEFT module, factor) of a LoRA key, or a rejection that says what the tensor is."""
    m = _KEY.fullmatch(name)
    if m is None or m["module"] not in ALLOWED_TARGETS:
        raise _reject(_classify_unexpected(name))
    module, block = m["module"], m["block"]
    if (module in _ATTN) != (block == "self_attn"):
        raise _reject(f"unexpected tensor {name!r}: {module} does not belong under {block}")
    layer = int(m["layer"])
    layers = base.sizes.num_stacks
    if layer >= layers:
        raise _reject(f"tensor {name!r} is for layer {layer}, but {base.label} has {layers} layers (0-{layers - 1})")
    return layer, module, m["factor"]


def check_tensors(
    weights: SafetensorsFile, *, base: BaseModelSpec, rank: int
) -> dict[tuple[int, str], tuple[str, str]]:
    """Match every tensor to (layer, module, factor) of the base and check its shape."""
    dims = base.peft_dims()
    found: dict[tuple[int, str], dict[str, str]] = {}
    for name in sorted(weights.tensors):
        layer, module, factor = check_tensor_name(name, base=base)
        fan_in, fan_out = dims[module]
        shape = weights.tensors[name].shape
        expected = (rank, fan_in) if factor == "A" else (fan_out, rank)
        if len(shape) != 2:
            raise _reject(
                f"layer {layer} {module} lora_{factor} has {len(shape)} dimensions; LoRA factors are matrices"
            )
        rows, cols = shape
        tensor_rank, features, want = (rows, cols, fan_in) if factor == "A" else (cols, rows, fan_out)
        if features == want and tensor_rank != rank:
            raise _reject(
                f"layer {layer} {module} lora_{factor} has rank {tensor_rank}, but {CONFIG_NAME} says r={rank}"
            )
        if shape != expected:
            raise _reject(
                f"layer {layer} {module} lora_{factor} has shape {list(shape)}; {base.label} needs "
                f"{list(expected)} ({base.describe_sizes()}): the adapter was made for another base model"
            )
        found.setdefault((layer, module), {})[factor] = name
    if not found:
        raise _reject(f"{WEIGHTS_NAME} holds no LoRA tensors")
    pairs: dict[tuple[int, str], tuple[str, str]] = {}
    for (layer, module), factors in sorted(found.items()):
        for need, other in (("A", "B"), ("B", "A")):
            if need not in factors:
                raise _reject(f"layer {layer} {module} has lora_{other} but no lora_{need}")
        pairs[(layer, PEFT_MODULES[module])] = (factors["A"], factors["B"])
    return pairs


def validate_peft(
    config_path: Path,
    weights_path: Path,
    *,
    base: BaseModelSpec = GEMMA2_2B,
    ranks: Sequence[int] = (4, 8, 16),
) -> PeftAdapter:
    """Check both files without loading tensor data; raises AdapterRejectedError with the reason."""
    config = _load_config(config_path)
    rank, alpha, use_rslora = check_config(config, base=base, ranks=ranks)
    dims = base.peft_dims()
    largest = max(max(d) for d in dims.values()) * rank * 4  # an F32 factor of the widest module
    weights = read_safetensors(
        weights_path,
        display_name=WEIGHTS_NAME,
        max_tensor_bytes=largest,
        check_name=functools.partial(check_tensor_name, base=base),
    )
    pairs = check_tensors(weights, base=base, rank=rank)
    modules = {module for _, module in pairs}
    targets = tuple(peft for peft, short in PEFT_MODULES.items() if short in modules)
    base_name = config.get("base_model_name_or_path")
    return PeftAdapter(
        rank=rank,
        alpha=alpha,
        use_rslora=use_rslora,
        scale=peft_scale(alpha, rank, use_rslora=use_rslora),
        target_modules=targets,
        layers=tuple(sorted({layer for layer, _ in pairs})),
        base_model_name=base_name if isinstance(base_name, str) and base_name else None,
        base=base,
        weights=weights,
        tensor_names=pairs,
    )


class _LazyFactors(Mapping[tuple[int, str], tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]]):
    """(layer, module) -> (A, B) read from the safetensors file only when the writer asks."""

    def __init__(self, adapter: PeftAdapter) -> None:
        self._adapter = adapter

    def __getitem__(self, key: tuple[int, str]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        a_name, b_name = self._adapter.tensor_names[key]
        weights = self._adapter.weights
        return weights.read(a_name), weights.read(b_name)

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return iter(self._adapter.tensor_names)

    def __len__(self) -> int:
        return len(self._adapter.tensor_names)

    def __contains__(self, key: object) -> bool:
        return key in self._adapter.tensor_names


@dataclass(frozen=True)
class Conversion:
    path: Path
    size: int
    rank: int
    include_mlp: bool


def convert_peft(adapter: PeftAdapter, out_path: Path) -> Conversion:
    """Write the MediaPipe LoRA `.bin`; a failure (e.g. fp16 overflow) leaves no file behind."""
    try:
        build_lora(
            out_path,
            params=adapter.base.params,
            rank=adapter.rank,
            factors=_LazyFactors(adapter),
            scale=adapter.scale,
            include_mlp=adapter.include_mlp,
        )
    except LoraError as exc:
        out_path.unlink(missing_ok=True)
        raise _reject(f"conversion failed: {exc}") from None
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    return Conversion(path=out_path, size=out_path.stat().st_size, rank=adapter.rank, include_mlp=adapter.include_mlp)
