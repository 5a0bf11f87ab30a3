"""Tiny random Gemma2-shaped models for CI (docs/mediapipe-web.md §6.6, §8.4).

Why: the real Gemma2-2b needs > 1 GiB GPU buffers (not available on SwiftShader), but the
runtime happily runs a 128-wide, 2-layer model with model type 18. These files exercise the
real load / tokenize / generate / LoRA path; they say nothing about answer quality.
Everything is a pure function of the seed and dimensions: same arguments, same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .container import ContainerWriter, required_header_reserve
from .lora import FactorPair, build_lora, module_dims
from .names import MODULES, SUBGRAPH_NAME, base_tensor_names, llm_metadata
from .proto import LlmParameters, tiny_parameters
from .tokenizer import build_tokenizer

__all__ = [
    "BASE_STD",
    "LORA_STD",
    "build_tiny_base",
    "build_tiny_lora",
    "tiny_lora_factors",
]

BASE_STD = 0.05
LORA_STD = 0.3


def build_tiny_base(
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    hidden: int = 128,
    heads: int = 2,
    kv_heads: int = 1,
    head_dim: int = 64,
    ffn: int = 256,
    layers: int = 2,
    vocab: int = 256,
) -> Path:
    """Write a tiny base ``.bin``: N(0, 0.05²) fp16 row-major matrices, fp32 norm scales of 1.0.

    The tokenizer has ``vocab`` pieces and LlmParameters.vocab_size matches it.
    """
    params = tiny_parameters(
        hidden=hidden, heads=heads, kv_heads=kv_heads, head_dim=head_dim, ffn=ffn, layers=layers, vocab=vocab
    )
    metadata = llm_metadata(params.encode(), tokenizer=build_tokenizer(vocab))
    names = base_tensor_names(layers)
    q_out, kv_out = heads * head_dim, kv_heads * head_dim
    layer_shapes: dict[str, tuple[int, ...]] = {
        "pre_layer_norm.scale": (hidden,),
        "self_attention.q.w": (hidden, q_out),
        "self_attention.k.w": (hidden, kv_out),
        "self_attention.v.w": (hidden, kv_out),
        "self_attention.post.w": (q_out, hidden),
        "post_layer_norm.scale": (hidden,),
        "ff_layer.pre_layer_norm.scale": (hidden,),
        "ff_layer.ffn_layer1_gate.w": (hidden, ffn),
        "ff_layer.ffn_layer1.w": (hidden, ffn),
        "ff_layer.ffn_layer2.w": (ffn, hidden),
        "ff_layer.post_layer_norm.scale": (hidden,),
    }
    rng = np.random.default_rng(seed)
    reserve = required_header_reserve(names, metadata, subgraph_name=SUBGRAPH_NAME)
    with ContainerWriter(path, metadata=metadata, subgraph_name=SUBGRAPH_NAME, header_reserve=reserve) as writer:
        for name in names:
            if name == "params.lm.softmax.logits_ffn.w":
                shape: tuple[int, ...] = (vocab, hidden)
            elif name == "params.lm.final_ln.scale":
                shape = (hidden,)
            else:
                shape = layer_shapes[name.split(".", 4)[4]]
            if name.endswith(".scale"):
                data = np.ones(shape, dtype="<f4").tobytes()
            else:
                data = rng.normal(0.0, BASE_STD, size=shape).astype("<f2").tobytes()
            writer.write_tensor(name, data)
    return Path(path)


def tiny_lora_factors(
    params: LlmParameters,
    *,
    seed: int,
    rank: int,
    modules: Sequence[str] = ("q", "k", "v", "o"),
    std: float = LORA_STD,
) -> dict[tuple[int, str], FactorPair]:
    """Random PEFT-orientation factors A [r, in], B [out, r] ~ N(0, std²), drawn layer by layer."""
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        raise ValueError(f"unknown modules {unknown}; expected some of {', '.join(MODULES)}")
    sizes = params.sizes()
    dims = module_dims(sizes)
    rng = np.random.default_rng(seed)
    factors: dict[tuple[int, str], FactorPair] = {}
    for layer in range(sizes.num_stacks):
        for module in MODULES:
            if module not in modules:
                continue
            fan_in, fan_out = dims[module]
            a = rng.normal(0.0, std, size=(rank, fan_in)).astype(np.float32)
            b = rng.normal(0.0, std, size=(fan_out, rank)).astype(np.float32)
            factors[(layer, module)] = (a, b)
    return factors


def build_tiny_lora(
    path: str | os.PathLike[str],
    *,
    seed: int = 1,
    rank: int = 4,
    modules: Sequence[str] = ("q", "k", "v", "o"),
    hidden: int = 128,
    heads: int = 2,
    kv_heads: int = 1,
    head_dim: int = 64,
    ffn: int = 256,
    layers: int = 2,
    vocab: int = 256,
    include_tokenizer: bool = True,
) -> Path:
    """Write a random LoRA ``.bin`` matching :func:`build_tiny_base` with the same dimensions."""
    params = tiny_parameters(
        hidden=hidden, heads=heads, kv_heads=kv_heads, head_dim=head_dim, ffn=ffn, layers=layers, vocab=vocab
    )
    factors = tiny_lora_factors(params, seed=seed, rank=rank, modules=modules)
    return build_lora(
        path,
        params=params,
        rank=rank,
        factors=factors,
        tokenizer=build_tokenizer(vocab) if include_tokenizer else None,
    )
