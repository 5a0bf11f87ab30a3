"""Minimal protobuf wire-format codec for MediaPipe's ``odml.infra.proto.LlmParameters``.

Why hand-written: the generated ``*_pb2`` modules only ship in old mediapipe wheels
(docs/mediapipe-web.md §1), and we need just one message family. Field numbers follow
§6.5 of that doc; values for Gemma2-2b follow §6.4. Encoding is canonical (fields in
number order, proto3 implicit defaults omitted) so output is byte-stable.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

__all__ = [
    "Activation",
    "AttentionMaskType",
    "AttentionScaleType",
    "FeedForwardParameters",
    "FinalProjectParameters",
    "LlmModelType",
    "LlmParameters",
    "ModelSizes",
    "Norm",
    "PromptTemplate",
    "ProtoError",
    "ResidualAdapterParameters",
    "SelfAttentionParameters",
    "TransformerParameters",
    "decode_llm_parameters",
    "gemma2_2b_parameters",
    "tiny_parameters",
]


class ProtoError(ValueError):
    """Raised when bytes are not a well-formed ``LlmParameters`` message."""


class Norm(IntEnum):
    NORM_UNSPECIFIED = 0
    NO_NORM = 1
    RMS_NORM = 2
    LAYER_NORM = 3


class Activation(IntEnum):
    ACTIVATION_UNSPECIFIED = 0
    GELU = 1
    SILU = 2
    RELU = 3
    RELU1P5 = 4


class AttentionMaskType(IntEnum):
    UNSPECIFIED = 0
    CAUSAL = 1
    PREFIX = 2
    BIDIRECTIONAL = 3


class AttentionScaleType(IntEnum):
    SCALE_TYPE_UNSPECIFIED = 0
    SCALE_TYPE_PER_DIM_SCALE = 1
    SCALE_TYPE_INV_SQRT_HEAD_DIM = 2
    SCALE_TYPE_INV_SQRT_D_MODEL_DIV_NUM_HEADS = 3
    SCALE_TYPE_RESCALE_FACTOR_INV_HEAD_DIM = 4


class LlmModelType(IntEnum):
    """Values stored (as a raw number) in the ``odml.infra.LlmModelType`` metadata entry."""

    UNKNOWN = 0
    FALCON_RW_1B = 5
    GEMMA_2B = 6
    STABLELM_4E1T_3B = 8
    PHI_2 = 11
    GEMMA_7B = 12
    GEMMA2_2B = 18
    TF_LITE = 100


# --------------------------------------------------------------------------- wire encoding

_WT_VARINT = 0
_WT_FIXED64 = 1
_WT_LEN = 2
_WT_FIXED32 = 5

_U64 = (1 << 64) - 1


def _varint(value: int) -> bytes:
    """Encode an integer as a base-128 varint; negatives use 64-bit two's complement."""
    value &= _U64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint((number << 3) | wire_type)


def _enc_int(number: int, value: int) -> bytes:
    return _key(number, _WT_VARINT) + _varint(int(value))


def _enc_bool(number: int, value: bool) -> bytes:
    return _key(number, _WT_VARINT) + (b"\x01" if value else b"\x00")


def _enc_float(number: int, value: float) -> bytes:
    return _key(number, _WT_FIXED32) + struct.pack("<f", value)


def _enc_bytes(number: int, value: bytes) -> bytes:
    return _key(number, _WT_LEN) + _varint(len(value)) + value


def _enc_str(number: int, value: str) -> bytes:
    return _enc_bytes(number, value.encode("utf-8"))


