"""params.yaml as one frozen dataclass, `Params`, with one field per top-level key and one dataclass per
section (lbgap.params.sections; a remedy's options are its module's), read and validated whole by
`read_params` before any stage computes: every key, type, range and relation within the file. Relations
that only one stage needs (a run its seed must name, an epoch its training must reach) are checked by
that stage, with the functions below, so that a targeted run of other stages is not refused for them.
A stage hands on only the sections it reads, which dvc.yaml lists as its params."""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass
from typing import Any

from lbgap.params.reader import ParamsError, read
from lbgap.params.sections import (
    BNStatistics, Count, Curvature, Data, Grid, Interpolate, Predictors, Rescaling, Runtime, Sharpness, Study, Surface, Sweep,
    Train, Trajectory, Tuning, WarmStart,
)

__all__ = ["Params", "ParamsError", "REGIMES", "as_yaml", "kept_epochs", "noise_scale_defined", "reached", "read_params", "run_seed"]

REGIMES = {"sb": "small_batch", "lb": "batch"}  # regime → the top-level key of its batch size
NOISE_SCALE_UNDER_BATCH_STATISTICS = (
    "params: the gradient noise scale is undefined with 'runtime.batchnorm: batch' (one sample's gradient would "
    "depend on the batch it is evaluated in); set 'curvature.noise_scale.batches: 0' to skip it"
)


@dataclass(frozen=True)
class Params:
    seeds: Count  # runs 0 .. seeds-1 of train@sb and train@lb
    batch: Count  # the large batch (LB)
    small_batch: Count  # the small batch (SB)
    bn_statistics: BNStatistics
    runtime: Runtime
    data: Data
    train: Train
    sharpness: Sharpness
    interpolate: Interpolate
    sweep: Sweep
    warm_start: WarmStart
    trajectory: Trajectory
    curvature: Curvature
    rescaling: Rescaling
    surface: Surface
    mitigation_seeds: Count  # runs per remedy
    remedies: tuple[str, ...]  # the entries of `mitigation` that run, in this order
    mitigation: dict[str, Any]  # remedy name → its options (read by lbgap.remedies.registry)
    tuning: Tuning  # how each remedy's options are chosen on the validation split
    predictors: Predictors
    grid: Grid  # learning rate × batch size, every run to `train.target_loss`
    study: Study  # the designed predictor study, every run to `train.target_loss`

    def __post_init__(self) -> None:
        if not self.study.milestone > self.train.target_loss:
            raise ParamsError(f"params: 'study.milestone' = {self.study.milestone} must be above 'train.target_loss' = "
                              f"{self.train.target_loss} (the steps to the target are counted from it)")
        for name in self.remedies:
            if name not in self.mitigation:
                close = difflib.get_close_matches(name, list(self.mitigation), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; the sections are {', '.join(self.mitigation)}"
                raise ParamsError(f"params: 'remedies' names {name!r}, which has no section 'mitigation.{name}'{hint}")
        if len(set(self.remedies)) < len(self.remedies):
            raise ParamsError(f"params: 'remedies' lists a remedy twice ({list(self.remedies)!r})")
        for name, grid in self.tuning.grids.items():
            if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
                raise ParamsError(f"params: 'tuning.grids.{name}' must map options to non-empty lists of values (got {grid!r})")
        for name in self.remedies:
            if name not in self.tuning.grids:
                raise ParamsError(f"params: 'remedies' names {name!r}, which has no grid 'tuning.grids.{name}' ({{}}: nothing to tune)")
        sizes = {name: math.prod(len(v) for v in self.tuning.grids[name].values()) for name in self.remedies if self.tuning.grids[name]}
        if len(set(sizes.values())) > 1:
            raise ParamsError(f"params: the remedies' grids in 'tuning.grids' must be of one size, for an equal search budget (points: {sizes})")

    def grid_runs(self, optimizer: str) -> int:
        """Runs in each of `optimizer`'s grid cells: its learning rates × `grid.seeds`."""
        return len(getattr(self.grid.learning_rates, optimizer)) * self.grid.seeds

    def batch_of(self, regime: str) -> int:
        """The batch size of regime 'sb' or 'lb'."""
        return getattr(self, REGIMES[regime])


def run_seed(seed: int, key: str, seeds: int, seeds_key: str = "seeds") -> int:
    """`seed`, read at `key`, which must name one of the runs 0 .. `seeds` − 1 (`seeds_key`)."""
    if seed >= seeds:
        raise ParamsError(f"params: '{key}' = {seed} names no run: they are 0 .. {seeds - 1} ('{seeds_key}' = {seeds})")
    return seed


def reached(epoch: int, key: str, max_epochs: int) -> int:
    """`epoch`, read at `key`, which training (at most `train.max_epochs` epochs) must be able to reach."""
    if epoch > max_epochs:
        raise ParamsError(f"params: '{key}' asks for epoch {epoch}, beyond 'train.max_epochs' = {max_epochs}")
    return epoch


def noise_scale_defined(batchnorm: str, batches: int) -> None:
    """The gradient noise scale is measured (`curvature.noise_scale.batches` > 0) only where it is defined."""
    if batchnorm == "batch" and batches:
        raise ParamsError(NOISE_SCALE_UNDER_BATCH_STATISTICS)


def read_params(raw: Any) -> Params:
    """A parsed params.yaml as `Params`; the first problem anywhere in it is a ParamsError."""
    return read(Params, raw)


def as_yaml(params: Params) -> dict[str, Any]:
    """`params` as the mapping params.yaml holds (nested dicts and lists), for the report to list and quote."""
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return [plain(v) for v in value] if isinstance(value, (list, tuple)) else value

    return plain(asdict(params))


def kept_epochs(trajectory: Trajectory, warm_start: WarmStart) -> tuple[int, ...]:
    """The epochs (≥ 1, ascending) after which the train stages keep every seed's iterate: those that
    trajectory@sb/lb measure and those of the SB run that warm_start continues from (x0 is always kept).
    Trained once, measured many times: neither experiment trains those runs again. Both regimes keep the
    same epochs, so one list serves train@sb and train@lb (a few extra LB iterates)."""
    return tuple(sorted(e for e in set(trajectory.at) | set(warm_start.sb_iterates) if e > 0))
