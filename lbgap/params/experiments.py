"""Typed views of the experiment sections: the batch-size sweep, warm start, sharpness along training and
the remedies (`mitigation.<name>`, one per registered strategy)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from lbgap.data import DATA_SETS
from lbgap.params.core import RuntimeParams, TrainParams, bn_statistics, optimizer_config, regime_batch_key
from lbgap.params.measures import CurvatureParams, NoiseScaleParams, ProbeParams, SharpnessParams
from lbgap.params.options import read_options
from lbgap.params.read import ParamsError, choice, get, integer, integers, number, unknown_key
from lbgap.remedies.registry import Run, Strategy, get_strategy, list_strategies
from lbgap.train.recipe import Recipe
from lbgap.train.loop import TrainConfig


@dataclass(frozen=True)
class SweepParams:
    batch_size: int  # this stage's point of `sweep.batches`
    epochs: int  # fixed budget
    seeds: int
    runtime: RuntimeParams
    train: TrainConfig  # lr, betas and eval_chunk are used; the budget replaces the stopping rule
    probe: ProbeParams

    @classmethod
    def parse(cls, raw: Mapping[str, Any], batch_size: int) -> SweepParams:
        # Not checked against `sweep.batches`: dvc.yaml's matrix makes one stage per entry, and reading the
        # list here would make every sweep stage depend on it (adding a batch size would re-run them all).
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParamsError(f"the sweep's batch size must be an integer >= 1 (got {batch_size!r})")
        return cls(
            batch_size=batch_size, epochs=integer(raw, "sweep.epochs", 1), seeds=integer(raw, "sweep.seeds", 1),
            runtime=RuntimeParams.parse(raw), train=optimizer_config(raw), probe=ProbeParams.parse(raw),
        )


def sweep_batches(raw: Mapping[str, Any]) -> tuple[int, ...]:
    """`sweep.batches`, the batch sizes of the sweep (read by the report, which collects them all)."""
    return integers(raw, "sweep.batches", 1)


def sweep_drop(raw: Mapping[str, Any]) -> float:
    """The threshold rule's drop in percentage points (lbgap.experiments.sweep; read by the report)."""
    return number(raw, "sweep.drop", minimum=0)


def _run_seed(raw: Mapping[str, Any], key: str) -> int:
    """`key`, a seed of the train stages' runs (0 .. seeds-1): the experiment measures that run's iterates."""
    seed, seeds = integer(raw, key, 0), integer(raw, "seeds", 1)
    if seed >= seeds:
        raise ParamsError(f"params: '{key}' = {seed} names no run: the train stages run seeds 0 .. {seeds - 1} ('seeds' = {seeds})")
    return seed


def _reached(raw: Mapping[str, Any], key: str, epoch: int) -> None:
    max_epochs = integer(raw, "train.max_epochs", 1)
    if epoch > max_epochs:
        raise ParamsError(f"params: '{key}' asks for epoch {epoch}, beyond 'train.max_epochs' = {max_epochs}")


@dataclass(frozen=True)
class WarmStartParams:
    small_batch: int
    large_batch: int
    sb_epochs: int
    every: int  # continue from the SB iterate every this many epochs
    lb_epochs: int  # LB budget from each kept iterate
    seed: int  # the train@sb run whose iterates are continued (and the LB runs' sample order)
    runtime: RuntimeParams
    train: TrainConfig
    probe: ProbeParams

    @property
    def sb_iterates(self) -> tuple[int, ...]:
        """The SB epochs to continue from: 0, every, 2·every, … ≤ sb_epochs."""
        return tuple(range(0, self.sb_epochs + 1, self.every))

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> WarmStartParams:
        params = cls(
            small_batch=integer(raw, "small_batch", 1),
            large_batch=integer(raw, "batch", 1),
            sb_epochs=integer(raw, "warm_start.sb_epochs", 1),
            every=integer(raw, "warm_start.every", 1),
            lb_epochs=integer(raw, "warm_start.lb_epochs", 1),
            seed=_run_seed(raw, "warm_start.seed"),
            runtime=RuntimeParams.parse(raw),
            train=optimizer_config(raw),
            probe=ProbeParams.parse(raw),
        )
        if params.every > params.sb_epochs:
            raise ParamsError(f"params: 'warm_start.every' = {params.every} exceeds 'warm_start.sb_epochs' = {params.sb_epochs}")
        _reached(raw, "warm_start.sb_epochs", params.sb_epochs)
        return params


