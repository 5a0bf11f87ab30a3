"""4x4 tile layout (§7.2) against the doc's literal loop, and fp16 range checks."""

from __future__ import annotations

import numpy as np
import pytest

from app.mediapipe_format import Fp16RangeError, fp16_tiled_bytes, tile4x4, to_fp16, untile4x4


def doc_loop(m: np.ndarray) -> list[int]:
    a, b = m.shape
    out = []
    for ta in range(a // 4):
        for tb in range(b // 4):
            for i in range(4):
                for j in range(4):
                    out.append(int(m[4 * ta + i][4 * tb + j]))
    return out


@pytest.mark.parametrize("shape", [(4, 4), (8, 12), (16, 4), (4, 16), (12, 8)])
def test_tile_matches_doc_loop(shape: tuple[int, int]) -> None:
    rows, cols = shape
    m = np.array([[i * 1000 + j for j in range(cols)] for i in range(rows)], dtype=np.int64)
    assert tile4x4(m).tolist() == doc_loop(m)
    np.testing.assert_array_equal(untile4x4(tile4x4(m), rows, cols), m)


def test_round_trip_random() -> None:
    m = np.random.default_rng(0).normal(size=(64, 16)).astype(np.float16)
    np.testing.assert_array_equal(untile4x4(tile4x4(m), 64, 16), m)


def test_rank4_first_factor_is_row_major_but_others_are_not() -> None:
    first_r4 = np.arange(128 * 4).reshape(128, 4)  # [in, r=4]
    np.testing.assert_array_equal(tile4x4(first_r4), first_r4.ravel())
    first_r8 = np.arange(128 * 8).reshape(128, 8)
    assert not np.array_equal(tile4x4(first_r8), first_r8.ravel())
    second_r4 = np.arange(4 * 64).reshape(4, 64)  # [r=4, out]
    assert not np.array_equal(tile4x4(second_r4), second_r4.ravel())


@pytest.mark.parametrize("shape", [(3, 4), (4, 6), (0, 4)])
def test_tile_rejects_non_multiples_of_4(shape: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="multiples of 4"):
        tile4x4(np.zeros(shape))


def test_fp16_bytes_little_endian() -> None:
    m = np.ones((4, 4), dtype=np.float32)
    assert fp16_tiled_bytes(m) == b"\x00\x3c" * 16


def test_fp16_range() -> None:
    assert to_fp16(np.array([65504.0, -65504.0, 1e-9])).dtype == np.dtype("<f2")
    with pytest.raises(Fp16RangeError, match="exceeds"):
        to_fp16(np.array([1.0, 70000.0]))
    with pytest.raises(Fp16RangeError, match="NaN"):
        to_fp16(np.array([np.inf]))
