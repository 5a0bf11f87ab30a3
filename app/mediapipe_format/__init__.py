"""Read and write MediaPipe LLM ``.bin`` files (base models and LoRA adapters) in pure Python.

Facts and layouts come from docs/mediapipe-web.md (§6-§8); see each module for the part it owns.
No mediapipe, tflite, torch or jax dependency: numpy, flatbuffers and sentencepiece only.
"""

from .container import (
    BufferInfo,
    ContainerError,
    ContainerInfo,
    ContainerWriter,
    MetadataBuffer,
    MetadataValue,
    TensorInfo,
    read_container,
    required_header_reserve,
)
from .lora import LoraError, LoraTensorSpec, build_lora, lora_tensor_plan, module_dims
from .proto import (
    LlmModelType,
    LlmParameters,
    ModelSizes,
    ProtoError,
    TransformerParameters,
    decode_llm_parameters,
    gemma2_2b_parameters,
    tiny_parameters,
)
from .tiles import Fp16RangeError, fp16_tiled_bytes, tile4x4, to_fp16, untile4x4
from .tiny import build_tiny_base, build_tiny_lora, tiny_lora_factors
from .tokenizer import build_tokenizer, load_tokenizer

__all__ = [
    "BufferInfo",
    "ContainerError",
    "ContainerInfo",
    "ContainerWriter",
    "Fp16RangeError",
    "LlmModelType",
    "LlmParameters",
    "LoraError",
    "LoraTensorSpec",
    "MetadataBuffer",
    "MetadataValue",
    "ModelSizes",
    "ProtoError",
    "TensorInfo",
    "TransformerParameters",
    "build_lora",
    "build_tiny_base",
    "build_tiny_lora",
    "build_tokenizer",
    "decode_llm_parameters",
    "fp16_tiled_bytes",
    "gemma2_2b_parameters",
    "load_tokenizer",
    "lora_tensor_plan",
    "module_dims",
    "read_container",
    "required_header_reserve",
    "tile4x4",
    "tiny_lora_factors",
    "tiny_parameters",
    "to_fp16",
    "untile4x4",
]