@dataclass(frozen=True)
class TrajectoryParams:
    regime: str
    batch_key: str
    batch_size: int
    at_epochs: tuple[int, ...]  # measure the iterate after these epochs (0 = x0), ascending, distinct
    seed: int  # the train@<regime> run whose iterates are measured
    runtime: RuntimeParams
    probe: ProbeParams
    noise: NoiseScaleParams
    bn_statistics: str  # "recompute" | "interpolate" (lbgap.train.batchnorm)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], regime: str) -> TrajectoryParams:
        key = regime_batch_key(regime)
        at_epochs = tuple(sorted(set(integers(raw, "trajectory.at", 0))))
        _reached(raw, "trajectory.at", at_epochs[-1])
        return cls(
            regime=regime, batch_key=key, batch_size=integer(raw, key, 1),
            at_epochs=at_epochs, seed=_run_seed(raw, "trajectory.seed"),
            runtime=RuntimeParams.parse(raw), probe=ProbeParams.parse(raw),
            noise=NoiseScaleParams.parse(raw), bn_statistics=bn_statistics(raw),
        )


def kept_epochs(raw: Mapping[str, Any]) -> tuple[int, ...]:
    """The epochs (≥ 1, ascending) after which the train stages keep every seed's iterate: those that
    trajectory@sb/lb measure and those of the SB run that warm_start continues from (x0 is always
    kept). Trained once, measured many times: neither experiment trains those runs again. Both regimes
    keep the same epochs, so one params list serves train@sb and train@lb (a few extra LB iterates)."""
    every, sb_epochs = integer(raw, "warm_start.every", 1), integer(raw, "warm_start.sb_epochs", 1)
    epochs = set(integers(raw, "trajectory.at", 0)) | set(range(0, sb_epochs + 1, every))
    return tuple(sorted(e for e in epochs if e > 0))


