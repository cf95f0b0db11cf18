"""How well a credit score ranks and prices default risk: the numbers a model committee asks for.

``model_report(y_true, score_or_pd)`` takes the observed outcome (1 = default,
"bad"; 0 = repaid, "good") and either a probability of default (PD, higher
is riskier) or scorecard points (higher is safer), and measures:

* **AUC** (scikit-learn's ``roc_auc_score``): the probability that a random
  defaulter is ranked riskier than a random good payer; ties count one half.
  **Gini** (accuracy ratio) is ``2 * AUC - 1``.
* **KS** (Kolmogorov–Smirnov): the largest distance between the cumulative
  distributions of goods and bads over the score, ``max_t |F_bad(t) -
  F_good(t)|``, read off scikit-learn's ROC curve (``tpr - fpr`` at every
  distinct value). ``ks_cutoff`` is the value where it occurs: for a PD the
  rule "flag PD >= cutoff", for points "flag score <= cutoff". The first
  (most selective) cutoff wins a tie.
* **PSI** (population stability index) of the sample against ``reference``
  (e.g. test against train) on the same quantity: the bins are the deciles
  of the reference, empty bins count as ``PSI_EPSILON`` so the logarithm
  stays finite; ``sum (a - e) * ln(a / e)`` over the shares. This is
  ``netfin.risk.metrics.psi``, the same definition the fraud model's
  monitoring uses. Rule of thumb: below 0.1 stable, 0.1–0.25 watch, above
  0.25 shifted.
* **Calibration** (only where a PD is known): rows grouped by decile of the
  predicted PD (quantile edges, so tied PDs stay in one group and a group
  can hold more or fewer than a tenth), each group's mean predicted PD
  against its observed default rate; the **Brier score** ``mean((pd - y)^2)``;
  and the **Hosmer–Lemeshow** statistic ``sum_g (O_g - E_g)^2 / (E_g (1 -
  E_g / n_g))`` with ``O_g`` the defaults, ``E_g`` the sum of PDs and ``n_g``
  the rows of group ``g``, compared with a chi-squared distribution of
  ``groups - 2`` degrees of freedom (scipy). A small p-value says the PDs
  are off somewhere, not by how much: read the table.
* **IV** per feature, as the caller passes it (the scorecard's binning).

A metric the data cannot define (AUC with one class) is ``None``, never NaN,
so the report survives JSON.

Public names: model_report, ModelReport, CalibrationGroup, HosmerLemeshow,
render_report, PSI_EPSILON, CALIBRATION_GROUPS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from rich.console import Group
from rich.table import Table

from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.risk import metrics

ScoreKind = Literal["pd", "score"]
FloatArray = npt.NDArray[np.float64]
CALIBRATION_GROUPS = 10
PSI_BINS = 10
PSI_EPSILON = metrics.PSI_EPSILON
REPORT_ROWS_MAX = 20_000_000


@dataclass(frozen=True, slots=True)
class CalibrationGroup:
    """One decile of predicted PD: its PD range, mean PD and observed default rate."""

    group: int
    rows: int
    defaults: int
    pd_min: float
    pd_max: float
    pd_mean: float
    default_rate: float


@dataclass(frozen=True, slots=True)
class HosmerLemeshow:
    statistic: float
    degrees_of_freedom: int
    p_value: float | None  # None when there are fewer than three groups


@dataclass(frozen=True, slots=True)
class ModelReport:
    """Discrimination, stability and calibration of one sample (see the module docstring)."""

    kind: ScoreKind
    rows: int
    defaults: int
    default_rate: float
    auc: float | None
    gini: float | None
    ks: float | None
    ks_cutoff: float | None
    psi: float | None
    brier: float | None
    hosmer_lemeshow: HosmerLemeshow | None
    calibration: tuple[CalibrationGroup, ...] = ()
    iv: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready values (no NaN: undefined metrics are ``None``)."""
        return asdict(self)


