"""The fraud model: time split, calibration, determinism, artefacts, fingerprint, scorer and reasons.

One small synthetic history (a few thousand events, a known signal in
``f0``, ``f1``, ``f2`` and the device kind) trains in well under a second.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from netfin.core.clock import ManualClock
from netfin.core.errors import Conflict, InvalidInput
from netfin.risk import metrics
from netfin.risk.model import (
    ArtefactRejected,
    Scorer,
    TrainConfig,
    TrainedModel,
    fingerprint_table,
    load,
    save,
    split_by_time,
    train,
)
from netfin.risk.model.features import UNKNOWN_CODE, encode_column

FEATURES = ["f0", "f1", "f2", "f3", "f4", "device_kind", "night"]
SIGNAL = ("f0", "f1", "f2")
SMALL = TrainConfig(categorical=("device_kind",), min_data_in_leaf=20, rounds_max=120, num_leaves=15)


def synthetic_table(n: int = 6000, seed: int = 3, *, shuffle: bool = True) -> pa.Table:
    """Events with fraud driven by f0, f1, f2 and device kind "emulator"; timestamps repeat."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    device = rng.choice(
        np.array(["phone", "tablet", "desktop", "emulator"]), size=n, p=[0.6, 0.2, 0.17, 0.03]
    )
    logit = -4.2 + 1.8 * x[:, 0] + 1.4 * x[:, 1] + 1.0 * x[:, 2] + 1.5 * (device == "emulator")
    labels = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    ts = np.sort(rng.integers(0, n // 3, size=n)) * 1000  # about three events per second: ties
    order = rng.permutation(n) if shuffle else np.arange(n)
    columns = {f"f{i}": x[:, i] for i in range(5)}
    columns.update(
        device_kind=device, night=x[:, 4] > 1.0, ts_ms=ts, label=labels,
        amount_minor=rng.integers(100, 500_000, size=n), scenario=np.where(labels == 1, "ato", ""),
    )  # fmt: skip
    return pa.table({k: v[order] for k, v in columns.items()})


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return synthetic_table()


@pytest.fixture(scope="module")
def model(table: pa.Table) -> TrainedModel:
    return train(table, FEATURES, config=SMALL, clock=ManualClock())


def _rows(table: pa.Table) -> list[dict[str, object]]:
    return table.select(FEATURES).to_pylist()


def test_split_by_time_never_puts_one_millisecond_on_both_sides() -> None:
    ts = np.array([1, 1, 2, 2, 2, 2, 3, 3, 4, 4, 5, 5, 5, 6], dtype=np.int64)
    split = split_by_time(ts, 0.5, 0.3)  # the raw cuts (7 and 11) fall inside runs of 3 and 5
    assert (split.train_end, split.calibration_end) == (6, 10)
    assert ts[: split.train_end].max() < ts[split.train_end : split.calibration_end].min()
    assert ts[split.train_end : split.calibration_end].max() < ts[split.calibration_end :].min()


def test_split_by_time_refuses_too_few_timestamps() -> None:
    with pytest.raises(InvalidInput, match="too few distinct timestamps"):
        split_by_time(np.array([5, 5, 5, 5, 9], dtype=np.int64), 0.5, 0.3)


def test_trained_periods_follow_each_other_in_time(model: TrainedModel, table: pa.Table) -> None:
    split = model.metadata["split"]
    assert split["train"]["ts_ms_max"] < split["calibration"]["ts_ms_min"]
    assert split["calibration"]["ts_ms_max"] < split["test"]["ts_ms_min"]
    assert sum(part["rows"] for part in split.values()) == table.num_rows
    assert split["train"]["rows"] == pytest.approx(0.7 * table.num_rows, rel=0.02)


def test_the_model_learns_the_signal(model: TrainedModel) -> None:
    test = model.metadata["metrics"]["test"]
    assert test["roc_auc"] > 0.85
    assert test["auprc"] > 3 * test["base_rate"]


def test_metadata_records_version_features_parameters_metrics_and_fingerprint(model: TrainedModel) -> None:
    meta = model.metadata
    assert re.fullmatch(r"fraud-20260101T000000Z-[0-9a-f]{10}", meta["version"])
    assert meta["created_at"] == "2026-01-01T00:00:00+00:00"
    assert [f["name"] for f in meta["features"]] == FEATURES
    assert {f["name"]: f["type"] for f in meta["features"]}["night"] == "bool"
    assert meta["training"]["lightgbm_params"]["deterministic"] is True
    # Two threads by default, but a history this small trains on one (see TrainConfig.threads_for).
    assert (SMALL.num_threads, meta["training"]["lightgbm_params"]["num_threads"]) == (2, 1)
    assert SMALL.threads_for(1_000_000) == 2
    for period in ("train", "calibration", "test"):
        report = meta["metrics"][period]
        for key in ("auprc", "roc_auc", "recall_at_fpr", "money_stopped", "scenarios"):
            assert key in report
    assert meta["fingerprint"]["rows"] == 6000
    json.dumps(meta, allow_nan=False)  # JSON-ready as it stands


def test_vocabulary_is_learnt_from_training_and_unknown_values_get_the_reserved_code(
    model: TrainedModel,
) -> None:
    device = next(f for f in model.features if f.name == "device_kind")
    assert device.vocabulary[0] == "phone"  # most frequent first
    assert set(device.vocabulary) == {"phone", "tablet", "desktop", "emulator"}
    scorer = Scorer(model)
    row = dict.fromkeys(FEATURES, 0.0) | {"device_kind": "smart-fridge", "night": False}
    assert scorer.encode(row)[0, FEATURES.index("device_kind")] == UNKNOWN_CODE
    assert 0.0 < scorer.score(row) < 1.0


def test_training_is_deterministic(table: pa.Table, model: TrainedModel) -> None:
    again = train(table, FEATURES, config=SMALL, clock=ManualClock())
    assert again.model_text == model.model_text
    assert again.version == model.version


def test_calibration_improves_brier_score_on_a_miscalibrated_model(table: pa.Table) -> None:
    # A heavy fraud weight makes the booster's own probabilities far too high.
    for method in ("platt", "isotonic"):
        config = _config(scale_pos_weight=40.0, calibration=method)
        trained = train(table, FEATURES, config=config, clock=ManualClock())
        start = trained.metadata["split"]["train"]["rows"] + trained.metadata["split"]["calibration"]["rows"]
        ordered = table.sort_by([("ts_ms", "ascending")]).slice(start)
        labels = ordered.column("label").to_numpy()
        raw = 1 / (1 + np.exp(-trained.predict_margin(ordered)))
        calibrated = trained.predict_proba(ordered)
        assert metrics.brier_score(labels, calibrated) < 0.8 * metrics.brier_score(labels, raw), method
        assert calibrated.mean() == pytest.approx(labels.mean(), abs=0.02)


def _config(**changes: object) -> TrainConfig:
    values = {name: getattr(SMALL, name) for name in SMALL.__dataclass_fields__}
    values.update(changes)
    return TrainConfig(**values)  # type: ignore[arg-type]


def test_negative_subsampling_keeps_every_fraud_and_reweights(table: pa.Table) -> None:
    trained = train(table, FEATURES, config=_config(negatives_max=1000), clock=ManualClock())
    info = trained.metadata["training"]
    frauds = trained.metadata["split"]["train"]["frauds"]
    legitimate = trained.metadata["split"]["train"]["rows"] - frauds
    assert info["rows_used"] == 1000 + frauds
    assert info["negative_rate"] == pytest.approx(1000 / legitimate)
    assert info["negative_weight"] == pytest.approx(legitimate / 1000)
    assert info["scale_pos_weight"] == pytest.approx(math.sqrt(legitimate / frauds))
    assert trained.metadata["metrics"]["test"]["roc_auc"] > 0.8


def test_artefact_round_trip_gives_identical_scores(
    model: TrainedModel, table: pa.Table, tmp_path: Path
) -> None:
    path = save(model, tmp_path)
    assert path == tmp_path / model.version
    assert sorted(p.name for p in path.iterdir()) == ["calibrator.json", "metadata.json", "model.txt"]
    loaded = load(path)
    assert np.array_equal(loaded.predict_proba(table), model.predict_proba(table))
    assert loaded.metadata == model.metadata
    assert loaded.features == model.features
    with pytest.raises(Conflict):
        save(model, tmp_path)  # artefacts are immutable


@pytest.mark.parametrize("edit", ["model", "calibrator", "metadata", "missing"])
def test_a_tampered_artefact_is_refused(model: TrainedModel, tmp_path: Path, edit: str) -> None:
    path = save(model, tmp_path)
    if edit == "model":
        text = (path / "model.txt").read_text()
        leaf = re.search(r"leaf_value=(\S+)", text)
        assert leaf is not None
        (path / "model.txt").write_text(text.replace(leaf.group(0), "leaf_value=9" + leaf.group(1)[1:], 1))
    elif edit == "calibrator":
        data = json.loads((path / "calibrator.json").read_text())
        data["intercept"] += 1.0
        (path / "calibrator.json").write_text(json.dumps(data))
    elif edit == "metadata":
        data = json.loads((path / "metadata.json").read_text())
        data["metrics"]["test"]["auprc"] = 0.99
        (path / "metadata.json").write_text(json.dumps(data))
    else:
        (path / "calibrator.json").unlink()
    expected = "model_artefact_incomplete" if edit == "missing" else "model_artefact_tampered"
    with pytest.raises(ArtefactRejected) as raised:
        load(path)
    assert raised.value.code == expected


def test_fingerprint_follows_the_data_not_its_layout(table: pa.Table) -> None:
    columns = [*FEATURES, "label", "ts_ms", "amount_minor"]
    first = fingerprint_table(table, columns, "ts_ms")
    rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=777))
    reordered = table.select(list(reversed(table.column_names)))
    assert fingerprint_table(rechunked, columns, "ts_ms") == first
    assert fingerprint_table(reordered, columns, "ts_ms") == first
    assert first["rows"] == 6000
    assert first["ts_ms_min"] == 0
    changed_amount = table.set_column(
        table.column_names.index("amount_minor"), "amount_minor",
        pa.array(np.r_[table.column("amount_minor").to_numpy()[:-1], 1]),
    )  # fmt: skip
    relabelled = table.set_column(
        table.column_names.index("label"), "label", pa.array(1 - table.column("label").to_numpy())
    )
    for other in (changed_amount, relabelled, table.slice(1)):
        assert fingerprint_table(other, columns, "ts_ms")["sha256"] != first["sha256"]


