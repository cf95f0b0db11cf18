"""Train on the earlier part of a labelled history, evaluate on the later part: model, rules, both.

One pipeline serves ``netfin risk evaluate`` (a bank's own file through a
column mapping), ``netfin risk train`` and the reproducible evaluation in
docs/risk-evaluation.md (the simulator and the public fraud samples):

1. features: the catalogue's features computed offline over the whole
   history (each event sees only its past), plus the event's own fields
   and any extra numeric columns the mapping passes through;
2. the model: trained on the first period, calibrated on the second,
   measured on the last (``model.train``'s time split);
3. the rules: the rule set evaluated on every test event;
4. the comparison at the same alert budget: what the model catches, what
   the rules catch, and what each catches that the other misses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from netfin.core.errors import InvalidInput
from netfin.risk import metrics
from netfin.risk.decisions import Decision, Outcome
from netfin.risk.events import EVENT_COLUMNS
from netfin.risk.features import FEATURE_NAMES, FeatureConfig, compute_offline
from netfin.risk.features.catalogue import HOUR_MS
from netfin.risk.model import TimeSplit, TrainConfig, TrainedModel, split_by_time, train
from netfin.risk.rules import EVENT_VARIABLES, RuleSet, evaluate

CATEGORICAL = ("kind", "payee_kind", "channel", "segment", "mcc")
EVENT_NUMERIC = ("amount_minor", "hour")
Progress = Callable[[str], None]
MAX_TYPOLOGIES = 20


def featurise(
    events: pa.Table, *, extra: Sequence[str] = (), config: FeatureConfig | None = None,
    progress: Progress | None = None,
) -> pa.Table:  # fmt: skip
    """Events (sorted by seq) with every feature column beside them."""
    config = config or FeatureConfig()
    events = events.sort_by("seq")
    features = compute_offline(events.select(list(EVENT_COLUMNS)), config, progress)
    hours = (pc.divide(events["ts_ms"], HOUR_MS).to_numpy() + config.utc_offset_hours) % 24
    table = events.append_column("hour", pa.array(hours.astype(np.int64)))
    for name in FEATURE_NAMES:
        table = table.append_column(name, features[name])
    missing = [name for name in extra if name not in table.column_names]
    if missing:
        raise KeyError(f"extra feature columns not in the history: {missing}")
    return table


def model_features(extra: Sequence[str] = ()) -> list[str]:
    return list(FEATURE_NAMES) + list(EVENT_NUMERIC) + list(CATEGORICAL) + list(extra)


def rule_scores(ruleset: RuleSet, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the rules' summed score and whether any rule asked for more than approve."""
    names = [n for n in EVENT_VARIABLES if n in table.column_names] + list(FEATURE_NAMES)
    scores = np.zeros(table.num_rows)
    flagged = np.zeros(table.num_rows, dtype=bool)
    row = 0
    for batch in table.select(names).to_batches(max_chunksize=20_000):
        for variables in batch.to_pylist():
            outcome = evaluate(ruleset, variables)
            scores[row] = outcome.score
            flagged[row] = outcome.action.rank > 0
            row += 1
    return scores, flagged


def _overlap(
    y: np.ndarray, amount: np.ndarray, model_alert: np.ndarray, rules_alert: np.ndarray
) -> dict[str, Any]:
    """What each catches that the other misses, in frauds and in fraud money (minor units)."""

    def part(mask: np.ndarray) -> dict[str, int]:
        hit = mask & y
        return {"frauds": int(hit.sum()), "fraud_minor": int(amount[hit].sum()), "alerts": int(mask.sum())}

    return {
        "model": part(model_alert),
        "rules": part(rules_alert),
        "either": part(model_alert | rules_alert),
        "rules_only": part(rules_alert & ~model_alert),
        "model_only": part(model_alert & ~rules_alert),
        "frauds": int(y.sum()),
        "fraud_minor": int(amount[y].sum()),
    }


def evaluate_history(
    events: pa.Table, *, ruleset: RuleSet, config: TrainConfig | None = None, extra: Sequence[str] = (),
    progress: Progress | None = None, held_out: pa.Table | None = None,
) -> tuple[TrainedModel, dict[str, Any]]:  # fmt: skip
    """Train on the earlier part of ``events``, evaluate model and rules on the later part.

    With ``held_out`` (another history, e.g. the simulator under another
    seed), the model still trains and calibrates on ``events`` and is
    measured on the held-out history's later part (its last test fraction).
    """
    tell = progress or (lambda stage: None)
    config = config or TrainConfig(categorical=CATEGORICAL)
    started = time.perf_counter()
    table = featurise(events, extra=extra, progress=tell)
    featured = time.perf_counter()
    tell("training")
    model = train(table, model_features(extra), config=config)
    trained = time.perf_counter()
    if held_out is not None:
        tell("features of the held-out history")
        table = featurise(held_out, extra=extra)
    split, test = _test_period(table, config)
    tell("scoring the test period")
    y = np.asarray(test["label"].to_numpy(), dtype=bool)
    amount = np.asarray(test["amount_minor"].to_numpy(), dtype=np.int64)
    scenarios = test["scenario"].to_pylist()
    p_model = model.predict_proba(test)
    tell("rules on the test period")
    r_score, r_flag = rule_scores(ruleset, test)
    threshold = metrics.alert_threshold(p_model, config.alert_rate)
    model_alert = p_model >= threshold
    rates = {"fpr": config.fpr, "alert_rate": config.alert_rate}
    report: dict[str, Any] = {
        "rows": table.num_rows,
        "held_out": held_out is not None,
        "base_rate": metrics.base_rate(np.asarray(table["label"].to_numpy())),
        "split": split.ranges(),
        "ruleset": ruleset.identity,
        "model_version": model.version,
        "model": metrics.evaluate(y, p_model, amount, scenarios, **rates),
        "rules_score": metrics.evaluate(y, r_score, amount, scenarios, **rates),
        "rules_flag": asdict(metrics.precision_recall_at(y, r_flag.astype(float), 0.5)),
        "overlap_at_alert_rate": _overlap(y, amount, model_alert, r_flag),
        "seconds": {"features": featured - started, "training": trained - featured,
                    "evaluation": time.perf_counter() - trained},
    }  # fmt: skip
    return model, report


