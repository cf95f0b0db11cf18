"""Scorecards: binning, points scale, reason codes, artefacts, refusals, and the two public datasets."""

from __future__ import annotations

import json
import math
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from credit_synthetic import SPECIAL_CODE, synthetic_frame
from shared_data import skip_unless

from netfin.core.clock import ManualClock
from netfin.core.errors import Conflict, InvalidInput, LimitExceeded, NotFound
from netfin.credit import scorecard as sc
from netfin.credit.scorecard import (
    STATLOG_GERMAN_CATEGORICAL,
    ArtefactRejected,
    BinningOptions,
    ScorecardModel,
    ScorecardSpec,
    load_scorecard,
    read_frame,
    save_scorecard,
    split_frame,
    train_scorecard,
)

CREDIT_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "credit"
TAIWAN = CREDIT_DATA / "UCI_Credit_Card_taiwan_default.csv"
GERMAN = CREDIT_DATA / "statlog_german.data"
SPEC = ScorecardSpec(
    target="default",
    id_column="loan_id",
    exclude=("month",),
    categorical=("region",),
    binning=BinningOptions(special_codes={"income": (SPECIAL_CODE,)}),
)


@pytest.fixture(scope="module")
def frame() -> Any:
    return synthetic_frame()


@pytest.fixture(scope="module")
def model(frame: Any) -> ScorecardModel:
    return train_scorecard(frame, SPEC, seed=1, clock=ManualClock())


def _feature(model: ScorecardModel, name: str) -> sc.ScorecardFeature:
    return next(f for f in model.features if f.name == name)


def _regular(feature: sc.ScorecardFeature) -> list[sc.ScorecardBin]:
    return [b for b in feature.bins if b.kind in ("interval", "categories")]


def test_numerical_features_are_monotone_in_the_direction_of_their_risk(model: ScorecardModel) -> None:
    utilisation = _regular(_feature(model, "utilisation"))
    income = _regular(_feature(model, "income"))
    assert len(utilisation) >= 3 and len(income) >= 3
    # Risk rises with utilisation: WoE (log good:bad) falls and so do the points; income the other way.
    assert all(a.woe > b.woe and a.points >= b.points for a, b in pairwise(utilisation))
    assert all(a.woe < b.woe and a.points <= b.points for a, b in pairwise(income))
    assert utilisation[0].points > utilisation[-1].points


def test_features_outside_the_iv_bounds_are_dropped(frame: Any) -> None:
    model = train_scorecard(frame, ScorecardSpec(**{**_spec_fields(), "iv_min": 0.05}), seed=1)
    ivs = {c["name"]: c["iv"] for c in model.metadata["candidates"]}
    assert model.feature_names == ("utilisation", "income", "region")
    assert ivs["noise"] < 0.05 < min(ivs[n] for n in model.feature_names)
    assert model.report is not None and model.report.iv == pytest.approx(ivs)


def _spec_fields() -> dict[str, Any]:
    return {name: getattr(SPEC, name) for name in SPEC.__dataclass_fields__}


def test_scores_are_integer_sums_of_table_points(model: ScorecardModel, frame: Any) -> None:
    rows = frame.head(50)
    scores = model.score(rows)
    assert scores.dtype == np.int64
    index = model.bin_indices(rows)
    by_hand = [sum(f.bins[int(index[i, j])].points for j, f in enumerate(model.features)) for i in range(50)]
    assert scores.tolist() == by_hand
    assert model.score(rows.to_dict("records")).tolist() == by_hand


def test_points_follow_the_pdo_scale(model: ScorecardModel, frame: Any) -> None:
    # score = offset + factor * ln(good:bad odds), up to half a point of rounding per feature.
    pd_ = model.probability(frame)
    exact = model.offset + model.factor * np.log((1 - pd_) / pd_)
    assert np.abs(model.score(frame) - exact).max() <= 0.5 * len(model.features)
    assert model.factor == pytest.approx(20 / math.log(2))
    assert model.offset + model.factor * math.log(50) == pytest.approx(600)


def test_missing_special_and_unseen_values_have_their_own_bins(model: ScorecardModel) -> None:
    row = {"utilisation": None, "income": SPECIAL_CODE, "region": "atlantis"}
    index = model.bin_indices([row])[0]
    kinds = [model.features[j].bins[int(index[j])].kind for j in range(3)]
    assert kinds == ["missing", "special", "unknown"]
    unknown = _feature(model, "region").bins[-1]
    missing_income = next(b for b in _feature(model, "income").bins if b.kind == "missing")
    assert unknown.woe == 0.0 and unknown.points == missing_income.points  # both the average applicant


