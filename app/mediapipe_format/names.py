"""Tensor and metadata names of MediaPipe Gemma ``.bin`` files (docs/mediapipe-web.md §6.2-§6.3, §7.2).

Kept in one place because the tiny-model builder, the LoRA writer, the PEFT converter and the
catalog's validation must all agree on them byte for byte.
"""

from __future__ import annotations

from typing import Literal

from .container import MetadataBuffer, MetadataItem, MetadataValue
from .proto import LlmModelType

__all__ = [
    "ATTENTION_MODULES",
    "BACKEND",
    "LLM_MODEL_TYPE",
    "LLM_PARAMETERS",
    "LORA_RANK",
    "MLP_MODULES",
    "MODULES",
    "MODULE_TENSOR",
    "PEFT_MODULES",
    "SPM_VOCAB_MODEL",
    "SUBGRAPH_NAME",
    "Factor",
    "base_tensor_names",
    "layer_prefix",
    "llm_metadata",
    "lora_tensor_name",
]

LLM_PARAMETERS = "odml.infra.proto.LlmParameters"
SPM_VOCAB_MODEL = "spm_vocab_model"
LLM_MODEL_TYPE = "odml.infra.LlmModelType"
BACKEND = "backend"
LORA_RANK = "lora_rank"
SUBGRAPH_NAME = "GEMMA2_2B"
"""The converter names the subgraph after the model type; unnamed files also load (§6.1)."""

ATTENTION_MODULES = ("q", "k", "v", "o")
MLP_MODULES = ("gate", "up", "down")
MODULES = ATTENTION_MODULES + MLP_MODULES

MODULE_TENSOR = {
    "q": "self_attention.q",
    "k": "self_attention.k",
    "v": "self_attention.v",
    "o": "self_attention.post",
    "gate": "ff_layer.ffn_layer1_gate",
    "up": "ff_layer.ffn_layer1",
    "down": "ff_layer.ffn_layer2",
}

PEFT_MODULES = {
    "q_proj": "q",
    "k_proj": "k",
    "v_proj": "v",
    "o_proj": "o",
    "gate_proj": "gate",
    "up_proj": "up",
    "down_proj": "down",
}
"""PEFT/HF target-module names -> short module keys used here."""

Factor = Literal["first", "second"]


def layer_prefix(layer: int) -> str:
    return f"params.lm.transformer.x_layers_{layer}."


def base_tensor_names(num_layers: int) -> list[str]:
    """Base-model tensor names in file order: embedding, 11 per layer, final norm (§6.3)."""
    per_layer = (
        "pre_layer_norm.scale",
        "self_attention.q.w",
        "self_attention.k.w",
        "self_attention.v.w",
        "self_attention.post.w",
        "post_layer_norm.scale",
        "ff_layer.pre_layer_norm.scale",
        "ff_layer.ffn_layer1_gate.w",
        "ff_layer.ffn_layer1.w",
        "ff_layer.ffn_layer2.w",
        "ff_layer.post_layer_norm.scale",
    )
    names = ["params.lm.softmax.logits_ffn.w"]
    for i in range(num_layers):
        names.extend(layer_prefix(i) + n for n in per_layer)
    names.append("params.lm.final_ln.scale")
    return names


def lora_tensor_name(layer: int, module: str, factor: Factor) -> str:
    """Name of a LoRA factor tensor.

    The factor applied first (PEFT ``lora_A``ᵀ) is ``w_prime_left`` except for o_proj
    (``post``), where the names are swapped: its first factor is ``w_prime_right`` (§7.2).
    """
    if module not in MODULE_TENSOR:
        raise ValueError(f"unknown LoRA module {module!r}; expected one of {', '.join(MODULES)}")
    first_is_left = module != "o"
    left = (factor == "first") == first_is_left
    return f"{layer_prefix(layer)}{MODULE_TENSOR[module]}.{'w_prime_left' if left else 'w_prime_right'}"


def llm_metadata(
    llm_parameters: bytes,
    *,
    tokenizer: bytes | None,
    model_type: int = LlmModelType.GEMMA2_2B,
    backend: str = "gpu",
    lora_rank: int | None = None,
) -> list[MetadataItem]:
    """The converter's metadata set, in its buffer order: params, tokenizer, "gpu" (§6.1-§6.2, §7.1)."""
    items: list[MetadataItem] = [MetadataBuffer(LLM_PARAMETERS, llm_parameters)]
    if tokenizer is not None:
        items.append(MetadataBuffer(SPM_VOCAB_MODEL, tokenizer))
    items.append(MetadataValue(LLM_MODEL_TYPE, int(model_type)))
    items.append(MetadataBuffer(BACKEND, backend.encode("ascii")))
    if lora_rank is not None:
        items.append(MetadataValue(LORA_RANK, lora_rank))
    return items
