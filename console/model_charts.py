"""Figures of model versions and retrains, charted with :mod:`config.charts`.

Version metrics are whatever training recorded (``ModelVersion.metrics``:
seconds per stage, ranker rows, logged pages); holdout figures exist only for
cluster retrains (``TrainingRun.metrics["clusters"][slug]``). A figure a run
did not record is left out of its series, never drawn as zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.safestring import SafeString

from config.charts import PALETTE, Series, has_points, line_chart
from recommendations.models import ModelVersion, TrainingRun

HOLDOUT_MODELS = ("cluster", "region", "global")


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    svg: SafeString | None  # None: nothing recorded yet


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _chart(
    title: str,
    items: Sequence[Any],
    labels: Sequence[str],
    series: Sequence[tuple[str, Callable[[Any], float | None]]],
    value_format: str,
) -> Chart:
    drawn = []
    for index, (name, read) in enumerate(series):
        points = []
        for position, item in enumerate(items):
            value = read(item)
            if value is not None:
                points.append((position, value))
        drawn.append(Series(name, PALETTE[index % len(PALETTE)], points))
    if not has_points(drawn):
        return Chart(title, None)
    return Chart(
        title, line_chart(series=drawn, x_labels=labels, label=title, value_format=value_format)
    )


def _seconds(stages: Any) -> float | None:
    if not isinstance(stages, dict) or not stages:
        return None
    values = [_number(v) for v in stages.values()]
    return sum(v for v in values if v is not None)


def version_charts(versions: Sequence[ModelVersion]) -> list[Chart]:
    """Versions oldest first: what each learned from, and how long training took."""
    labels = [f"#{v.pk}" for v in versions]
    return [
        _chart(
            "Signals and interactions",
            versions,
            labels,
            [
                ("signals", lambda v: float(v.n_signals)),
                ("interactions", lambda v: float(v.n_interactions)),
            ],
            "{:,.0f}",
        ),
        _chart(
            "Ranker training rows (logged impressions)",
            versions,
            labels,
            [("rows", lambda v: _number(v.metrics.get("ranker_training_rows")))],
            "{:,.0f}",
        ),
        _chart(
            "Training seconds (stages summed)",
            versions,
            labels,
            [("seconds", lambda v: _seconds(v.metrics.get("seconds")))],
            "{:.1f}",
        ),
    ]


def _holdout(run: TrainingRun, slug: str) -> dict[str, Any]:
    clusters = run.metrics.get("clusters") if isinstance(run.metrics, dict) else None
    row = (clusters or {}).get(slug)
    return row if isinstance(row, dict) else {}


def run_charts(runs: Sequence[TrainingRun], slug: str) -> list[Chart]:
    """Runs oldest first: holdout NDCG@10 and Recall@20 of each model, and run time."""
    labels = [f"#{run.pk}" for run in runs]

    def metric(name: str) -> list[tuple[str, Callable[[Any], float | None]]]:
        return [
            (model, lambda run, key=f"{name}_{model}": _number(_holdout(run, slug).get(key)))
            for model in HOLDOUT_MODELS
        ]

    return [
        _chart("Holdout NDCG@10", runs, labels, metric("ndcg@10"), "{:.3f}"),
        _chart("Holdout Recall@20", runs, labels, metric("recall@20"), "{:.3f}"),
        _chart("Run seconds", runs, labels, [("seconds", lambda r: _seconds(r.timings))], "{:.1f}"),
    ]


def run_row(run: TrainingRun, slug: str) -> dict[str, Any]:
    """A run as one table row: outcome, the holdout figures, the gate's verdict."""
    holdout = _holdout(run, slug)
    gate = run.metrics.get("gate") if isinstance(run.metrics, dict) else None
    return {
        "run": run,
        "ndcg": [_number(holdout.get(f"ndcg@10_{model}")) for model in HOLDOUT_MODELS],
        "judged": holdout.get("judged"),
        "gate": (gate or {}).get("passed") if isinstance(gate, dict) else None,
        "seconds": _seconds(run.timings),
    }


def artwork_policy_charts(policies: Sequence[Any]) -> list[Chart]:
    """Artwork policy versions oldest first: how much they have seen, and the take rate seen."""
    labels = [f"#{p.pk}" for p in policies]
    return [
        _chart(
            "Impressions learned from",
            policies,
            labels,
            [("in all", lambda p: float(p.n_impressions)), ("new", lambda p: float(p.n_new))],
            "{:,.0f}",
        ),
        _chart(
            "Take rate of the impressions seen",
            policies,
            labels,
            [
                (
                    "plays per impression",
                    lambda p: p.n_plays / p.n_impressions if p.n_impressions else None,
                )
            ],
            "{:.2%}",
        ),
    ]