def test_categories_match_whatever_type_the_row_carries(model: ScorecardModel) -> None:
    frame = pd.DataFrame({"utilisation": [10, 10.0], "income": ["1.5", 1.5], "region": ["north", "north"]})
    assert model.score(frame)[0] == model.score(frame)[1]
    with pytest.raises(InvalidInput) as caught:
        model.score([{"utilisation": "high", "income": 1.0, "region": "north"}])
    assert caught.value.code == "scorecard_value"
    with pytest.raises(InvalidInput) as caught:
        model.score([{"utilisation": 1.0}])
    assert caught.value.code == "scorecard_features_missing"


def test_reasons_name_the_costliest_features_first(model: ScorecardModel) -> None:
    risky = {"utilisation": 99.0, "income": -2.5, "region": "west"}
    reasons = model.reasons(risky, n=3)
    # Utilisation spans the widest range of points, then income, then region.
    assert [r.feature for r in reasons] == ["utilisation", "income", "region"]
    assert [r.points_lost for r in reasons] == sorted((r.points_lost for r in reasons), reverse=True)
    assert all(r.points_lost == r.best_points - r.points > 0 for r in reasons)
    assert len(model.reasons(risky, n=1)) == 1
    assert model.reasons({"utilisation": 0.5, "income": 3.0, "region": "north"}) == ()
    with pytest.raises(InvalidInput):
        model.reasons(risky, n=0)


def test_the_report_measures_the_held_out_rows(model: ScorecardModel) -> None:
    report, split = model.report, model.metadata["split"]
    assert report is not None and report.rows == split["test_rows"] == 900
    assert report.auc is not None and report.auc > 0.75
    assert report.psi is not None and report.psi < 0.1
    assert model.metadata["evaluation"]["test"]["auc"] == report.auc


def test_the_same_seed_gives_the_same_scorecard(frame: Any, model: ScorecardModel) -> None:
    again = train_scorecard(frame, SPEC, seed=1, clock=ManualClock())
    assert again.to_json() == model.to_json() and again.version == model.version
    other = split_frame(frame, SPEC, seed=2)[1]
    assert not np.array_equal(other, split_frame(frame, SPEC, seed=1)[1])


def test_a_split_column_puts_the_latest_rows_in_the_test_sample(frame: Any) -> None:
    spec = ScorecardSpec(**{**_spec_fields(), "split_column": "month", "exclude": ()})
    train, test = split_frame(frame, spec, seed=1)
    months = frame["month"].to_numpy()
    assert months[train].max() < months[test].min()
    assert 0.2 < test.size / len(frame) < 0.4
    model = train_scorecard(frame, spec, seed=1)
    assert model.metadata["split"]["method"] == "time" and "month" not in model.feature_names


def test_points_table_exports(model: ScorecardModel) -> None:
    lines = model.points_csv().splitlines()
    assert lines[0] == ",".join(sc.POINTS_COLUMNS)
    assert len(lines) == 1 + sum(len(f.bins) for f in model.features)
    table = model.points_table()
    assert {r["feature"] for r in table} == set(model.feature_names)
    assert json.loads(json.dumps(table, allow_nan=False)) == table


def test_artefact_round_trip_scores_the_same(model: ScorecardModel, frame: Any, tmp_path: Path) -> None:
    path = save_scorecard(model, tmp_path)
    assert path.name == model.version
    assert sorted(p.name for p in path.iterdir()) == ["metadata.json", "points.csv", "scorecard.json"]
    loaded = load_scorecard(path)
    assert np.array_equal(loaded.score(frame), model.score(frame))
    assert np.array_equal(loaded.probability(frame), model.probability(frame))
    assert loaded.metadata == model.metadata
    with pytest.raises(Conflict):
        save_scorecard(model, tmp_path)


@pytest.mark.parametrize("target", ["scorecard.json", "points.csv", "metadata.json"])
def test_a_tampered_artefact_is_refused(model: ScorecardModel, tmp_path: Path, target: str) -> None:
    path = save_scorecard(model, tmp_path)
    edited = (path / target).read_text()
    if target == "metadata.json":
        edited = edited.replace('"seed": 1', '"seed": 2')
    else:
        points = _regular(model.features[0])[0].points
        edited = edited.replace(f"{points}", f"{points + 40}", 1)
    assert edited != (path / target).read_text()
    (path / target).write_text(edited)
    with pytest.raises(ArtefactRejected) as caught:
        load_scorecard(path)
    assert caught.value.code == "scorecard_artefact_tampered"


def test_an_incomplete_or_foreign_artefact_is_refused(model: ScorecardModel, tmp_path: Path) -> None:
    path = save_scorecard(model, tmp_path)
    (path / "points.csv").unlink()
    with pytest.raises(ArtefactRejected) as caught:
        load_scorecard(path)
    assert caught.value.code == "scorecard_artefact_incomplete"
    foreign = {**model.metadata, "version": "v2", "kind": "x"}
    path = save_scorecard(
        ScorecardModel(model.features, intercept=0, pdo=20, base_score=600, base_odds=50, metadata=foreign),
        tmp_path,
    )
    with pytest.raises(ArtefactRejected) as caught:
        load_scorecard(path)
    assert caught.value.code == "scorecard_artefact_format"


