"""The designed study's scores: its table (one row per run of every `study@` stage, `lbgap.experiments.study`)
scored by `lbgap.experiments.study_statistics` over the runs that reached the target. Kept apart from the
training, so that a change to the statistics re-runs the summary, not the study's networks."""

from __future__ import annotations

import pandas as pd

from lbgap.experiments.predictors import measure_columns
from lbgap.experiments.study import AXES, BASELINES, OUTCOMES
from lbgap.experiments.study_statistics import hoeffding_margin, study_scores


def study_summary(table: pd.DataFrame, *, test_samples: int, delta: float, resamples: int, confidence: float, seed: int) -> dict:
    """The study's scores (`study_scores`) over the runs that reached the target, against the gap (points),
    on the axes with more than one value: counts of models, reached and excluded runs, the sign error's
    noise margin, and one record per measure and baseline."""
    reached = table[table.reached]
    axes = [axis for axis in AXES if table[axis].nunique() > 1]
    margin = 100 * hoeffding_margin(test_samples, delta)  # in the gap's units, points
    out = {"models": len(table), "reached": len(reached), "excluded": int((~table.reached).sum()),
           "excluded_runs": [f"{', '.join(f'{a}={r[a]}' for a in axes)}, seed {r['seed']}" for _, r in table[~table.reached].iterrows()],
           "axes": axes, "margin_points": margin, "delta": delta, "confidence": confidence, "bootstrap": resamples}
    if len(reached) < 3 or not axes:
        return {**out, "scores": [], "why_no_scores": "fewer than 3 runs reached the target" if axes else "no axis has two values"}
    scores = study_scores(reached, measure_columns(reached, {*AXES, *BASELINES, *OUTCOMES}), [b for b in BASELINES if reached[b].notna().any()], axes,
                          margin=margin, resamples=resamples, confidence=confidence, seed=seed)
    return {**out, "scores": scores.to_dict(orient="records")}
