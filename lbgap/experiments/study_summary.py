"""The designed study's scores: its table (one row per run of every `study@` stage, `lbgap.experiments.study`)
scored by `lbgap.experiments.study_statistics` over the runs that reached the target. Kept apart from the
training, so that a change to the statistics re-runs the summary, not the study's networks."""

from __future__ import annotations

import pandas as pd

from lbgap.experiments.predictors import measure_columns
from lbgap.experiments.study import AXES, BASELINES, OUTCOMES
from lbgap.experiments.study_statistics import DZIUGAITE_DELTA, gap_effects, hoeffding_margin, study_scores

# Each baseline's direction, taken from the anchors rather than from this study's data (+1: a larger value predicts
# a larger gap; −1: a smaller one). The statistics score it that way round only; the other way its Ψ is −Ψ.
DIRECTIONS = {
    "lr_over_batch": -1,  # Keskar et al., Smith & Le, Jastrzębski et al.: more gradient noise, flatter minima, a smaller gap
    "lr_over_sqrt_batch": -1,  # the same temperature under the square-root rule
    "steps_from_milestone": +1,  # Jiang et al. 2020 (§9): faster optimization from cross-entropy 0.1 to 0.01, better generalization
    # Keskar et al.: SB solutions lie 3–10× farther from x0 and generalize better (Hoffer et al. 2017 likewise, along
    # batch size); contested: capacity bounds on the distance from initialization (Nagarajan & Kolter 2019) say the opposite
    "distance_from_x0": -1,
}


def study_summary(table: pd.DataFrame, *, test_samples: int, delta: float, resamples: int, confidence: float, seed: int) -> dict:
    """The study's scores (`study_scores`) over the runs that reached the target, against the gap (points),
    on the axes with more than one value: counts of models, reached and excluded runs, the sign error's
    noise margins (points: at `delta`, the rule's, and at Dziugaite et al.'s level), how far each axis moves
    the gap (`gap_effects`, points), and one record per measure and baseline."""
    reached = table[table.reached]
    axes = [axis for axis in AXES if table[axis].nunique() > 1]
    margin, dziugaite_margin = (100 * hoeffding_margin(test_samples, level) for level in (delta, DZIUGAITE_DELTA))  # points
    out = {"models": len(table), "reached": len(reached), "excluded": int((~table.reached).sum()),
           "excluded_runs": [f"{', '.join(f'{a}={r[a]}' for a in axes)}, seed {r['seed']}" for _, r in table[~table.reached].iterrows()],
           "axes": axes, "margin_points": margin, "delta": delta, "dziugaite_margin_points": dziugaite_margin, "dziugaite_delta": DZIUGAITE_DELTA,
           "confidence": confidence, "bootstrap": resamples}
    if len(reached) < 3 or not axes:
        return {**out, "scores": [], "why_no_scores": "fewer than 3 runs reached the target" if axes else "no axis has two values"}
    baselines = {name: DIRECTIONS[name] for name in BASELINES if reached[name].notna().any()}
    scores = study_scores(reached, measure_columns(reached, {*AXES, *BASELINES, *OUTCOMES}), baselines, axes, margin=margin,
                          dziugaite_margin=dziugaite_margin, resamples=resamples, confidence=confidence, seed=seed)
    return {**out, "gap_by_axis": gap_effects(reached, axes), "scores": scores.to_dict(orient="records")}
