"""SecureBoost's parts in one process: binning, fixed-point packing, histograms, gains, input checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.privacy.secureboost import BoostParams, read_party_csv, stratified_split
from netfin.privacy.secureboost.binning import bin_features, fit_cuts, goes_left
from netfin.privacy.secureboost.histogram import (
    SCALE,
    GhLayout,
    best_split,
    histogram,
    quantize,
    unpack_slots,
)


def test_cuts_are_feature_values_and_bins_follow_them() -> None:
    assert fit_cuts(np.array([3.0, 1.0, 2.0, 1.0, np.nan]), 32).tolist() == [1.0, 2.0]
    values = np.random.default_rng(0).normal(size=1000)
    cuts = fit_cuts(values, 8)
    assert cuts.size == 7 and set(cuts.tolist()) <= set(values.tolist())
    binned = bin_features(["a"], np.array([[0.5], [1.0], [1.5], [np.nan]]), 4)
    assert binned.buckets[:, 0].tolist() == [0, 1, 2, 3] and binned.missing_bucket == 3


def test_a_bin_split_and_a_value_split_agree() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=(300, 1))
    values[rng.random(300) < 0.1] = np.nan
    binned = bin_features(["a"], values, 16)
    rows = np.arange(300)
    for b in range(len(binned.cuts[0])):
        for missing_left in (False, True):
            by_bin = binned.goes_left(rows, 0, b, missing_left)
            by_value = goes_left(values[:, 0], float(binned.cuts[0][b]), missing_left)
            assert np.array_equal(by_bin, by_value)


def test_packed_gradients_sum_without_carries() -> None:
    rng = np.random.default_rng(2)
    g_int, h_int = quantize(rng.uniform(-1, 1, 500), rng.uniform(0, 0.25, 500))
    layout = GhLayout(500)
    total = sum(layout.encode(g_int, h_int))
    assert layout.decode([total]).tolist() == [[int(g_int.sum()), int(h_int.sum()), 500]]
    words = [5 | (7 << 10), 9]
    assert unpack_slots(words, slots=2, slot_bits=10, total=3) == [5, 7, 9]
    with pytest.raises(InvalidInput):
        unpack_slots([1 << 25], slots=2, slot_bits=10, total=2)


def test_histograms_are_exact_bucket_sums() -> None:
    rng = np.random.default_rng(3)
    buckets = rng.integers(0, 5, size=(200, 3)).astype(np.int8)
    g_int, h_int = quantize(rng.uniform(-1, 1, 200), rng.uniform(0, 0.25, 200))
    rows = np.flatnonzero(rng.random(200) < 0.5)
    hist = histogram(buckets, 5, rows, g_int, h_int)
    for f in range(3):
        for b in range(5):
            at = rows[buckets[rows, f] == b]
            assert hist[f, b].tolist() == [int(g_int[at].sum()), int(h_int[at].sum()), at.size]


def test_the_best_split_separates_the_gradients() -> None:
    # feature 1 separates g = -0.5 (buckets 0, 1) from g = +0.5 (buckets 2, 3); feature 0 is noise
    g = np.where(np.arange(100) < 50, -0.5, 0.5)
    g_int, h_int = quantize(g, np.full(100, 0.25))
    buckets = np.stack([np.arange(100) % 4, np.arange(100) // 25], axis=1).astype(np.int8)
    hist = histogram(buckets, 5, np.arange(100), g_int, h_int)
    totals = np.array([g_int.sum(), h_int.sum(), 100])
    best = best_split(hist, totals, BoostParams(min_data_in_leaf=5))
    assert best is not None and (best.feature, best.bin, best.missing_left) == (1, 1, False)
    assert best_split(hist, totals, BoostParams(min_data_in_leaf=60)) is None
    assert best_split(hist, totals, BoostParams(gamma=1e5, min_data_in_leaf=5)) is None
    assert SCALE == 1 << 24


def test_hyperparameters_have_limits() -> None:
    with pytest.raises(LimitExceeded):
        BoostParams(trees=10_000)
    with pytest.raises(LimitExceeded):
        BoostParams(depth=20)
    with pytest.raises(InvalidInput):
        BoostParams(learning_rate=0.0)
    with pytest.raises(InvalidInput, match="unknown"):
        BoostParams.from_json({"eta": 0.1})


def test_the_split_is_stratified_and_seeded() -> None:
    labels = np.array([0.0] * 70 + [1.0] * 30)
    train, test = stratified_split(labels, 0.3, 7)
    assert train.size == 70 and test.size == 30 and labels[test].sum() == 9
    assert np.array_equal(test, stratified_split(labels, 0.3, 7)[1])
    assert not np.array_equal(test, stratified_split(labels, 0.3, 8)[1])


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_bad_party_files_are_refused(tmp_path: Path) -> None:
    good = "id,y,a\n1,0,0.5\n2,1,\n"
    assert read_party_csv(_csv(tmp_path / "g.csv", good), id_column="id", target="y").features == ["a"]
    cases = {
        "no such file": (tmp_path / "absent.csv", "id", "y"),
        "no id column": (_csv(tmp_path / "a.csv", good), "key", "y"),
        "no target column": (_csv(tmp_path / "b.csv", good), "id", "label"),
        "only 0 and 1": (_csv(tmp_path / "c.csv", "id,y,a\n1,2,0.5\n2,1,0.1\n"), "id", "y"),
        "single class": (_csv(tmp_path / "d.csv", "id,y,a\n1,1,0.5\n2,1,0.1\n"), "id", "y"),
        "non-numeric": (_csv(tmp_path / "e.csv", "id,y,a\n1,0,x\n2,1,0.1\n"), "id", "y"),
        "not unique": (_csv(tmp_path / "f.csv", "id,y,a\n1,0,0.5\n1,1,0.1\n"), "id", "y"),
        "infinite": (_csv(tmp_path / "h.csv", "id,y,a\n1,0,inf\n2,1,0.1\n"), "id", "y"),
    }
    for message, (path, id_column, target) in cases.items():
        with pytest.raises(InvalidInput, match=message):
            read_party_csv(path, id_column=id_column, target=target)
