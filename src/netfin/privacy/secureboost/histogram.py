"""Gradients as fixed-point integers, their packing into one plaintext, histograms and split gains.

Fixed point: ``g`` and ``h`` (logistic loss) are rounded to integers at
``2**-FIXED_POINT_BITS``. Every histogram, plaintext or decrypted, holds exact
integer sums of these integers, so the federated protocol and the plaintext
reference compute bit-identical gains and leaf weights from the same rows.

Packing (``GhLayout``): each row's ``(g + 1, h, 1)`` becomes one integer with
``g + 1`` (non-negative, since ``|g| < 1``) in the high slot, ``h`` in the
middle and a count of one at the bottom; each slot is wide enough for the sum
over every training row, so sums never carry from one slot into the next. A
bucket's decrypted sum gives back ``G = sum(g + 1) - count``, ``H`` and the count.

Split gain (XGBoost): ``0.5 * (GL^2/(HL+lambda) + GR^2/(HR+lambda) - G^2/(H+lambda)) - gamma``,
valid when both sides hold at least ``min_child_weight`` of hessian and
``min_data_in_leaf`` rows; missing values try both sides. Ties go to the first
candidate in (party, feature, bin, missing-right-first) order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from netfin.core.errors import InvalidInput, invariant
from netfin.privacy.secureboost.model import FIXED_POINT_BITS, ROWS_MAX, BoostParams

SCALE = 1 << FIXED_POINT_BITS
IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def gradients(scores: FloatArray, labels: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Logistic loss: ``g = p - y``, ``h = p (1 - p)`` with ``p = sigmoid(score)``."""
    p = 1.0 / (1.0 + np.exp(-scores))
    return p - labels, p * (1.0 - p)