class _Enc:
    """Accumulates fields; ``implicit`` helpers skip proto3 default values."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def int_(self, number: int, value: int) -> None:
        if value:
            self.parts.append(_enc_int(number, value))

    def opt_int(self, number: int, value: int | None) -> None:
        if value is not None:
            self.parts.append(_enc_int(number, value))

    def bool_(self, number: int, value: bool) -> None:
        if value:
            self.parts.append(_enc_bool(number, value))

    def float_(self, number: int, value: float) -> None:
        if value != 0.0 or struct.pack("<f", value) != b"\x00\x00\x00\x00":
            self.parts.append(_enc_float(number, value))

    def opt_float(self, number: int, value: float | None) -> None:
        if value is not None:
            self.parts.append(_enc_float(number, value))

    def str_(self, number: int, value: str) -> None:
        if value:
            self.parts.append(_enc_str(number, value))

    def opt_str(self, number: int, value: str | None) -> None:
        if value is not None:
            self.parts.append(_enc_str(number, value))

    def msg(self, number: int, value: bytes | None) -> None:
        if value is not None:
            self.parts.append(_enc_bytes(number, value))

    def bytes(self) -> bytes:
        return b"".join(self.parts)


# --------------------------------------------------------------------------- messages


@dataclass
class FeedForwardParameters:
    """``TransformerParameters.FeedForwardParameters`` (§6.5)."""

    no_bias: bool = False
    activation: int = Activation.ACTIVATION_UNSPECIFIED
    pre_norm: int = Norm.NORM_UNSPECIFIED
    post_norm: int = Norm.NORM_UNSPECIFIED

    def encode(self) -> bytes:
        e = _Enc()
        e.bool_(1, self.no_bias)
        e.int_(2, self.activation)
        e.int_(3, self.pre_norm)
        e.int_(4, self.post_norm)
        return e.bytes()


@dataclass
class FinalProjectParameters:
    """``TransformerParameters.FinalProjectParameters`` (§6.5)."""

    no_bias: bool = False
    soft_cap_value: float = 0.0

    def encode(self) -> bytes:
        e = _Enc()
        e.bool_(1, self.no_bias)
        e.float_(2, self.soft_cap_value)
        return e.bytes()


@dataclass
class SelfAttentionParameters:
    """``TransformerParameters.SelfAttentionParameters`` (§6.5)."""

    qkv_no_bias: bool = False
    post_proj_no_bias: bool = False
    attention_mask_type: int = AttentionMaskType.UNSPECIFIED
    soft_cap_value: float = 0.0
    attention_scale_type: int | None = None  # explicit presence

    def encode(self) -> bytes:
        e = _Enc()
        e.bool_(1, self.qkv_no_bias)
        e.bool_(2, self.post_proj_no_bias)
        e.int_(3, self.attention_mask_type)
        e.float_(4, self.soft_cap_value)
        e.opt_int(5, self.attention_scale_type)
        return e.bytes()


@dataclass
class ResidualAdapterParameters:
    """``TransformerParameters.ResidualAdapterParameters`` (§6.5); unused by Gemma2."""

    where_to_interleave: int = 0
    bottleneck_dimension: int = 0

    def encode(self) -> bytes:
        e = _Enc()
        e.int_(1, self.where_to_interleave)
        e.int_(2, self.bottleneck_dimension)
        return e.bytes()


@dataclass
class PromptTemplate:
    """``odml.infra.proto.PromptTemplate``; the Gemma2 converter leaves it unset (§3.3)."""

    session_prefix: str = ""
    prompt_prefix: str = ""
    prompt_suffix: str = ""

    def encode(self) -> bytes:
        e = _Enc()
        e.str_(1, self.session_prefix)
        e.str_(2, self.prompt_prefix)
        e.str_(3, self.prompt_suffix)
        return e.bytes()


@dataclass
class TransformerParameters:
    """``odml.infra.proto.TransformerParameters`` (§6.5). Sizes are what the runtime reads."""

    batch_size: int = 0
    max_seq_length: int = 0
    embedding_dim: int = 0
    hidden_dimension: int = 0
    head_dimension: int = 0
    num_heads: int = 0
    num_stacks: int = 0
    num_kv_heads: int = 0
    feed_forward_parameters: FeedForwardParameters | None = None
    final_project_parameters: FinalProjectParameters | None = None
    pre_norm: int = Norm.NORM_UNSPECIFIED
    post_norm: int = Norm.NORM_UNSPECIFIED
    final_norm: int = Norm.NORM_UNSPECIFIED
    self_attention_parameters: SelfAttentionParameters | None = None
    skip_absolute_positional_embeddings: bool = False
    residual_adapter_parameters: ResidualAdapterParameters | None = None
    query_rescale_factor: float | None = None  # explicit presence
    vision_tokens_num: int = 0
    num_extra_stacks: int = 0
    max_num_images: int = 0
    audio_vocab_offset: int = 0
    audio_vocab_extra_dim: int = 0
    audio_input_embedding_dim: int = 0

    def encode(self) -> bytes:
        e = _Enc()
        e.int_(1, self.batch_size)
        e.int_(2, self.max_seq_length)
        e.int_(3, self.embedding_dim)
        e.int_(4, self.hidden_dimension)
        e.int_(5, self.head_dimension)
        e.int_(6, self.num_heads)
        e.int_(7, self.num_stacks)
        e.int_(9, self.num_kv_heads)
        e.msg(11, _maybe(self.feed_forward_parameters))
        e.msg(12, _maybe(self.final_project_parameters))
        e.int_(13, self.pre_norm)
        e.int_(14, self.post_norm)
        e.int_(15, self.final_norm)
        e.msg(16, _maybe(self.self_attention_parameters))
        e.bool_(18, self.skip_absolute_positional_embeddings)
        e.msg(22, _maybe(self.residual_adapter_parameters))
        e.opt_float(25, self.query_rescale_factor)
        e.int_(26, self.vision_tokens_num)
        e.int_(27, self.num_extra_stacks)
        e.int_(28, self.max_num_images)
        e.int_(29, self.audio_vocab_offset)
        e.int_(30, self.audio_vocab_extra_dim)
        e.int_(31, self.audio_input_embedding_dim)
        return e.bytes()


@dataclass(frozen=True)
class ModelSizes:
    """The dimensions a catalog or converter needs to check shapes against."""

    embedding_dim: int
    hidden_dimension: int
    head_dimension: int
    num_heads: int
    num_stacks: int
    num_kv_heads: int
    vocab_size: int


@dataclass
class LlmParameters:
    """``odml.infra.proto.LlmParameters`` (§6.5), stored as model metadata in every ``.bin``."""

    transformer_parameters: TransformerParameters | None = None
    vocab_size: int = 0
    start_token_id: int | None = None  # oneof start_token_union
    start_token: str | None = None  # oneof start_token_union
    stop_tokens: list[str] = field(default_factory=list)
    input_output_normalizations: list[int] = field(default_factory=list)
    prompt_template: PromptTemplate | None = None
    num_draft_tokens: int | None = None
    user_role_token: str | None = None
    system_role_token: str | None = None
    model_role_token: str | None = None
    end_role_token: str | None = None
    submodel_transformer_parameters: TransformerParameters | None = None

    def encode(self) -> bytes:
        """Serialize canonically (field-number order), matching what protobuf C++ emits."""
        if self.start_token_id is not None and self.start_token is not None:
            raise ProtoError("start_token_id and start_token are a oneof; set only one")
        e = _Enc()
        e.msg(1, _maybe(self.transformer_parameters))
        e.int_(2, self.vocab_size)
        e.opt_int(4, self.start_token_id)
        for token in self.stop_tokens:
            e.parts.append(_enc_str(5, token))
        e.opt_str(6, self.start_token)
        if self.input_output_normalizations:
            packed = b"".join(_varint(int(v)) for v in self.input_output_normalizations)
            e.parts.append(_enc_bytes(7, packed))
        e.msg(8, _maybe(self.prompt_template))
        e.opt_int(9, self.num_draft_tokens)
        e.opt_str(11, self.user_role_token)
        e.opt_str(12, self.system_role_token)
        e.opt_str(13, self.model_role_token)
        e.opt_str(14, self.end_role_token)
        e.msg(16, _maybe(self.submodel_transformer_parameters))
        return e.bytes()

    def sizes(self) -> ModelSizes:
        """Return the model dimensions; raises ProtoError when transformer params are missing."""
        tp = self.transformer_parameters
        if tp is None:
            raise ProtoError("LlmParameters has no transformer_parameters")
        return ModelSizes(
            embedding_dim=tp.embedding_dim,
            hidden_dimension=tp.hidden_dimension,
            head_dimension=tp.head_dimension,
            num_heads=tp.num_heads,
            num_stacks=tp.num_stacks,
            num_kv_heads=tp.num_kv_heads,
            vocab_size=self.vocab_size,
        )


class _Message(Protocol):
    def encode(self) -> bytes: ...


def _maybe(message: _Message | None) -> bytes | None:
    """Encode an optional sub-message; ``None`` means absent (not an empty message)."""
    return None if message is None else message.encode()


# --------------------------------------------------------------------------- presets


def _gemma2_transformer(
    *,
    embedding_dim: int,
    hidden_dimension: int,
    head_dimension: int,
    num_heads: int,
    num_stacks: int,
    num_kv_heads: int,
) -> TransformerParameters:
    return TransformerParameters(
        batch_size=1,
        embedding_dim=embedding_dim,
        hidden_dimension=hidden_dimension,
        head_dimension=head_dimension,
        num_heads=num_heads,
        num_stacks=num_stacks,
        num_kv_heads=num_kv_heads,
        pre_norm=Norm.RMS_NORM,
        post_norm=Norm.RMS_NORM,
        final_norm=Norm.RMS_NORM,
        skip_absolute_positional_embeddings=True,
        self_attention_parameters=SelfAttentionParameters(
            qkv_no_bias=True,
            post_proj_no_bias=True,
            attention_mask_type=AttentionMaskType.CAUSAL,
            soft_cap_value=50.0,
            attention_scale_type=AttentionScaleType.SCALE_TYPE_INV_SQRT_HEAD_DIM,
        ),
        feed_forward_parameters=FeedForwardParameters(
            no_bias=True,
            activation=Activation.GELU,
            pre_norm=Norm.RMS_NORM,
            post_norm=Norm.RMS_NORM,
        ),
        final_project_parameters=FinalProjectParameters(no_bias=True, soft_cap_value=30.0),
    )


def gemma2_2b_parameters() -> LlmParameters:
    """The GEMMA2_2B parameters as decoded from the 0.10.35 converter output (§6.4)."""
    return LlmParameters(
        transformer_parameters=_gemma2_transformer(
            embedding_dim=2304,
            hidden_dimension=9216,
            head_dimension=256,
            num_heads=8,
            num_stacks=26,
            num_kv_heads=4,
        ),
        vocab_size=256000,
        start_token_id=2,
        stop_tokens=["<eos>"],
    )


def tiny_parameters(
    *,
    hidden: int = 128,
    heads: int = 2,
    kv_heads: int = 1,
    head_dim: int = 64,
    ffn: int = 256,
    layers: int = 2,
    vocab: int = 256,
) -> LlmParameters:
    """Gemma2-shaped parameters with tiny dimensions for CI models (§6.6)."""
    return LlmParameters(
        transformer_parameters=_gemma2_transformer(
            embedding_dim=hidden,
            hidden_dimension=ffn,
            head_dimension=head_dim,
            num_heads=heads,
            num_stacks=layers,
            num_kv_heads=kv_heads,
        ),
        vocab_size=vocab,
        start_token_id=2,
        stop_tokens=["<eos>"],
    )


# --------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class _Field:
    number: int
    wire_type: int
    value: int | bytes


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            raise ProtoError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if result > _U64:
                raise ProtoError("varint exceeds 64 bits")
            return result, pos
    raise ProtoError("varint longer than 10 bytes")


def _parse_fields(data: bytes) -> list[_Field]:
    """Split one message into fields; every length is bounds-checked."""
    fields: list[_Field] = []
    pos = 0
    end = len(data)
    while pos < end:
        key, pos = _read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0 or number > 0x1FFFFFFF:
            raise ProtoError(f"invalid field number {number}")
        if wire_type == _WT_VARINT:
            value, pos = _read_varint(data, pos)
            fields.append(_Field(number, wire_type, value))
        elif wire_type == _WT_FIXED64:
            if pos + 8 > end:
                raise ProtoError("truncated fixed64 field")
            fields.append(_Field(number, wire_type, data[pos : pos + 8]))
            pos += 8
        elif wire_type == _WT_LEN:
            length, pos = _read_varint(data, pos)
            if length > end - pos:
                raise ProtoError(f"field {number} length {length} runs past the message end")
            fields.append(_Field(number, wire_type, data[pos : pos + length]))
            pos += length
        elif wire_type == _WT_FIXED32:
            if pos + 4 > end:
                raise ProtoError("truncated fixed32 field")
            fields.append(_Field(number, wire_type, data[pos : pos + 4]))
            pos += 4
        else:
            raise ProtoError(f"unsupported wire type {wire_type} (field {number})")
    return fields


def _as_int32(f: _Field) -> int:
    if f.wire_type != _WT_VARINT or not isinstance(f.value, int):
        raise ProtoError(f"field {f.number}: expected a varint")
    v = f.value & 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _as_bool(f: _Field) -> bool:
    if f.wire_type != _WT_VARINT:
        raise ProtoError(f"field {f.number}: expected a varint bool")
    return bool(f.value)


def _as_float(f: _Field) -> float:
    if f.wire_type != _WT_FIXED32 or not isinstance(f.value, bytes):
        raise ProtoError(f"field {f.number}: expected a fixed32 float")
    value: float = struct.unpack("<f", f.value)[0]
    return value


def _as_bytes(f: _Field) -> bytes:
    if f.wire_type != _WT_LEN or not isinstance(f.value, bytes):
        raise ProtoError(f"field {f.number}: expected a length-delimited value")
    return f.value


def _as_str(f: _Field) -> str:
    try:
        return _as_bytes(f).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtoError(f"field {f.number}: string is not valid UTF-8") from exc


def _as_enum_list(f: _Field) -> list[int]:
    if f.wire_type == _WT_VARINT:
        return [_as_int32(f)]
    data = _as_bytes(f)
    out: list[int] = []
    pos = 0
    while pos < len(data):
        v, pos = _read_varint(data, pos)
        out.append(_as_int32(_Field(f.number, _WT_VARINT, v)))
    return out


def _decode_ffn(data: bytes) -> FeedForwardParameters:
    m = FeedForwardParameters()
    for f in _parse_fields(data):
        if f.number == 1:
            m.no_bias = _as_bool(f)
        elif f.number == 2:
            m.activation = _as_int32(f)
        elif f.number == 3:
            m.pre_norm = _as_int32(f)
        elif f.number == 4:
            m.post_norm = _as_int32(f)
    return m


def _decode_final(data: bytes) -> FinalProjectParameters:
    m = FinalProjectParameters()
    for f in _parse_fields(data):
        if f.number == 1:
            m.no_bias = _as_bool(f)
        elif f.number == 2:
            m.soft_cap_value = _as_float(f)
    return m


def _decode_attn(data: bytes) -> SelfAttentionParameters:
    m = SelfAttentionParameters()
    for f in _parse_fields(data):
        if f.number == 1:
            m.qkv_no_bias = _as_bool(f)
        elif f.number == 2:
            m.post_proj_no_bias = _as_bool(f)
        elif f.number == 3:
            m.attention_mask_type = _as_int32(f)
        elif f.number == 4:
            m.soft_cap_value = _as_float(f)
        elif f.number == 5:
            m.attention_scale_type = _as_int32(f)
    return m


def _decode_residual(data: bytes) -> ResidualAdapterParameters:
    m = ResidualAdapterParameters()
    for f in _parse_fields(data):
        if f.number == 1:
            m.where_to_interleave = _as_int32(f)
        elif f.number == 2:
            m.bottleneck_dimension = _as_int32(f)
    return m


def _decode_template(data: bytes) -> PromptTemplate:
    m = PromptTemplate()
    for f in _parse_fields(data):
        if f.number == 1:
            m.session_prefix = _as_str(f)
        elif f.number == 2:
            m.prompt_prefix = _as_str(f)
        elif f.number == 3:
            m.prompt_suffix = _as_str(f)
    return m


_TP_INT_FIELDS = {
    1: "batch_size",
    2: "max_seq_length",
    3: "embedding_dim",
    4: "hidden_dimension",
    5: "head_dimension",
    6: "num_heads",
    7: "num_stacks",
    9: "num_kv_heads",
    13: "pre_norm",
    14: "post_norm",
    15: "final_norm",
    26: "vision_tokens_num",
    27: "num_extra_stacks",
    28: "max_num_images",
    29: "audio_vocab_offset",
    30: "audio_vocab_extra_dim",
    31: "audio_input_embedding_dim",
}


def _decode_transformer(data: bytes) -> TransformerParameters:
    m = TransformerParameters()
    for f in _parse_fields(data):
        name = _TP_INT_FIELDS.get(f.number)
        if name is not None:
            setattr(m, name, _as_int32(f))
        elif f.number == 11:
            m.feed_forward_parameters = _decode_ffn(_as_bytes(f))
        elif f.number == 12:
            m.final_project_parameters = _decode_final(_as_bytes(f))
        elif f.number == 16:
            m.self_attention_parameters = _decode_attn(_as_bytes(f))
        elif f.number == 18:
            m.skip_absolute_positional_embeddings = _as_bool(f)
        elif f.number == 22:
            m.residual_adapter_parameters = _decode_residual(_as_bytes(f))
        elif f.number == 25:
            m.query_rescale_factor = _as_float(f)
    return m


def decode_llm_parameters(data: bytes) -> LlmParameters:
    """Parse serialized ``LlmParameters``; unknown fields are skipped, malformed input raises ProtoError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtoError("LlmParameters must be bytes")
    data = bytes(data)
    m = LlmParameters()
    for f in _parse_fields(data):
        if f.number == 1:
            m.transformer_parameters = _decode_transformer(_as_bytes(f))
        elif f.number == 2:
            m.vocab_size = _as_int32(f)
        elif f.number == 4:
            m.start_token_id, m.start_token = _as_int32(f), None
        elif f.number == 5:
            m.stop_tokens.append(_as_str(f))
        elif f.number == 6:
            m.start_token, m.start_token_id = _as_str(f), None
        elif f.number == 7:
            m.input_output_normalizations.extend(_as_enum_list(f))
        elif f.number == 8:
            m.prompt_template = _decode_template(_as_bytes(f))
        elif f.number == 9:
            m.num_draft_tokens = _as_int32(f)
        elif f.number == 11:
            m.user_role_token = _as_str(f)
        elif f.number == 12:
            m.system_role_token = _as_str(f)
        elif f.number == 13:
            m.model_role_token = _as_str(f)
        elif f.number == 14:
            m.end_role_token = _as_str(f)
        elif f.number == 16:
            m.submodel_transformer_parameters = _decode_transformer(_as_bytes(f))
    return m