def test_scorer_single_rows_equal_batch_scores(model: TrainedModel, table: pa.Table) -> None:
    scorer = Scorer(model)
    batch = scorer.score_batch(table)
    single = np.array([scorer.score(row) for row in _rows(table.slice(0, 400))])
    margins = np.array([scorer.margin(row) for row in _rows(table.slice(0, 400))])
    assert np.array_equal(
        margins, model.predict_margin(table.slice(0, 400))
    )  # same trees, same float32 inputs
    np.testing.assert_allclose(single, batch[:400], rtol=1e-12, atol=0)  # math.exp vs numpy exp: last bit
    assert scorer.version == model.version


def test_reasons_name_the_features_that_drive_the_signal(model: TrainedModel) -> None:
    scorer = Scorer(model)
    row = {"f0": 2.5, "f1": 2.5, "f2": 2.5, "f3": 0.0, "f4": 0.0, "device_kind": "phone", "night": False}
    assert scorer.score(row) > 0.5
    for exact in (False, True):
        reasons = scorer.reasons(row, exact=exact)
        assert len(reasons) == 3
        assert {name for name, _ in reasons} == set(SIGNAL), exact
        weights = [weight for _, weight in reasons]
        assert weights == sorted(weights, reverse=True) and weights[-1] > 0
    assert scorer.explain_check(row) < 1e-9  # bias + path credits rebuild the margin exactly


