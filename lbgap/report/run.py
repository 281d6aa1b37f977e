"""Everything the report reads from one run: the stages' documents and tables, and the params they ran with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from lbgap.experiments.sweep import Threshold, threshold_batch
from lbgap.report.predictors import tau_frame
from lbgap.report.remedies import gap_closed_frame
from lbgap.report.sections import label_of
from lbgap.report.tables import sweep_frame


@dataclass(frozen=True)
class RunResults:
    params: Mapping[str, Any]  # params.yaml as the run used it (validated: lbgap.params.as_yaml)
    train: dict[str, dict]  # regime ("sb", "lb") → the train stage's JSON
    curves: dict[str, pd.DataFrame]  # regime → per-epoch records
    sharpness: dict[str, dict]  # regime → the sharpness stage's JSON
    remedies: list[dict]  # one mitigate stage's JSON per strategy, in params order
    tuning: list[dict]  # one tune stage's JSON per strategy, in params order
    sweep: list[dict]  # one sweep stage's JSON per batch size
    warm_start: dict
    trajectories: dict[str, pd.DataFrame]  # regime → φ along training
    curvature: dict[str, dict]  # regime → the curvature stage's JSON
    spectra: dict[str, pd.DataFrame]  # regime → SLQ nodes and weights
    epsilon_frames: dict[str, pd.DataFrame]  # regime → φ against ε
    rescaling: dict
    predictors: dict  # the predictors stage's JSON (τ of every measure)
    solutions: pd.DataFrame  # the predictors stage's table: one row per solution and point (final, target)
    grid: dict  # grid_summary's predictions, per optimizer
    grid_table: pd.DataFrame  # grid_summary's table: one row per run of the learning-rate × batch-size grid
    grid_edge: pd.DataFrame  # grid_summary's edge traces: the first seed's stability ratio along training, one row per record
    study: dict  # study_summary's scores: one record per measure and baseline

    @property
    def label(self) -> str:
        return label_of(self.params)

    @property
    def batch_sizes(self) -> dict[str, int]:
        return {r: self.train[r]["batch_size"] for r in ("sb", "lb")}

    @property
    def sweep_points(self) -> pd.DataFrame:
        return sweep_frame(self.sweep)

    @property
    def threshold(self) -> Threshold:
        points = self.sweep_points
        return threshold_batch(points.batch_size.tolist(), points.test_accuracy_mean.tolist(), self.params["sweep"]["drop"])

    @property
    def bn_statistics(self) -> str:
        return self.params["bn_statistics"]

    @property
    def gap_closed(self) -> pd.DataFrame:
        final = self.solutions[self.solutions.point == "final"] if "point" in self.solutions else self.solutions
        lambda_max = final.groupby("family")["lambda_max"].mean().to_dict()
        return gap_closed_frame(self.train, self.sharpness, self.remedies, lambda_max, self.curves)

    @property
    def taus(self) -> pd.DataFrame:
        return tau_frame(self.predictors["tau"])

    @property
    def first_eps_key(self) -> str:
        return next(iter(self.sharpness["sb"]["summary"]["full"]))

    def used_params(self) -> dict:
        """params.yaml as this run used it: `runtime.models` reduced to the chosen network's options."""
        runtime = dict(self.params["runtime"])
        chosen = runtime["model"]
        runtime["models"] = {chosen: (runtime.get("models") or {}).get(chosen)}
        return {k: (runtime if k == "runtime" else v) for k, v in self.params.items()}