def _test_period(table: pa.Table, config: TrainConfig) -> tuple[TimeSplit, pa.Table]:
    """The time split of ``table`` and its last part, the period every number is measured on."""
    split = split_by_time(
        np.asarray(table["ts_ms"].to_numpy()), config.train_fraction, config.calibration_fraction
    )
    return split, table.slice(split.calibration_end)


def unseen_typologies(
    events: pa.Table, *, ruleset: RuleSet, held_out: pa.Table | None = None,
    config: TrainConfig | None = None, progress: Progress | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Each fraud typology in turn left out of training: what the rules catch of it that the model misses.

    Why a bank keeps rules beside a model: a new way of stealing appears, no
    model has seen it, and an analyst's rule is live on the next payment. For
    every scenario in ``events`` the model is trained on ``events`` without
    that scenario's fraud events (removed before the features are computed,
    as if it had never happened), then the test period of ``held_out`` (or of
    ``events`` itself, untouched) is scored. At the model's alert rate, per left-out scenario: the frauds the
    model still catches (other typologies' signals carry over), those the
    rules flag, and those only the rules flag, in count and in money.
    """
    tell = progress or (lambda stage: None)
    config = config or TrainConfig(categorical=CATEGORICAL)
    fraud = pc.equal(events["label"], 1)
    names = sorted(set(events.filter(fraud)["scenario"].to_pylist()) - {""})
    if not names:
        raise InvalidInput(
            "the history names no fraud types: map its fraud-type column as `scenario`",
            code="risk_no_typologies",
        )
    if len(names) > MAX_TYPOLOGIES:
        raise InvalidInput(
            f"{len(names)} fraud types, at most {MAX_TYPOLOGIES} (one training run each)",
            code="risk_too_many_typologies",
        )
    tell("features of the test history")
    _, test = _test_period(featurise(events if held_out is None else held_out), config)
    y = np.asarray(test["label"].to_numpy(), dtype=bool)
    amount = np.asarray(test["amount_minor"].to_numpy(), dtype=np.int64)
    scenarios = np.asarray(test["scenario"].to_pylist(), dtype=object)
    tell("rules on the test period")
    _, r_flag = rule_scores(ruleset, test)
    result: dict[str, Any] = {}
    for name in names:
        tell(f"training without {name}")
        kept = events.filter(pc.invert(pc.and_(fraud, pc.equal(events["scenario"], name))))
        model = train(featurise(kept), model_features(), config=config)
        p_model = model.predict_proba(test)
        model_alert = p_model >= metrics.alert_threshold(p_model, config.alert_rate)
        this = scenarios == name
        overlap = _overlap(y & this, amount, model_alert, r_flag)
        overlap["alerts"] = int(model_alert.sum())
        overlap["model_auprc"] = metrics.average_precision(y, p_model)
        result[name] = overlap
    return result


def decisions_table(pairs: Sequence[tuple[Decision, Outcome | None]]) -> pa.Table:
    """Stored decisions as a training table: the features they were decided on, labelled by analysts.

    A decision an analyst labelled takes the label's meaning (confirmed or
    missed fraud = 1, false positive or legitimate = 0); an unlabelled one
    counts as legitimate, as a payment nobody disputed. Decisions are in
    time order; ``seq`` follows it.
    """
    names = model_features()
    columns: dict[str, list[Any]] = {name: [] for name in names}
    ts, labels, amounts = [], [], []
    for decision, outcome in pairs:
        for name in names:
            columns[name].append(decision.features.get(name))
        ts.append(decision.decided_ns // 1_000_000)
        labels.append(1 if outcome is not None and outcome.is_fraud else 0)
        amounts.append(decision.amount_minor)
    table = pa.table({name: pa.array(values) for name, values in columns.items() if name != "amount_minor"})
    return (
        table.append_column("amount_minor", pa.array(amounts, pa.int64()))
        .append_column("ts_ms", pa.array(ts, pa.int64()))
        .append_column("label", pa.array(labels, pa.int8()))
        .append_column("scenario", pa.array([""] * len(ts), pa.string()))
    )


def train_from_decisions(
    pairs: Sequence[tuple[Decision, Outcome | None]], config: TrainConfig | None = None
) -> TrainedModel:
    """The next model, trained on what the engine decided and what analysts found."""
    table = decisions_table(pairs)
    return train(table, model_features(), config=config or TrainConfig(categorical=CATEGORICAL))
