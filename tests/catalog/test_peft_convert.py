"""PEFT -> MediaPipe LoRA conversion, checked by decoding the written file (mediapipe-web.md §7.2, §8.3)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from app.catalog.base_models import GEMMA2_2B, BaseModelSpec
from app.catalog.intake import Upload, ingest_adapter
from app.catalog.mediapipe_lora import validate_mediapipe_lora
from app.catalog.peft import convert_peft, validate_peft
from app.catalog.synthetic import (
    ATTENTION,
    bf16_round,
    build_factorization_set,
    factorization_pair,
    random_factors,
    write_lora_with_layout,
    write_peft_adapter,
)
from app.mediapipe_format import lora_tensor_plan, read_container, untile4x4
from app.settings import Settings
from app.storage import LocalStorage
from tests.catalog.conftest import files_left

ALL = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
SHORT = {
    "q_proj": "q",
    "k_proj": "k",
    "v_proj": "v",
    "o_proj": "o",
    "gate_proj": "gate",
    "up_proj": "up",
    "down_proj": "down",
}
PREFIX = "params.lm.transformer.x_layers_"


def convert(tmp: Path, base: BaseModelSpec, factors, *, rank: int, alpha: float, name: str = "a", **kw) -> Path:
    config, weights = write_peft_adapter(tmp / name, factors, rank=rank, alpha=alpha, base_model_name=None, **kw)
    adapter = validate_peft(config, weights, base=base, ranks=(4, 8, 16))
    return convert_peft(adapter, tmp / f"{name}.bin").path


def decode(path: Path, base: BaseModelSpec, rank: int) -> dict[str, np.ndarray]:
    """Every LoRA tensor of the file back as its logical fp16 matrix (un-tiled)."""
    info = read_container(path)
    include_mlp = any(".ff_layer." in t.name for t in info.tensors)
    out = {}
    for spec in lora_tensor_plan(base.sizes, rank, include_mlp=include_mlp):
        flat = np.frombuffer(info.read_tensor(spec.name), dtype="<f2")
        out[spec.name] = untile4x4(flat, *spec.shape)
    return out


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("rank", [4, 8, 16])
def test_tiles_decode_to_a_transposed_and_scaled_b_transposed(tmp_path: Path, tiny4: BaseModelSpec, rank: int) -> None:
    factors = random_factors(tiny4, rank=rank, modules=ALL, seed=rank)
    alpha = 2.5 * rank  # scale 2.5
    path = convert(tmp_path, tiny4, factors, rank=rank, alpha=alpha)
    tensors = decode(path, tiny4, rank)
    names = {
        "q": "self_attention.q",
        "k": "self_attention.k",
        "v": "self_attention.v",
        "o": "self_attention.post",
        "gate": "ff_layer.ffn_layer1_gate",
        "up": "ff_layer.ffn_layer1",
        "down": "ff_layer.ffn_layer2",
    }
    for (layer, module), (a, b) in factors.items():
        short = SHORT[module]
        first_name, second_name = (
            ("w_prime_right", "w_prime_left") if short == "o" else ("w_prime_left", "w_prime_right")
        )
        first = tensors[f"{PREFIX}{layer}.{names[short]}.{first_name}"]
        second = tensors[f"{PREFIX}{layer}.{names[short]}.{second_name}"]
        np.testing.assert_array_equal(first, a.T.astype(np.float16))
        np.testing.assert_array_equal(second, (np.float32(2.5) * b).T.astype(np.float16))


def test_post_uses_swapped_names_and_writes_the_first_factor_first(tmp_path: Path, tiny4: BaseModelSpec) -> None:
    q_out = 4 * 64
    a = np.arange(4 * q_out, dtype=np.float32).reshape(4, q_out) / 1000
    b = -np.arange(128 * 4, dtype=np.float32).reshape(128, 4) / 1000
    path = convert(tmp_path, tiny4, {(1, "o_proj"): (a, b)}, rank=4, alpha=4)
    info = read_container(path)
    names = info.tensor_names()
    right, left = f"{PREFIX}1.self_attention.post.w_prime_right", f"{PREFIX}1.self_attention.post.w_prime_left"
    assert names.index(right) == names.index(left) - 1
    assert info.tensor(right).size == q_out * 4 * 2  # [q_out, r]: o_proj's input side
    assert info.tensor(left).size == 4 * 128 * 2  # [r, H]
    tensors = decode(path, tiny4, 4)
    np.testing.assert_array_equal(tensors[right], a.T.astype(np.float16))
    np.testing.assert_array_equal(tensors[left], b.T.astype(np.float16))
    # The tile rule spelled out on one element of the [4, 128] second factor: row 1, column 6 is in
    # tile (0, 1) at (1, 2), i.e. element 16 + 4 + 2 (row-major would put it at 134).
    raw = np.frombuffer(info.read_tensor(left), dtype="<f2")
    assert raw[1 * 16 + 1 * 4 + 2] == np.float16(b.T[1, 6])
    assert raw[134] != np.float16(b.T[1, 6])


def _tile_reference(matrix: np.ndarray) -> bytes:
    """The §7.2 loop, literally."""
    rows, cols = matrix.shape
    out = []
    for ta in range(rows // 4):
        for tb in range(cols // 4):
            for i in range(4):
                for j in range(4):
                    out.append(matrix[4 * ta + i][4 * tb + j])
    return np.array(out, dtype="<f2").tobytes()


@pytest.mark.parametrize("module", ["q_proj", "o_proj", "down_proj"])
def test_bytes_follow_the_documented_tile_loop(tmp_path: Path, tiny4: BaseModelSpec, module: str) -> None:
    factors = random_factors(tiny4, rank=8, modules=[module], layers=[0], seed=13)
    path = convert(tmp_path, tiny4, factors, rank=8, alpha=8)
    info = read_container(path)
    a, b = factors[(0, module)]
    names = {"q_proj": "self_attention.q", "o_proj": "self_attention.post", "down_proj": "ff_layer.ffn_layer2"}
    first, second = ("w_prime_right", "w_prime_left") if module == "o_proj" else ("w_prime_left", "w_prime_right")
    assert info.read_tensor(f"{PREFIX}0.{names[module]}.{first}") == _tile_reference(a.T)
    assert info.read_tensor(f"{PREFIX}0.{names[module]}.{second}") == _tile_reference(b.T)


def test_alpha_is_folded_in(tmp_path: Path, tiny: BaseModelSpec) -> None:
    """alpha = 2r must give exactly the bytes of alpha = r with B doubled (the runtime knows no alpha)."""
    factors = random_factors(tiny, rank=8, modules=ALL, seed=3)
    doubled = {key: (a, 2 * b) for key, (a, b) in factors.items()}
    scaled = convert(tmp_path, tiny, factors, rank=8, alpha=16, name="alpha16")
    plain = convert(tmp_path, tiny, doubled, rank=8, alpha=8, name="alpha8-b2")
    other = convert(tmp_path, tiny, factors, rank=8, alpha=8, name="alpha8")
    assert sha(scaled) == sha(plain)
    assert sha(scaled) != sha(other)


def test_rslora_scale_is_alpha_over_sqrt_r(tmp_path: Path, tiny: BaseModelSpec) -> None:
    factors = random_factors(tiny, rank=16, seed=4)
    rs = convert(tmp_path, tiny, factors, rank=16, alpha=8, name="rs", config_overrides={"use_rslora": True})
    plain = convert(tmp_path, tiny, factors, rank=16, alpha=32, name="plain")  # 8/sqrt(16) == 32/16 == 2
    assert sha(rs) == sha(plain)


def test_untargeted_modules_and_layers_are_zero_and_all_attention_tensors_exist(
    tmp_path: Path, tiny: BaseModelSpec
) -> None:
    factors = random_factors(tiny, rank=4, modules=["v_proj"], layers=[1], seed=5)
    path = convert(tmp_path, tiny, factors, rank=4, alpha=4, config_overrides={"layers_to_transform": [1]})
    info = read_container(path)
    assert info.file_size >= 1024 * 1024
    assert info.metadata["lora_rank"] == 4
    assert info.tensor_names() == [s.name for s in lora_tensor_plan(tiny.sizes, 4, include_mlp=False)]
    assert len(info.tensors) == 8 * 2  # 8 attention tensors per layer, no MLP tensors
    for name, matrix in decode(path, tiny, 4).items():
        if name.startswith(f"{PREFIX}1.self_attention.v."):
            assert np.abs(matrix).sum() > 0, name
        else:
            assert not matrix.any(), name


def test_any_mlp_module_brings_all_six_mlp_tensors(tmp_path: Path, tiny: BaseModelSpec) -> None:
    factors = random_factors(tiny, rank=4, modules=["q_proj", "down_proj"], seed=6)
    path = convert(tmp_path, tiny, factors, rank=4, alpha=4)
    info = read_container(path)
    assert len(info.tensors) == 14 * 2
    decoded = decode(path, tiny, 4)
    for name, matrix in decoded.items():
        targeted = ".self_attention.q." in name or ".ffn_layer2." in name
        assert bool(matrix.any()) == targeted, name


@pytest.mark.parametrize("dtype", ["F16", "BF16"])
def test_half_precision_inputs(tmp_path: Path, tiny: BaseModelSpec, dtype: str) -> None:
    factors = random_factors(tiny, rank=8, seed=8)
    if dtype == "F16":
        exact = {
            k: (a.astype(np.float16).astype(np.float32), b.astype(np.float16).astype(np.float32))
            for k, (a, b) in factors.items()
        }
    else:
        exact = {k: (bf16_round(a), bf16_round(b)) for k, (a, b) in factors.items()}
    half = convert(tmp_path, tiny, factors, rank=8, alpha=8, name="half", dtype=dtype)
    full = convert(tmp_path, tiny, exact, rank=8, alpha=8, name="full")
    assert sha(half) == sha(full)


def test_gemma2_2b_shapes_and_sizes(tmp_path: Path) -> None:
    """Real Gemma2-2b dimensions: 26 layers x 8 tensors, r x 798,720 bytes of attention data (§7.2)."""
    factors = random_factors(GEMMA2_2B, rank=4, layers=[0, 25], seed=9, std=0.02)
    config, weights = write_peft_adapter(
        tmp_path / "g", factors, rank=4, alpha=8, base_model_name="google/gemma-2-2b-it"
    )
    adapter = validate_peft(config, weights)
    path = convert_peft(adapter, tmp_path / "g.bin").path
    info = read_container(path)
    assert len(info.tensors) == 26 * 8
    assert sum(t.size for t in info.tensors) == 4 * 798_720
    checked = validate_mediapipe_lora(path)
    assert (checked.rank, checked.include_mlp) == (4, False)


def test_converted_file_passes_the_bin_checks_and_reuploads(
    tmp_path: Path, tiny: BaseModelSpec, settings: Settings, storage: LocalStorage
) -> None:
    path = convert(tmp_path, tiny, random_factors(tiny, rank=16, modules=ALL, seed=10), rank=16, alpha=32)
    checked = validate_mediapipe_lora(path, base=tiny)
    assert (checked.rank, checked.include_mlp) == (16, True)
    result = ingest_adapter(
        [Upload("mine.bin", iter([path.read_bytes()]))], storage=storage, base=tiny, settings=settings
    )
    assert result.source_format == "mediapipe" and result.rank == 16 and result.include_mlp
    assert result.lora_file.key == sha(path)


def test_ingest_peft_pair_zip_and_duplicates(
    tmp_path: Path, tiny: BaseModelSpec, settings: Settings, storage: LocalStorage
) -> None:
    factors = random_factors(tiny, rank=8, modules=["q_proj", "v_proj"], seed=11)
    config, weights = write_peft_adapter(
        tmp_path / "ad", factors, rank=8, alpha=16, base_model_name="lorastudio/tiny-gemma2"
    )
    uploads = [
        Upload("adapter_config.json", iter([config.read_bytes()])),
        Upload("adapter_model.safetensors", iter([weights.read_bytes()])),
    ]
    first = ingest_adapter(uploads, storage=storage, base=tiny, settings=settings)
    assert first.source_format == "peft"
    assert (first.rank, first.alpha, first.target_modules, first.include_mlp) == (8, 16.0, ("q_proj", "v_proj"), False)
    assert [f.role for f in first.files] == ["mediapipe-lora", "peft-weights", "peft-config"]
    assert all(f.created for f in first.files) and not first.duplicate
    assert first.files[1].key == sha(weights) and first.files[2].key == sha(config)
    with storage.open(first.lora_file.key) as handle:
        converted = handle.read()
    assert len(converted) >= 1024 * 1024 and converted[4:8] == b"TFL3"

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(config, "my-adapter/adapter_config.json")
        zf.write(weights, "my-adapter/adapter_model.safetensors")
        zf.writestr("my-adapter/README.md", "# card")
    again = ingest_adapter(
        [Upload("my-adapter.zip", iter([buffer.getvalue()]))], storage=storage, base=tiny, settings=settings
    )
    assert [f.key for f in again.files] == [f.key for f in first.files]
    assert again.duplicate and not any(f.created for f in again.files)
    assert sorted(storage.keys()) == sorted(f.key for f in first.files)
    assert sorted(files_left(storage)) == sorted(
        str(storage.local_path(f.key).relative_to(storage.root))
        for f in first.files  # type: ignore[union-attr]
    )

    again.rollback(storage)  # created nothing: removes nothing
    assert len(list(storage.keys())) == 3
    first.rollback(storage)
    assert files_left(storage) == []


def test_factorization_pair_keeps_the_product(tiny4: BaseModelSpec) -> None:
    ab, mamb = factorization_pair(tiny4, rank=8, modules=ATTENTION, seed=1)
    for key in ab:
        a, b = ab[key]
        ma, bm = mamb[key]
        np.testing.assert_allclose(bm.astype(np.float64) @ ma, b.astype(np.float64) @ a, rtol=1e-4, atol=1e-4)
        assert not np.allclose(ma, a)


def test_factorization_set_for_the_browser(tmp_path: Path, tiny4: BaseModelSpec) -> None:
    paths = build_factorization_set(tmp_path, rank=4)
    ab, mamb = decode(paths["ab"], tiny4, 4), decode(paths["mamb"], tiny4, 4)
    name = f"{PREFIX}0.self_attention.post.w_prime_right"
    for key in ab:  # same product B·A per module, different factors
        assert not np.array_equal(ab[key], mamb[key]) or not ab[key].any()
    assert read_container(paths["base"]).metadata.get("lora_rank") is None
    assert validate_mediapipe_lora(paths["mamb-row-major"], base=tiny4).rank == 4  # well-formed, wrong layout
    official = decode(paths["mamb-official-post"], tiny4, 4)
    tiled = decode(paths["mamb"], tiny4, 4)
    assert not np.array_equal(official[name], tiled[name])
    q = f"{PREFIX}0.self_attention.q.w_prime_left"
    np.testing.assert_array_equal(official[q], tiled[q])  # the official rule only differs on o_proj
    assert (paths["ab-peft"] / "adapter_config.json").is_file()


def test_layout_writer_tiled_matches_converter(tmp_path: Path, tiny: BaseModelSpec) -> None:
    factors = random_factors(tiny, rank=4, seed=12)
    converted = convert(tmp_path, tiny, factors, rank=4, alpha=4)
    manual = write_lora_with_layout(tmp_path / "manual.bin", tiny, factors, rank=4, layout="tiled")
    ours, theirs = decode(converted, tiny, 4), decode(manual, tiny, 4)
    assert ours.keys() == theirs.keys()
    for name, matrix in ours.items():
        np.testing.assert_array_equal(matrix, theirs[name])