def _refusal(frame: Any, spec: ScorecardSpec) -> str:
    with pytest.raises((InvalidInput, LimitExceeded)) as caught:
        train_scorecard(frame, spec, seed=1)
    return str(getattr(caught.value, "code", ""))


def _with(**changes: Any) -> ScorecardSpec:
    return ScorecardSpec(**{**_spec_fields(), **changes})


REFUSALS: list[tuple[str, Any, ScorecardSpec]] = [
    ("scorecard_unknown_target", lambda f: f, ScorecardSpec(target="bad")),
    ("scorecard_target_not_binary", lambda f: f.assign(default=f["default"] * 2), SPEC),
    ("scorecard_too_few_rows", lambda f: f.head(50), SPEC),
    ("scorecard_too_few_defaults", lambda f: f.assign(default=0), SPEC),
    ("scorecard_column_not_numeric", lambda f: f, ScorecardSpec(target="default", id_column="loan_id")),
    ("scorecard_no_feature_selected", lambda f: f, _with(iv_min=5.0)),
    ("scorecard_unknown_column", lambda f: f, _with(exclude=("nope",))),
    ("scorecard_value", lambda f: f.assign(income=float("inf")), SPEC),
    ("scorecard_feature_empty", lambda f: f.assign(income=None), SPEC),
]


@pytest.mark.parametrize(("code", "change", "spec"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_name_the_rule(frame: Any, code: str, change: Any, spec: ScorecardSpec) -> None:
    assert _refusal(change(frame), spec) == code


def test_limits_on_rows_and_columns(frame: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sc, "COLUMNS_MAX", 5)
    assert _refusal(frame, SPEC) == "scorecard_columns_max"
    monkeypatch.setattr(sc, "ROWS_MAX", 1000)
    assert _refusal(frame, SPEC) == "scorecard_rows_max"


def test_spec_and_options_are_checked() -> None:
    for bad in ({"pdo": 0}, {"test_size": 1.0}, {"iv_min": 0.3, "iv_max": 0.1}, {"base_odds": -1}):
        with pytest.raises(InvalidInput):
            ScorecardSpec(target="default", **bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        BinningOptions(monotonic_trend="sideways")
    with pytest.raises(LimitExceeded):
        BinningOptions(special_codes={"x": tuple(range(sc.SPECIAL_CODES_MAX + 1))})


def test_reading_refuses_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_frame(tmp_path / "absent.csv")
    broken = tmp_path / "german.data"
    broken.write_text("A11 6 A34\n")
    with pytest.raises(InvalidInput) as caught:
        read_frame(broken, data_format="statlog-german")
    assert "has 3 fields" in str(caught.value)


@skip_unless(GERMAN.is_file(), f"{GERMAN} is absent")
def test_statlog_german_scorecard() -> None:
    frame = read_frame(GERMAN, data_format="statlog-german")
    assert frame.shape == (1000, 21) and frame["label"].sum() == 300  # 700 good, 300 bad
    model = train_scorecard(
        frame, ScorecardSpec(target="label", categorical=STATLOG_GERMAN_CATEGORICAL), seed=7
    )
    report = model.report
    assert report is not None and report.rows == 300 and report.defaults == 90
    assert report.auc is not None and report.auc > 0.72
    assert "A1" in model.feature_names and len(model.feature_names) >= 8
    assert model.reasons(frame.iloc[1].to_dict())[0].points_lost > 0


@skip_unless(TAIWAN.is_file(), f"{TAIWAN} is absent")
def test_taiwan_default_scorecard(tmp_path: Path) -> None:
    frame = read_frame(TAIWAN)
    assert frame.shape == (30_000, 25)
    spec = ScorecardSpec(
        target="default.payment.next.month", id_column="ID", categorical=("SEX", "EDUCATION", "MARRIAGE")
    )
    model = train_scorecard(frame, spec, seed=7)
    report = model.report
    assert report is not None and report.rows == 9000
    assert report.auc is not None and report.auc > 0.75 and report.ks is not None and report.ks > 0.35
    assert report.psi is not None and report.psi < 0.01  # a random split: train and test alike
    assert "PAY_0" in model.feature_names and "ID" not in model.feature_names
    loaded = load_scorecard(save_scorecard(model, tmp_path))
    assert np.array_equal(loaded.score(frame.head(1000)), model.score(frame.head(1000)))


def test_a_feature_absent_from_the_training_period_is_refused(frame: Any) -> None:
    late_only = frame.assign(income=frame["income"].where(frame["month"] >= 10))
    spec = _with(split_column="month", exclude=())
    assert _refusal(late_only, spec) == "scorecard_feature_empty"