def quantize(g: FloatArray, h: FloatArray) -> tuple[IntArray, IntArray]:
    g_int = np.rint(g * SCALE).astype(np.int64)
    h_int = np.rint(h * SCALE).astype(np.int64)
    invariant(bool(np.all(np.abs(g_int) <= SCALE)), "logistic gradients lie in [-1, 1]")
    invariant(bool(np.all((h_int >= 0) & (h_int <= SCALE // 4))), "logistic hessians lie in [0, 1/4]")
    return g_int, h_int


@dataclass(frozen=True)
class GhLayout:
    """Bit widths of the (g, h, count) slots for sums over at most ``rows`` rows."""

    rows: int
    fixed_point_bits: int = FIXED_POINT_BITS

    def __post_init__(self) -> None:
        if not 1 <= self.rows <= ROWS_MAX or self.fixed_point_bits != FIXED_POINT_BITS:
            raise InvalidInput(f"a gradient layout covers 1 to {ROWS_MAX} rows at {FIXED_POINT_BITS} bits")

    @property
    def count_bits(self) -> int:
        return self.rows.bit_length()

    @property
    def hess_bits(self) -> int:
        return (self.rows << (self.fixed_point_bits - 2)).bit_length()

    @property
    def grad_bits(self) -> int:
        return (self.rows << (self.fixed_point_bits + 1)).bit_length()

    @property
    def slot_bits(self) -> int:
        return self.grad_bits + self.hess_bits + self.count_bits

    def encode(self, g_int: IntArray, h_int: IntArray) -> list[int]:
        """One non-negative integer per row: ``(g + 1) << (hb + cb) | h << cb | 1``."""
        grad_shift, hess_shift = self.hess_bits + self.count_bits, self.count_bits
        offset = 1 << self.fixed_point_bits
        return [
            ((g + offset) << grad_shift) | (h << hess_shift) | 1
            for g, h in zip(g_int.tolist(), h_int.tolist(), strict=True)
        ]

    def decode(self, sums: Sequence[int]) -> IntArray:
        """``(len(sums), 3)``: ``G``, ``H`` and the count of each summed slot."""
        count_mask = (1 << self.count_bits) - 1
        hess_mask = (1 << self.hess_bits) - 1
        grad_shift = self.hess_bits + self.count_bits
        offset = 1 << self.fixed_point_bits
        out = np.empty((len(sums), 3), dtype=np.int64)
        for i, value in enumerate(sums):
            if value < 0 or value >> self.slot_bits:
                raise InvalidInput("a decrypted histogram slot is out of range")
            count = value & count_mask
            out[i] = ((value >> grad_shift) - count * offset, (value >> self.count_bits) & hess_mask, count)
        return out

    def to_json(self) -> dict[str, int]:
        return {"rows": self.rows, "fixed_point_bits": self.fixed_point_bits}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GhLayout:
        return cls(rows=int(data["rows"]), fixed_point_bits=int(data["fixed_point_bits"]))


def unpack_slots(values: Sequence[int], *, slots: int, slot_bits: int, total: int) -> list[int]:
    """Undo ``AdditiveScheme.pack``: ``total`` slot values, lowest slot first."""
    mask = (1 << slot_bits) - 1
    out: list[int] = []
    for value in values:
        for _ in range(min(slots, total - len(out))):
            out.append(value & mask)
            value >>= slot_bits
        if value:
            raise InvalidInput("a packed histogram carries more than its slots")
    if len(out) != total:
        raise InvalidInput(f"expected {total} histogram slots, got {len(out)}")
    return out


def histogram(
    buckets: np.ndarray[Any, np.dtype[np.int8]],
    bucket_count: int,
    rows: IntArray,
    g_int: IntArray,
    h_int: IntArray,
) -> IntArray:
    """``(features, bucket_count, 3)``: exact sums of g, h and the row count per bucket."""
    features = buckets.shape[1]
    index = (buckets[rows].astype(np.int64) + np.arange(features, dtype=np.int64) * bucket_count).ravel()
    size = features * bucket_count
    out = np.empty((size, 3), dtype=np.int64)
    # float64 sums of integers stay exact below 2**53; |G| <= ROWS_MAX * 2**24 < 2**44
    for k, weights in enumerate((g_int[rows], h_int[rows])):
        out[:, k] = np.rint(np.bincount(index, weights=np.repeat(weights, features), minlength=size))
    out[:, 2] = np.bincount(index, minlength=size)
    return out.reshape(features, bucket_count, 3)


@dataclass(frozen=True)
class Candidate:
    gain: float
    feature: int
    bin: int
    missing_left: bool


def leaf_weight(totals: IntArray, params: BoostParams) -> float:
    g, h = totals[0] / SCALE, totals[1] / SCALE
    return float(-params.learning_rate * g / (h + params.reg_lambda))


def best_split(hist: IntArray, totals: IntArray, params: BoostParams) -> Candidate | None:
    """The best valid split of one party's features at one node, or None."""
    lam = params.reg_lambda
    missing = hist[:, -1:, :]
    left_missing_right = np.cumsum(hist[:, :-1, :], axis=1)
    left = np.stack([left_missing_right, left_missing_right + missing], axis=2)  # (F, B-1, 2, 3)
    right = totals - left
    gl, hl, cl = left[..., 0] / SCALE, left[..., 1] / SCALE, left[..., 2]
    gr, hr, cr = right[..., 0] / SCALE, right[..., 1] / SCALE, right[..., 2]
    parent = (totals[0] / SCALE) ** 2 / (totals[1] / SCALE + lam)
    gain = gl * gl / (hl + lam) + gr * gr / (hr + lam) - parent
    valid = (hl >= params.min_child_weight) & (hr >= params.min_child_weight)
    valid &= (cl >= params.min_data_in_leaf) & (cr >= params.min_data_in_leaf)
    valid[:, :, 1] &= missing[:, :, 2] > 0  # missing-left differs only where values are missing
    gain = np.where(valid, gain, -np.inf)
    if gain.size == 0:
        return None
    flat = int(np.argmax(gain))
    best = float(gain.flat[flat])
    split_gain = 0.5 * best - params.gamma
    if not np.isfinite(best) or split_gain <= 0:
        return None
    feature, bin_index, side = np.unravel_index(flat, gain.shape)
    return Candidate(split_gain, int(feature), int(bin_index), bool(side))
