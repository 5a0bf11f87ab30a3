"""Tokenizer determinism, LlmParameters wire format, and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from app.mediapipe_format import ProtoError, build_tokenizer, decode_llm_parameters, load_tokenizer
from app.mediapipe_format.cli import main
from app.mediapipe_format.proto import LlmParameters, gemma2_2b_parameters, tiny_parameters


def test_tokenizer_deterministic_and_loads() -> None:
    raw = build_tokenizer.__wrapped__  # bypass the cache: really train twice
    a, b = raw(256), raw(256)
    assert a == b
    sp = load_tokenizer(a)
    assert sp.get_piece_size() == 256
    assert [sp.id_to_piece(i) for i in range(4)] == ["<pad>", "<eos>", "<bos>", "<unk>"]
    assert (sp.pad_id(), sp.eos_id(), sp.bos_id(), sp.unk_id()) == (0, 1, 2, 3)
    ids = sp.encode("hello world")
    assert ids and 3 not in ids
    assert sp.decode(ids) == "hello world"


def _descriptor_classes() -> type:
    """Build the §6.5 messages with the real protobuf runtime (proto2 so set fields are explicit)."""
    fdp = descriptor_pb2.FieldDescriptorProto
    fd = descriptor_pb2.FileDescriptorProto(name="llm_test.proto", package="odml.infra.proto", syntax="proto2")

    def msg(parent: object, name: str, fields: list[tuple[str, int, int, str | None, int]]) -> None:
        m = parent.message_type.add(name=name) if hasattr(parent, "message_type") else parent.nested_type.add(name=name)  # type: ignore[attr-defined]
        for fname, number, ftype, type_name, label in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
            if fname == "input_output_normalizations":
                f.options.packed = True

    opt, rep = fdp.LABEL_OPTIONAL, fdp.LABEL_REPEATED
    i32, boo, flt, st, msg_t = fdp.TYPE_INT32, fdp.TYPE_BOOL, fdp.TYPE_FLOAT, fdp.TYPE_STRING, fdp.TYPE_MESSAGE
    tp = ".odml.infra.proto.TransformerParameters"
    msg(fd, "TransformerParameters", [
        ("batch_size", 1, i32, None, opt), ("embedding_dim", 3, i32, None, opt),
        ("hidden_dimension", 4, i32, None, opt), ("head_dimension", 5, i32, None, opt),
        ("num_heads", 6, i32, None, opt), ("num_stacks", 7, i32, None, opt),
        ("num_kv_heads", 9, i32, None, opt),
        ("feed_forward_parameters", 11, msg_t, tp + ".FF", opt),
        ("final_project_parameters", 12, msg_t, tp + ".FP", opt),
        ("pre_norm", 13, i32, None, opt), ("post_norm", 14, i32, None, opt), ("final_norm", 15, i32, None, opt),
        ("self_attention_parameters", 16, msg_t, tp + ".SA", opt),
        ("skip_absolute_positional_embeddings", 18, boo, None, opt),
        ("query_rescale_factor", 25, flt, None, opt),
    ])  # fmt: skip
    t = fd.message_type[0]
    msg(t, "FF", [("no_bias", 1, boo, None, opt), ("activation", 2, i32, None, opt),
                  ("pre_norm", 3, i32, None, opt), ("post_norm", 4, i32, None, opt)])  # fmt: skip
    msg(t, "FP", [("no_bias", 1, boo, None, opt), ("soft_cap_value", 2, flt, None, opt)])
    msg(t, "SA", [("qkv_no_bias", 1, boo, None, opt), ("post_proj_no_bias", 2, boo, None, opt),
                  ("attention_mask_type", 3, i32, None, opt), ("soft_cap_value", 4, flt, None, opt),
                  ("attention_scale_type", 5, i32, None, opt)])  # fmt: skip
    msg(fd, "LlmParameters", [
        ("transformer_parameters", 1, msg_t, tp, opt), ("vocab_size", 2, i32, None, opt),
        ("start_token_id", 4, i32, None, opt), ("stop_tokens", 5, st, None, rep),
        ("input_output_normalizations", 7, i32, None, rep), ("num_draft_tokens", 9, i32, None, opt),
        ("user_role_token", 11, st, None, opt),
    ])  # fmt: skip
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("odml.infra.proto.LlmParameters"))


def _reference(p: LlmParameters) -> bytes:
    cls = _descriptor_classes()
    m = cls()
    tp = p.transformer_parameters
    assert tp is not None and tp.feed_forward_parameters and tp.final_project_parameters
    assert tp.self_attention_parameters
    t = m.transformer_parameters
    for name in ("batch_size", "embedding_dim", "hidden_dimension", "head_dimension", "num_heads", "num_stacks",
                 "num_kv_heads", "pre_norm", "post_norm", "final_norm"):  # fmt: skip
        setattr(t, name, int(getattr(tp, name)))
    ff, fp, sa = tp.feed_forward_parameters, tp.final_project_parameters, tp.self_attention_parameters
    t.feed_forward_parameters.no_bias = ff.no_bias
    t.feed_forward_parameters.activation = int(ff.activation)
    t.feed_forward_parameters.pre_norm = int(ff.pre_norm)
    t.feed_forward_parameters.post_norm = int(ff.post_norm)
    t.final_project_parameters.no_bias = fp.no_bias
    t.final_project_parameters.soft_cap_value = fp.soft_cap_value
    t.self_attention_parameters.qkv_no_bias = sa.qkv_no_bias
    t.self_attention_parameters.post_proj_no_bias = sa.post_proj_no_bias
    t.self_attention_parameters.attention_mask_type = int(sa.attention_mask_type)
    t.self_attention_parameters.soft_cap_value = sa.soft_cap_value
    assert sa.attention_scale_type is not None
    t.self_attention_parameters.attention_scale_type = int(sa.attention_scale_type)
    t.skip_absolute_positional_embeddings = tp.skip_absolute_positional_embeddings
    if tp.query_rescale_factor is not None:
        t.query_rescale_factor = tp.query_rescale_factor
    m.vocab_size = p.vocab_size
    assert p.start_token_id is not None
    m.start_token_id = p.start_token_id
    m.stop_tokens.extend(p.stop_tokens)
    m.input_output_normalizations.extend(p.input_output_normalizations)
    if p.num_draft_tokens is not None:
        m.num_draft_tokens = p.num_draft_tokens
    if p.user_role_token is not None:
        m.user_role_token = p.user_role_token
    return bytes(m.SerializeToString(deterministic=True))


@pytest.mark.parametrize("which", ["gemma2", "tiny", "extras"])
def test_llm_parameters_match_protobuf_runtime(which: str) -> None:
    if which == "gemma2":
        p = gemma2_2b_parameters()
    elif which == "tiny":
        p = tiny_parameters()
    else:
        p = tiny_parameters(hidden=256, layers=3)
        p.input_output_normalizations = [1, 2]
        p.num_draft_tokens = 0
        p.user_role_token = "<start_of_turn>user"
        assert p.transformer_parameters is not None
        p.transformer_parameters.query_rescale_factor = 0.0625
    encoded = p.encode()
    assert encoded == _reference(p)
    assert decode_llm_parameters(encoded) == p


def test_gemma2_sizes() -> None:
    s = gemma2_2b_parameters().sizes()
    assert (s.embedding_dim, s.hidden_dimension, s.head_dimension, s.num_heads) == (2304, 9216, 256, 8)
    assert (s.num_stacks, s.num_kv_heads, s.vocab_size) == (26, 4, 256_000)


@pytest.mark.parametrize("data", [b"\x0a\x05\x08", b"\x0a", b"\xff" * 11, b"\x0b\x00", b"\x12\x02\xff\xfe"])
def test_decode_rejects_malformed(data: bytes) -> None:
    with pytest.raises(ProtoError):
        decode_llm_parameters(data)


def test_cli_tiny_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tiny", "--out", str(tmp_path)]) == 0
    first = capsys.readouterr().out
    assert main(["tiny", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out == first
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["tiny-base.bin", "tiny-lora-r16.bin", "tiny-lora-r4.bin", "tiny-lora-r8.bin"]
    assert main(["inspect", str(tmp_path / "tiny-lora-r4.bin")]) == 0
    assert "lora_rank = 4" in capsys.readouterr().out
    (tmp_path / "junk.bin").write_bytes(b"nonsense")
    assert main(["inspect", str(tmp_path / "junk.bin")]) == 1