def _labels(y_true: npt.ArrayLike) -> npt.NDArray[np.int64]:
    y = np.asarray(y_true)
    if y.ndim != 1 or y.size == 0:
        raise InvalidInput("y_true must be a non-empty one-dimensional array", code="report_shape")
    if y.size > REPORT_ROWS_MAX:
        raise LimitExceeded(f"{y.size:,} rows; a report takes at most {REPORT_ROWS_MAX:,}")
    if y.dtype == np.bool_:
        return y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.number) or not np.isin(y, (0, 1)).all():
        raise InvalidInput("y_true must hold only 0 (good) and 1 (default)", code="report_labels")
    return y.astype(np.int64)


def _values(values: npt.ArrayLike, name: str, rows: int | None) -> FloatArray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0 or (rows is not None and v.size != rows):
        raise InvalidInput(f"{name} must be one-dimensional, with one value per row", code="report_shape")
    if not np.isfinite(v).all():
        raise InvalidInput(f"{name} must be finite", code="report_not_finite")
    return v


def _kind(values: FloatArray, kind: ScoreKind | None) -> ScoreKind:
    if kind is None:
        return "pd" if bool(((values >= 0) & (values <= 1)).all()) else "score"
    if kind not in ("pd", "score"):
        raise InvalidInput(f"kind must be 'pd' or 'score', not {kind!r}", code="report_kind")
    return kind


def ks_statistic(y: npt.ArrayLike, risk: npt.ArrayLike) -> tuple[float | None, float | None]:
    """KS and its cutoff for a risk-ordered value (higher = riskier); ``(None, None)`` with one class."""
    labels = np.asarray(y)
    if labels.min() == labels.max():
        return None, None
    from sklearn.metrics import roc_curve  # measuring only: kept off the Bank's import

    fpr, tpr, thresholds = roc_curve(labels, risk, drop_intermediate=False)
    gap = np.abs(tpr - fpr)
    best = int(np.argmax(gap))
    if gap[best] == 0:  # a constant score separates nothing; no cutoff to name
        return 0.0, None
    return float(gap[best]), float(thresholds[best])


def _calibration(y: npt.NDArray[np.int64], pd: FloatArray) -> tuple[CalibrationGroup, ...]:
    inner = np.unique(np.quantile(pd, np.linspace(0.0, 1.0, CALIBRATION_GROUPS + 1)[1:-1]))
    group_of = np.searchsorted(inner, pd, side="right")
    groups: list[CalibrationGroup] = []
    for index in np.unique(group_of):
        members = group_of == index
        p, o = pd[members], y[members]
        groups.append(
            CalibrationGroup(
                group=len(groups) + 1,
                rows=int(members.sum()),
                defaults=int(o.sum()),
                pd_min=float(p.min()),
                pd_max=float(p.max()),
                pd_mean=float(p.mean()),
                default_rate=float(o.mean()),
            )
        )
    return tuple(groups)


def hosmer_lemeshow(groups: tuple[CalibrationGroup, ...]) -> HosmerLemeshow:
    """The Hosmer–Lemeshow statistic over calibration groups (a group with no variance adds nothing)."""
    statistic = 0.0
    for g in groups:
        expected = g.pd_mean * g.rows
        variance = expected * (1.0 - expected / g.rows)
        if variance > 0:
            statistic += (g.defaults - expected) ** 2 / variance
    dof = len(groups) - 2
    from scipy.stats import chi2  # type: ignore[import-untyped]

    p_value = float(chi2.sf(statistic, dof)) if dof >= 1 else None
    return HosmerLemeshow(statistic=statistic, degrees_of_freedom=dof, p_value=p_value)


