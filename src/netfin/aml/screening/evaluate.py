"""Precision and recall of screening on the generated labelled set, per variant kind and per threshold.

Each query counts once. A positive (a variant of entry X) is a true positive
at threshold t when X itself is among the candidates scoring at least t; if
only other entries reach t it is a false positive *and* a miss. A true
non-match reaching t anywhere is a false positive. Per kind, precision is
measured on that kind's positives mixed with all the non-matches, so every
row answers "if all my true matches looked like this, how clean would the
alerts be".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from netfin.aml.screening.index import ScreeningIndex
from netfin.aml.screening.model import ScreeningSubject
from netfin.aml.screening.variants import KINDS, Variant, negatives, positives

SWEEP = tuple(round(0.70 + 0.02 * i, 2) for i in range(15))


@dataclass(frozen=True, slots=True)
class Outcome:
    """One query's result: the expected entry's score (0 when not found) and the best other score."""

    variant: Variant
    expected_score: float
    other_score: float
    seconds: float


def run(
    index: ScreeningIndex, variants: Sequence[Variant], progress: Callable[[int], None] | None = None
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for done, variant in enumerate(variants, start=1):
        started = time.perf_counter()
        candidates = index.screen(ScreeningSubject(variant.query))
        seconds = time.perf_counter() - started
        expected = max((c.score for c in candidates if c.entry.key == variant.expected), default=0.0)
        other = max((c.score for c in candidates if c.entry.key != variant.expected), default=0.0)
        outcomes.append(Outcome(variant, expected, other, seconds))
        if progress is not None and done % 100 == 0:
            progress(done)
    if progress is not None:
        progress(len(variants))
    return outcomes


def _counts(outcomes: Sequence[Outcome], negatives_: Sequence[Outcome], threshold: float) -> dict[str, Any]:
    tp = sum(1 for o in outcomes if o.expected_score >= threshold)
    wrong = sum(1 for o in outcomes if o.expected_score < threshold <= o.other_score)
    fp_negative = sum(1 for o in negatives_ if max(o.expected_score, o.other_score) >= threshold)
    fp = wrong + fp_negative
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / len(outcomes) if outcomes else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "queries": len(outcomes),
        "true_positives": tp,
        "wrong_entry_alerts": wrong,
        "non_match_alerts": fp_negative,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


def report(outcomes: Sequence[Outcome], review: float, strong: float) -> dict[str, Any]:
    """Per-kind and overall precision/recall/F1 at the review threshold, hits at the strong one, a sweep."""
    positives_ = [o for o in outcomes if o.variant.expected is not None]
    negatives_ = [o for o in outcomes if o.variant.expected is None]
    kinds = [k for k in KINDS if any(o.variant.kind == k for o in positives_)]
    per_kind = {k: _counts([o for o in positives_ if o.variant.kind == k], negatives_, review) for k in kinds}
    for k in kinds:
        per_kind[k]["hit_recall"] = _counts(
            [o for o in positives_ if o.variant.kind == k], negatives_, strong
        )["recall"]
    latencies = sorted(o.seconds for o in outcomes)
    return {
        "thresholds": {"review": review, "strong": strong},
        "positives": len(positives_),
        "non_matches": len(negatives_),
        "non_match_alert_rate": round(
            sum(1 for o in negatives_ if max(o.expected_score, o.other_score) >= review)
            / max(len(negatives_), 1),
            4,
        ),
        "overall": _counts(positives_, negatives_, review),
        "overall_at_strong": _counts(positives_, negatives_, strong),
        "per_kind": per_kind,
        "sweep": [{"threshold": t, **_counts(positives_, negatives_, t)} for t in SWEEP],
        "latency_ms": {
            "p50": round(1000 * latencies[len(latencies) // 2], 3) if latencies else None,
            "p99": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 3)
            if latencies
            else None,
        },
    }


def evaluate(
    index: ScreeningIndex,
    *,
    seed: int = 7,
    per_kind: int = 400,
    non_matches: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Generate the labelled set from the index's own entries, screen it and report."""
    variants = positives(index.entries, seed=seed, per_kind=per_kind)
    variants += negatives(index.entries, seed=seed, count=non_matches)
    total = len(variants)
    outcomes = run(index, variants, None if progress is None else (lambda done: progress(done, total)))
    body = report(outcomes, index.config.review_threshold, index.config.strong_threshold)
    body["seed"] = seed
    body["list_versions"] = dict(index.versions)
    body["examples_missed"] = [
        {
            "kind": o.variant.kind,
            "query": o.variant.query,
            "listed": o.variant.source,
            "expected_score": round(o.expected_score, 3),
        }
        for o in outcomes
        if o.variant.expected is not None and o.expected_score < index.config.review_threshold
    ][:25]
    body["examples_false_alerts"] = [
        {"query": o.variant.query, "score": round(max(o.expected_score, o.other_score), 3)}
        for o in outcomes
        if o.variant.expected is None
        and max(o.expected_score, o.other_score) >= index.config.review_threshold
    ][:25]
    return body