def strategy_names(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """The remedies that run: `remedies`, in its order (dvc.yaml makes one stage each), each a registered
    strategy with its options in `mitigation.<name>`."""
    names = get(raw, "remedies")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ParamsError(f"params: 'remedies' must be a list of strategy names (got {names!r})")
    section = get(raw, "mitigation")
    if not isinstance(section, Mapping):
        raise ParamsError(f"params: 'mitigation' must be a mapping of strategy name → options (got {section!r})")
    for name in names:
        if name not in list_strategies():
            raise unknown_key(name, "remedies: ", list_strategies())
        if name not in section:
            raise ParamsError(f"params: 'remedies' names {name!r}, which has no section 'mitigation.{name}'")
    if len(set(names)) != len(names):
        raise ParamsError(f"params: 'remedies' lists a strategy twice ({names!r})")
    return tuple(names)


@dataclass(frozen=True)
class MitigationParams:
    strategy: Strategy
    options: Any  # an instance of strategy.options
    raw_options: dict[str, Any]  # the section as written (reported beside the results)
    data_name: str  # augmentation depends on it
    small_batch: int  # the SB batch size (schedules start there; `with_small_batch` remedies also train at it)
    train: TrainParams  # LB training: `batch`, `mitigation_seeds`, `runtime`, `train`
    sharpness: SharpnessParams

    @classmethod
    def parse(cls, raw: Mapping[str, Any], name: str) -> MitigationParams:
        try:
            strategy = get_strategy(name)
        except KeyError as error:
            raise ParamsError(str(error.args[0])) from None
        options = read_options(raw, f"mitigation.{name}", strategy.options)
        params = cls(
            strategy=strategy, options=options, raw_options=_plain(get(raw, f"mitigation.{name}")),
            data_name=choice(raw, "data.name", DATA_SETS, "data set"), small_batch=integer(raw, "small_batch", 1),
            train=TrainParams.parse(raw, "lb", seeds_key="mitigation_seeds"), sharpness=SharpnessParams.parse(raw),
        )
        try:  # refuse bad options (and a remedy undefined for this data) before any training; the training
            # set's size and the SB runs' lengths are not known yet: placeholders, which no factory checks
            params.recipe(0, params.train.batch_size, train_size=params.train.batch_size, sb_epochs=params.train.train.max_epochs)
        except ValueError as error:
            raise ParamsError(f"params: 'mitigation.{name}': {error}") from None
        return params

    def recipe(self, seed: int, batch_size: int, *, train_size: int, sb_epochs: int | None = None) -> Recipe:
        """How run `seed` of this remedy trains at `batch_size` (`sb_epochs`: the epochs train@sb's run of
        this seed trained, for the remedies that match it)."""
        run = Run(
            seed=seed, data_name=self.data_name, batch_size=batch_size, small_batch=self.small_batch,
            large_batch=self.train.batch_size, train_size=train_size, max_epochs=self.train.train.max_epochs,
            sb_epochs=sb_epochs,
        )
        return self.strategy.make_recipe(self.options, run)


def _plain(section: Any) -> Any:
    """A params section as plain dicts (the stages' Recording views are Mappings, not dicts)."""
    return {k: _plain(v) for k, v in section.items()} if isinstance(section, Mapping) else section


@dataclass(frozen=True)
class PredictorParams:
    """Stage predictors: which solutions exist (from the sections that trained them) and how they are measured."""

    seeds: int  # train@sb and train@lb runs
    remedies: tuple[tuple[str, bool], ...]  # (name, also trained at small_batch), in `remedies` order
    mitigation_seeds: int
    sweep_batches: tuple[int, ...]
    sweep_seeds: int
    warm_start_epochs: tuple[int, ...]  # the SB epochs warm_start continued from
    curvature: CurvatureParams  # the subset, every measure's settings
    sharpness: SharpnessParams  # φ's ε, subspace and L-BFGS-B settings
    min_train_accuracy: float  # fraction: solutions below it stay in the table but out of the τ
    bootstrap: int  # resamples for each τ's interval
    confidence: float  # of the interval, in (0, 1)
    seed: int  # of the bootstrap

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> PredictorParams:
        params = cls(
            seeds=integer(raw, "seeds", 1),
            remedies=tuple((name, get_strategy(name).with_small_batch) for name in strategy_names(raw)),
            mitigation_seeds=integer(raw, "mitigation_seeds", 1),
            sweep_batches=sweep_batches(raw), sweep_seeds=integer(raw, "sweep.seeds", 1),
            warm_start_epochs=WarmStartParams.parse(raw).sb_iterates,
            curvature=CurvatureParams.parse(raw, measures_noise=True), sharpness=SharpnessParams.parse(raw),
            min_train_accuracy=number(raw, "predictors.min_train_accuracy", minimum=0),
            bootstrap=integer(raw, "predictors.bootstrap", 1), confidence=number(raw, "predictors.confidence", minimum=0),
            seed=integer(raw, "predictors.seed", 0),
        )
        if params.min_train_accuracy > 1:
            raise ParamsError(f"params: 'predictors.min_train_accuracy' is a fraction in [0, 1] (got {params.min_train_accuracy})")
        if not 0 < params.confidence < 1:
            raise ParamsError(f"params: 'predictors.confidence' must be in (0, 1) (got {params.confidence})")
        return params
