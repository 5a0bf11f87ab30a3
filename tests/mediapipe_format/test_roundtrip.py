"""Write tiny base/LoRA files and read them back; expectations are spelled out from the doc (§6-§7)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from app.mediapipe_format import (
    LoraError,
    build_lora,
    build_tiny_base,
    build_tiny_lora,
    decode_llm_parameters,
    load_tokenizer,
    read_container,
    tiny_lora_factors,
    tiny_parameters,
    untile4x4,
)
from app.mediapipe_format.container import ContainerInfo

MIB = 1_048_576
H, NH, NKV, HD, FF, L, V = 128, 2, 1, 64, 256, 2, 256
P = "params.lm.transformer.x_layers_"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def expected_base_tensors() -> list[tuple[str, int]]:
    """§6.3 names and order with tiny byte sizes (fp16 matrices, fp32 norm scales)."""
    out = [("params.lm.softmax.logits_ffn.w", V * H * 2)]
    for i in range(L):
        out += [
            (f"{P}{i}.pre_layer_norm.scale", H * 4),
            (f"{P}{i}.self_attention.q.w", H * NH * HD * 2),
            (f"{P}{i}.self_attention.k.w", H * NKV * HD * 2),
            (f"{P}{i}.self_attention.v.w", H * NKV * HD * 2),
            (f"{P}{i}.self_attention.post.w", NH * HD * H * 2),
            (f"{P}{i}.post_layer_norm.scale", H * 4),
            (f"{P}{i}.ff_layer.pre_layer_norm.scale", H * 4),
            (f"{P}{i}.ff_layer.ffn_layer1_gate.w", H * FF * 2),
            (f"{P}{i}.ff_layer.ffn_layer1.w", H * FF * 2),
            (f"{P}{i}.ff_layer.ffn_layer2.w", FF * H * 2),
            (f"{P}{i}.ff_layer.post_layer_norm.scale", H * 4),
        ]
    out.append(("params.lm.final_ln.scale", H * 4))
    return out


def expected_lora_tensors(r: int, *, mlp: bool = False) -> list[tuple[str, int]]:
    """§7.2 order: q, k, v left/right, then post *right* (first factor) before post left."""
    out: list[tuple[str, int]] = []
    for i in range(L):
        a = f"{P}{i}.self_attention."
        out += [
            (a + "q.w_prime_left", H * r * 2),
            (a + "q.w_prime_right", r * NH * HD * 2),
            (a + "k.w_prime_left", H * r * 2),
            (a + "k.w_prime_right", r * NKV * HD * 2),
            (a + "v.w_prime_left", H * r * 2),
            (a + "v.w_prime_right", r * NKV * HD * 2),
            (a + "post.w_prime_right", NH * HD * r * 2),
            (a + "post.w_prime_left", r * H * 2),
        ]
        if mlp:
            f = f"{P}{i}.ff_layer."
            out += [
                (f + "ffn_layer1_gate.w_prime_left", H * r * 2),
                (f + "ffn_layer1_gate.w_prime_right", r * FF * 2),
                (f + "ffn_layer1.w_prime_left", H * r * 2),
                (f + "ffn_layer1.w_prime_right", r * FF * 2),
                (f + "ffn_layer2.w_prime_left", FF * r * 2),
                (f + "ffn_layer2.w_prime_right", r * H * 2),
            ]
    return out


def check_layout(path: Path, info: ContainerInfo) -> None:
    """§6.1: TFL3 at 4-7, buffer 0 empty, first data at 65,536, then 256-aligned, 64 KiB-padded >= 1 MiB."""
    head = path.read_bytes()[:8]
    assert head[4:8] == b"TFL3"
    assert info.file_size >= MIB and info.file_size % 65_536 == 0
    assert info.version == 3
    assert info.subgraph_name == "GEMMA2_2B"
    assert info.buffers[0].size == 0
    data = [b for b in info.buffers[1:] if b.size]
    assert data[0].offset == 65_536
    for prev, cur in zip(data, data[1:]):
        assert cur.offset == -(-(prev.offset + prev.size) // 256) * 256
    assert data[-1].offset + data[-1].size <= info.file_size
    for t in info.tensors:
        assert t.type == 0 and t.shape == (t.size,)


def test_base_round_trip(tiny_dir: Path) -> None:
    path = tiny_dir / "tiny-base.bin"
    info = read_container(path)
    check_layout(path, info)
    assert list(info.metadata) == [
        "odml.infra.proto.LlmParameters",
        "spm_vocab_model",
        "odml.infra.LlmModelType",
        "backend",
    ]
    assert info.metadata["odml.infra.LlmModelType"] == 18
    assert [info.metadata["odml.infra.proto.LlmParameters"], info.metadata["spm_vocab_model"]] == [1, 2]
    assert info.metadata["backend"] == 3 and info.read_metadata_buffer("backend") == b"gpu"
    assert len(info.buffers) > 18  # the model-type value doubles as a buffer index (§6.2)
    assert [(t.name, t.size) for t in info.tensors] == expected_base_tensors()
    assert [t.buffer for t in info.tensors] == list(range(4, 4 + len(info.tensors)))

    params = decode_llm_parameters(info.read_metadata_buffer("odml.infra.proto.LlmParameters"))
    assert params == tiny_parameters()
    s = params.sizes()
    assert (s.embedding_dim, s.hidden_dimension, s.head_dimension) == (H, FF, HD)
    assert (s.num_heads, s.num_kv_heads, s.num_stacks, s.vocab_size) == (NH, NKV, L, V)
    assert params.start_token_id == 2 and params.stop_tokens == ["<eos>"]

    sp = load_tokenizer(info.read_metadata_buffer("spm_vocab_model"))
    assert sp.get_piece_size() == V

    norm = np.frombuffer(info.read_tensor(f"{P}1.post_layer_norm.scale"), "<f4")
    assert np.all(norm == 1.0)
    q = np.frombuffer(info.read_tensor(f"{P}0.self_attention.q.w"), "<f2").astype(np.float64)
    assert np.isfinite(q).all() and 0.04 < q.std() < 0.06 and abs(q.mean()) < 0.01


@pytest.mark.parametrize("rank", [4, 8, 16])
def test_lora_round_trip(tiny_dir: Path, rank: int) -> None:
    path = tiny_dir / f"tiny-lora-r{rank}.bin"
    info = read_container(path)
    check_layout(path, info)
    assert info.metadata["lora_rank"] == rank
    assert info.metadata["odml.infra.LlmModelType"] == 18
    assert "odml.infra.proto.LlmParameters" in info.metadata
    assert [(t.name, t.size) for t in info.tensors] == expected_lora_tensors(rank)
    base = read_container(tiny_dir / "tiny-base.bin")
    key = "odml.infra.proto.LlmParameters"
    assert info.read_metadata_buffer(key) == base.read_metadata_buffer(key)

    # Data: first = Aᵀ [in, r], second = Bᵀ [r, out], fp16 in 4x4 tiles; o_proj names swapped.
    factors = tiny_lora_factors(tiny_parameters(), seed=1, rank=rank)
    for layer, module, stem, left_is_first in [(0, "q", "q", True), (1, "k", "k", True), (1, "o", "post", False)]:
        a, b = (np.asarray(x) for x in factors[(layer, module)])
        first_name = f"{P}{layer}.self_attention.{stem}.w_prime_{'left' if left_is_first else 'right'}"
        second_name = f"{P}{layer}.self_attention.{stem}.w_prime_{'right' if left_is_first else 'left'}"
        first = np.frombuffer(info.read_tensor(first_name), "<f2")
        second = np.frombuffer(info.read_tensor(second_name), "<f2")
        np.testing.assert_array_equal(untile4x4(first, a.shape[1], rank), a.T.astype(np.float16))
        np.testing.assert_array_equal(untile4x4(second, rank, b.shape[0]), b.T.astype(np.float16))


def test_lora_with_mlp_scale_and_zeros(tmp_path: Path) -> None:
    params = tiny_parameters()
    rank = 8
    all_factors = tiny_lora_factors(params, seed=5, rank=rank, modules=("q", "o", "down"))
    factors = {k: v for k, v in all_factors.items() if k[0] == 0}  # layer 1 untargeted
    path = build_lora(tmp_path / "mlp.bin", params=params, rank=rank, factors=factors, scale=0.5)
    info = read_container(path)
    assert [(t.name, t.size) for t in info.tensors] == expected_lora_tensors(rank, mlp=True)
    assert "spm_vocab_model" not in info.metadata
    assert info.file_size >= MIB

    a, b = (np.asarray(x) for x in factors[(0, "down")])
    left = np.frombuffer(info.read_tensor(f"{P}0.ff_layer.ffn_layer2.w_prime_left"), "<f2")
    right = np.frombuffer(info.read_tensor(f"{P}0.ff_layer.ffn_layer2.w_prime_right"), "<f2")
    np.testing.assert_array_equal(untile4x4(left, FF, rank), a.T.astype(np.float16))
    np.testing.assert_array_equal(untile4x4(right, rank, H), (0.5 * b).T.astype(np.float16))
    for name in (f"{P}0.self_attention.k.w_prime_left", f"{P}0.ff_layer.ffn_layer1.w_prime_right"):
        assert not any(info.read_tensor(name)), name  # untargeted module -> zeros
    for t in info.tensors:
        if t.name.startswith(f"{P}1."):
            assert not any(info.read_tensor(t.name)), t.name  # untargeted layer -> zeros


def test_deterministic(tmp_path: Path, tiny_dir: Path) -> None:
    build_tiny_base(tmp_path / "b.bin", seed=0)
    build_tiny_lora(tmp_path / "l.bin", seed=1, rank=8)
    assert sha(tmp_path / "b.bin") == sha(tiny_dir / "tiny-base.bin")
    assert sha(tmp_path / "l.bin") == sha(tiny_dir / "tiny-lora-r8.bin")
    build_tiny_base(tmp_path / "b2.bin", seed=3)
    assert sha(tmp_path / "b2.bin") != sha(tmp_path / "b.bin")


def test_nh4_variant(tmp_path: Path) -> None:
    """The other verified tiny shape (NH=4, NKV=2: q/o non-square) builds and reads back."""
    base = build_tiny_base(tmp_path / "b.bin", heads=4, kv_heads=2)
    lora = build_tiny_lora(tmp_path / "l.bin", heads=4, kv_heads=2, rank=4, modules=("q", "k", "v", "o", "gate"))
    sizes = decode_llm_parameters(read_container(base).read_metadata_buffer("odml.infra.proto.LlmParameters")).sizes()
    assert (sizes.num_heads, sizes.num_kv_heads) == (4, 2)
    info = read_container(lora)
    assert info.tensor(f"{P}0.self_attention.q.w_prime_right").size == 4 * 256 * 2
    assert len(info.tensors) == 2 * 14


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rank": 6}, "multiple of 4"),
        ({"factors": {(0, "q_proj"): (np.zeros((4, H)), np.zeros((H, 4)))}}, "unknown module"),
        ({"factors": {(2, "q"): (np.zeros((4, H)), np.zeros((H, 4)))}}, "outside"),
        ({"factors": {(0, "k"): (np.zeros((4, H)), np.zeros((H, 4)))}}, "lora_B has shape"),
        ({"factors": {(0, "q"): (np.zeros((4, H)), np.full((H, 4), 1e5))}}, "fp16"),
        ({"factors": {(0, "q"): (np.full((4, H), np.nan), np.zeros((H, 4)))}}, "NaN"),
    ],
)
def test_lora_rejects(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"params": tiny_parameters(), "rank": 4, "factors": {}}
    args.update(kwargs)
    with pytest.raises(LoraError, match=message):
        build_lora(tmp_path / "bad.bin", **args)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []  # no partial or final file left behind
