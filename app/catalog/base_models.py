"""The base models adapters are checked against: their dimensions and the names they go by.

Gemma2-2b is the product's base. The tiny Gemma2-shaped family (mediapipe-web.md §6.6) is what
CI and the demo catalog run in a browser without a GPU; it goes through the same checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.mediapipe_format import LlmParameters, ModelSizes, gemma2_2b_parameters, module_dims, tiny_parameters
from app.mediapipe_format.names import PEFT_MODULES

TINY_HF_NAME = "lorastudio/tiny-gemma2"


@dataclass(frozen=True)
class BaseModelSpec:
    label: str
    """How messages name it: 'Gemma2-2b'."""
    name_pattern: re.Pattern[str]
    """Matches the last path component of PEFT's base_model_name_or_path (lowercased)."""
    expected_names: str
    """For messages: which names are accepted."""
    params: LlmParameters

    @property
    def sizes(self) -> ModelSizes:
        return self.params.sizes()

    def peft_dims(self) -> dict[str, tuple[int, int]]:
        """(in_features, out_features) per PEFT module name (q_proj, ..., down_proj)."""
        dims = module_dims(self.sizes)
        return {peft: dims[short] for peft, short in PEFT_MODULES.items()}

    def accepts_name(self, base_model_name_or_path: str) -> bool:
        last = base_model_name_or_path.rstrip("/").rsplit("/", 1)[-1].lower()
        return bool(self.name_pattern.match(last))

    def describe_sizes(self) -> str:
        s = self.sizes
        return (
            f"{s.num_stacks} layers, width {s.embedding_dim}, {s.num_heads} heads and {s.num_kv_heads} KV heads "
            f"of {s.head_dimension}, MLP {s.hidden_dimension}"
        )


GEMMA2_2B = BaseModelSpec(
    label="Gemma2-2b",
    # gemma-2-2b, gemma-2-2b-it, and same-architecture variants such as gemma-2-2b-it-bnb-4bit.
    name_pattern=re.compile(r"gemma-?2-2b(?:$|[-_.])"),
    expected_names="google/gemma-2-2b or google/gemma-2-2b-it",
    params=gemma2_2b_parameters(),
)


def tiny_spec(
    *,
    hidden: int = 128,
    heads: int = 2,
    kv_heads: int = 1,
    head_dim: int = 64,
    ffn: int = 256,
    layers: int = 2,
    vocab: int = 256,
) -> BaseModelSpec:
    """The tiny test base with the same dimensions as mediapipe_format.build_tiny_base's arguments."""
    return BaseModelSpec(
        label="the tiny test model",
        name_pattern=re.compile(r"tiny-gemma2$"),
        expected_names=TINY_HF_NAME,
        params=tiny_parameters(
            hidden=hidden, heads=heads, kv_heads=kv_heads, head_dim=head_dim, ffn=ffn, layers=layers, vocab=vocab
        ),
    )