def test_reasons_only_report_pushes_towards_fraud(model: TrainedModel) -> None:
    scorer = Scorer(model)
    row = {"f0": -3.0, "f1": -3.0, "f2": -3.0, "f3": 0.0, "f4": 0.0, "device_kind": "phone", "night": False}
    assert all(weight > 0 for _, weight in scorer.reasons(row))
    assert {name for name, _ in scorer.reasons(row)}.isdisjoint(SIGNAL)


def test_scorer_refuses_a_row_without_a_feature_or_with_text_for_a_number(model: TrainedModel) -> None:
    scorer = Scorer(model)
    row = {"f0": 1.0, "f1": 0.0, "f2": 0.0, "f3": 0.0, "device_kind": "phone", "night": False}
    with pytest.raises(InvalidInput, match="lacks feature 'f4'"):
        scorer.score(row)
    with pytest.raises(InvalidInput, match="must be a number"):
        scorer.score(row | {"f4": "high"})
    assert 0 < scorer.score(row | {"f4": None}) < 1  # None is an explicit missing value


def test_training_refuses_bad_input(table: pa.Table) -> None:
    with pytest.raises(InvalidInput, match="lacks column 'label'"):
        train(table.drop_columns(["label"]), FEATURES, config=SMALL)
    with pytest.raises(InvalidInput, match=r"list it in config\.categorical"):
        train(table, FEATURES, config=TrainConfig(min_data_in_leaf=20))
    with pytest.raises(InvalidInput, match="leave a test period"):
        TrainConfig(train_fraction=0.8, calibration_fraction=0.2)


def test_dictionary_encoded_categories_get_the_same_codes_as_strings(
    model: TrainedModel, table: pa.Table
) -> None:
    index = table.column_names.index("device_kind")
    encoded = table.set_column(index, "device_kind", table.column("device_kind").dictionary_encode())
    with_null = pa.chunked_array([pa.array(["emulator", None, "toaster"]).dictionary_encode()])
    assert np.array_equal(model.encode(encoded), model.encode(table))
    device = next(f for f in model.features if f.name == "device_kind")
    codes = encode_column(with_null, device)
    assert codes.tolist() == [device.vocabulary.index("emulator") + 1, UNKNOWN_CODE, UNKNOWN_CODE]


def test_early_stopping_can_be_turned_off_for_a_fixed_size_model(table: pa.Table) -> None:
    trained = train(
        table, FEATURES, config=_config(rounds_max=25, early_stopping_rounds=0), clock=ManualClock()
    )
    assert trained.booster.num_trees() == 25
    assert trained.metadata["training"]["rounds"] == 25
    assert trained.metadata["training"]["early_stopping_rows"] == 0