def model_report(
    y_true: npt.ArrayLike,
    score_or_pd: npt.ArrayLike,
    *,
    reference: npt.ArrayLike | None = None,
    kind: ScoreKind | None = None,
    probability: npt.ArrayLike | None = None,
    iv: Mapping[str, float] | None = None,
) -> ModelReport:
    """Measure one sample; see the module docstring for every definition.

    ``kind``: "pd" (higher is riskier) or "score" (points, higher is safer);
    ``None`` reads values all within [0, 1] as PDs and anything else as
    points. ``reference``: the same quantity on the reference sample (PSI).
    ``probability``: PDs for the calibration when ``score_or_pd`` holds points.
    """
    from sklearn.metrics import brier_score_loss, roc_auc_score  # measuring only: kept off the Bank's import

    y = _labels(y_true)
    values = _values(score_or_pd, "score_or_pd", y.size)
    resolved = _kind(values, kind)
    pd: FloatArray | None = values
    if resolved == "score":
        pd = None if probability is None else _values(probability, "probability", y.size)
    if pd is not None and not bool(((pd >= 0) & (pd <= 1)).all()):
        raise InvalidInput("probabilities of default must lie in [0, 1]", code="report_pd_range")
    ref = None if reference is None else _values(reference, "reference", None)
    risk = values if resolved == "pd" else -values
    two_classes = y.min() != y.max()
    auc = float(roc_auc_score(y, risk)) if two_classes else None
    ks, cutoff = ks_statistic(y, risk)
    if cutoff is not None and resolved == "score":
        cutoff = -cutoff
    groups = _calibration(y, pd) if pd is not None else ()
    return ModelReport(
        kind=resolved,
        rows=int(y.size),
        defaults=int(y.sum()),
        default_rate=float(y.mean()),
        auc=auc,
        gini=None if auc is None else 2.0 * auc - 1.0,
        ks=ks,
        ks_cutoff=cutoff,
        psi=None if ref is None else metrics.psi(ref, values, bins=PSI_BINS, epsilon=PSI_EPSILON),
        brier=None if pd is None else float(brier_score_loss(y, pd, pos_label=1)),
        hosmer_lemeshow=hosmer_lemeshow(groups) if groups else None,
        calibration=groups,
        iv={name: float(value) for name, value in (iv or {}).items()},
    )


def _f(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _summary_table(report: ModelReport, title: str) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    hl = report.hosmer_lemeshow
    cutoff = "-" if report.ks_cutoff is None else f"{report.ks_cutoff:.4g}"
    rows = [
        ("rows", f"{report.rows:,}"),
        ("defaults", f"{report.defaults:,} ({report.default_rate:.1%})"),
        ("AUC", _f(report.auc)),
        ("Gini", _f(report.gini)),
        ("KS", f"{_f(report.ks)} at {'PD >=' if report.kind == 'pd' else 'score <='} {cutoff}"),
        ("PSI vs reference", _f(report.psi, 4)),
        ("Brier", _f(report.brier, 4)),
        ("Hosmer–Lemeshow", "-" if hl is None else f"{hl.statistic:.2f} (df {hl.degrees_of_freedom}, "
         f"p {_f(hl.p_value, 4)})"),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, value)
    return table


def _calibration_table(report: ModelReport) -> Table:
    table = Table(title="calibration by decile of predicted PD")
    for column in ("group", "rows", "PD range", "mean PD", "default rate"):
        table.add_column(column, justify="right")
    for g in report.calibration:
        table.add_row(
            str(g.group), f"{g.rows:,}", f"{g.pd_min:.3f}–{g.pd_max:.3f}", f"{g.pd_mean:.3f}",
            f"{g.default_rate:.3f}",
        )  # fmt: skip
    return table


def _iv_table(report: ModelReport) -> Table:
    table = Table(title="information value per feature")
    table.add_column("feature")
    table.add_column("IV", justify="right")
    for name, value in sorted(report.iv.items(), key=lambda item: -item[1]):
        table.add_row(name, f"{value:.4f}")
    return table


def render_report(report: ModelReport, *, title: str = "model report") -> Group:
    """Rich tables for people: the summary, then calibration and IV where present."""
    parts: list[Table] = [_summary_table(report, title)]
    if report.calibration:
        parts.append(_calibration_table(report))
    if report.iv:
        parts.append(_iv_table(report))
    return Group(*parts)
