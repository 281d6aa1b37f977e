"""Typed, validated views of `params.yaml`, one frozen dataclass per stage.

Every check lives here and raises `ParamsError` with one line naming the offending key, so a stage
can refuse bad input before it computes or writes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

import math

from lbgap.batchnorm import BN_STATISTICS
from lbgap.data import DATA_SETS
from lbgap.devices import DEVICES
from lbgap.models import BATCHNORM_MODES, list_models
from lbgap.schema import ParamsError
from lbgap.training import TrainConfig

REGIMES = {"sb": "small_batch", "lb": "batch"}  # regime → the top-level key holding its batch size


def _get(raw: Mapping[str, Any], dotted: str) -> Any:
    node: Any = raw
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ParamsError(f"params: missing key '{dotted}'")
        node = node[part]
    return node


def _int(raw: Mapping[str, Any], key: str, minimum: int) -> int:
    value = _get(raw, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamsError(f"params: '{key}' must be an integer >= {minimum} (got {value!r})")
    if value < minimum:
        raise ParamsError(f"params: '{key}' must be an integer >= {minimum} (got {value})")
    return value


def _float(raw: Mapping[str, Any], key: str, *, positive: bool = False) -> float:
    value = _get(raw, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParamsError(f"params: '{key}' must be a finite number (got {value!r})")
    if positive and not value > 0:
        raise ParamsError(f"params: '{key}' must be > 0 (got {value})")
    return float(value)


def _optional(raw: Mapping[str, Any], dotted: str, default: Any) -> Any:
    """The value at `dotted`, or `default` when the key is absent (older params files)."""
    try:
        return _get(raw, dotted)
    except ParamsError:
        return default


def _bool(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = _optional(raw, key, default)
    if not isinstance(value, bool):
        raise ParamsError(f"params: '{key}' must be true or false (got {value!r})")
    return value


def _size_or_all(raw: Mapping[str, Any], key: str) -> int | None:
    """A sample count >= 1, or null for 'all of them'."""
    return None if _get(raw, key) is None else _int(raw, key, 1)


def _choice(raw: Mapping[str, Any], key: str, known: list[str] | tuple[str, ...], what: str) -> str:
    value = _get(raw, key)
    if value not in known:
        raise ParamsError(f"params: unknown {what} '{key}: {value}'; known: {', '.join(known)}")
    return str(value)


@dataclass(frozen=True)
class DataParams:
    name: str
    num_train: int | None  # None: every training sample (real data sets only)
    num_test: int | None
    seed: int  # mnist1d's generator seed; the subset draw for the others
    standardize: bool
    root: str  # where torchvision data sets live / are downloaded to
    path: str | None  # the file for name 'npz'
    checksums: bool  # verify CIFAR files' MD5 as torchvision does
    download: bool  # allow torchvision to download what is not on disk

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> DataParams:
        params = cls(
            name=_choice(raw, "data.name", DATA_SETS, "data set"),
            num_train=_size_or_all(raw, "data.num_train"),
            num_test=_size_or_all(raw, "data.num_test"),
            seed=_int(raw, "data.seed", 0),
            standardize=_bool(raw, "data.standardize", True),
            root=str(_optional(raw, "data.root", "datasets")),
            path=_optional(raw, "data.path", None),
            checksums=_bool(raw, "data.checksums", True),
            download=_bool(raw, "data.download", True),
        )
        if params.name == "npz" and not params.path:
            raise ParamsError("params: 'data.name: npz' needs 'data.path' (an npz file with x_train, y_train, x_test, y_test)")
        return params


@dataclass(frozen=True)
class ModelParams:
    name: str
    options: dict[str, Any]
    batchnorm: str  # BatchNorm evaluation semantics: "running" (PyTorch eval) or "batch" (Keras-1 mode=2)
    device: str  # a DEVICES name, resolved by the stage (lbgap.devices.resolve_device)
    amp: bool  # bfloat16 autocast for training steps on CUDA

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ModelParams:
        name = _choice(raw, "model", list_models(), "model")
        options = (raw.get("models") or {}).get(name) or {}  # a model without options needs no entry
        return cls(
            name=name,
            options=dict(options),
            batchnorm=_choice({"batchnorm": _optional(raw, "batchnorm", "running")}, "batchnorm", BATCHNORM_MODES, "batchnorm mode"),
            device=_choice({"device": _optional(raw, "device", "auto")}, "device", DEVICES, "device"),
            amp=_bool(raw, "amp", False),
        )


def bn_statistics(raw: Mapping[str, Any]) -> str:
    """How BN running statistics are set at weights training did not produce (lbgap.batchnorm)."""
    return _choice(raw, "bn_statistics", BN_STATISTICS, "bn_statistics mode")


def train_config(raw: Mapping[str, Any]) -> TrainConfig:
    """The `train` section (and `eval_chunk`) as the training loop takes it."""
    return replace(
        optimizer_config(raw),
        max_epochs=_int(raw, "train.max_epochs", 1),
        patience=_int(raw, "train.patience", 1),
        min_delta=_float(raw, "train.min_delta"),
    )


def optimizer_config(raw: Mapping[str, Any]) -> TrainConfig:
    """Adam's settings and `eval_chunk` only, for the fixed-budget experiments (sweep, warm start,
    trajectory): they replace the epoch cap and the stopping rule (lbgap.sweep.fixed_budget), so they
    neither read nor depend on `train.max_epochs`, `.patience` or `.min_delta`."""
    betas = _get(raw, "train.betas")
    numbers = isinstance(betas, list) and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in betas)
    if not (numbers and len(betas) == 2 and all(0 <= b < 1 for b in betas)):
        raise ParamsError(f"params: 'train.betas' must be two numbers in [0, 1) (got {betas!r})")
    return TrainConfig(
        max_epochs=1, patience=1, min_delta=0.0,  # placeholders: fixed_budget sets the budget
        lr=_float(raw, "train.lr", positive=True), betas=(float(betas[0]), float(betas[1])),
        eval_chunk=_int(raw, "eval_chunk", 1),
    )


@dataclass(frozen=True)
class TrainParams:
    regime: str  # "sb" or "lb"
    batch_size: int
    seeds: int  # seed values are 0 .. seeds-1
    model: ModelParams
    train: TrainConfig

    @classmethod
    def parse(cls, raw: Mapping[str, Any], regime: str, seeds_key: str = "seeds") -> TrainParams:
        """`seeds_key`: where the number of runs comes from (`mitigation.seeds` for a remedy)."""
        if regime not in REGIMES:
            raise ParamsError(f"unknown regime {regime!r}; known: {', '.join(REGIMES)}")
        return cls(
            regime=regime,
            batch_size=_int(raw, REGIMES[regime], 1),
            seeds=_int(raw, seeds_key, 1),
            model=ModelParams.parse(raw),
            train=train_config(raw),
        )

    def check_fits(self, num_train: int) -> None:
        """A batch larger than the training set is not a batch."""
        if self.batch_size > num_train:
            key = REGIMES[self.regime]
            raise ParamsError(f"params: '{key}' = {self.batch_size} exceeds the {num_train} training samples")


@dataclass(frozen=True)
class SharpnessParams:
    epsilons: tuple[float, ...]
    subspace_dim: int
    max_iter: int
    seed: int
    model: ModelParams
    eval_chunk: int

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> SharpnessParams:
        epsilons = _get(raw, "sharpness.epsilons")
        if not isinstance(epsilons, list) or not epsilons:
            raise ParamsError(f"params: 'sharpness.epsilons' must be a non-empty list (got {epsilons!r})")
        for eps in epsilons:
            if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < math.inf:
                raise ParamsError(f"params: every 'sharpness.epsilons' entry must be a finite number > 0 (got {eps!r})")
        return cls(
            epsilons=tuple(float(e) for e in epsilons),
            subspace_dim=_int(raw, "sharpness.subspace_dim", 1),
            max_iter=_int(raw, "sharpness.max_iter", 1),
            seed=_int(raw, "sharpness.seed", 0),
            model=ModelParams.parse(raw),
            eval_chunk=_int(raw, "eval_chunk", 1),
        )


@dataclass(frozen=True)
class InterpolateParams:
    seed: int  # which SB/LB pair
    alpha_min: float
    alpha_max: float
    points: int
    model: ModelParams
    eval_chunk: int
    bn_statistics: str  # "recompute" | "interpolate" (lbgap.batchnorm)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], seeds_key: str = "seeds") -> InterpolateParams:
        """`seeds_key` names the count the pair's seed must stay below (`mitigation.seeds` for a remedy)."""
        params = cls(
            seed=_int(raw, "interpolate.seed", 0),
            alpha_min=_float(raw, "interpolate.alpha_min"),
            alpha_max=_float(raw, "interpolate.alpha_max"),
            points=_int(raw, "interpolate.points", 2),
            model=ModelParams.parse(raw),
            eval_chunk=_int(raw, "eval_chunk", 1),
            bn_statistics=bn_statistics(raw),
        )
        if not params.alpha_min < params.alpha_max:
            raise ParamsError(
                f"params: the α range is empty: 'interpolate.alpha_min' = {params.alpha_min} must be "
                f"< 'interpolate.alpha_max' = {params.alpha_max}"
            )
        if params.seed >= (count := _int(raw, seeds_key, 1)):
            raise ParamsError(f"params: 'interpolate.seed' = {params.seed} must be < '{seeds_key}' = {count}")
        return params

    @property
    def alphas(self) -> list[float]:
        step = (self.alpha_max - self.alpha_min) / (self.points - 1)
        return [self.alpha_min + i * step for i in range(self.points)]


def _check_non_negative(options: Mapping[str, Any], prefix: str) -> None:
    for key, value in options.items():
        if isinstance(value, Mapping):
            _check_non_negative(value, f"{prefix}.{key}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise ParamsError(f"params: '{prefix}.{key}' must be >= 0 (got {value})")


STRATEGIES = ("augmentation", "conservative", "adversarial", "sam")


@dataclass(frozen=True)
class MitigationParams:
    strategy: str
    data_name: str  # augmentation depends on it
    options: dict[str, Any]  # the strategy's own section, validated by `step_for`
    seeds: int
    train: TrainParams  # LB training: `batch`, `model`, `train`
    sharpness: SharpnessParams

    @classmethod
    def parse(cls, raw: Mapping[str, Any], strategy: str) -> MitigationParams:
        if strategy not in STRATEGIES:
            raise ParamsError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
        options = _get(raw, f"mitigation.{strategy}")
        if not isinstance(options, Mapping):
            raise ParamsError(f"params: 'mitigation.{strategy}' must be a mapping of options")
        _check_non_negative(options, f"mitigation.{strategy}")
        return cls(
            strategy=strategy,
            data_name=_choice(raw, "data.name", DATA_SETS, "data set"),
            options=dict(options),
            seeds=_int(raw, "mitigation.seeds", 1),
            train=TrainParams.parse(raw, "lb", seeds_key="mitigation.seeds"),
            sharpness=SharpnessParams.parse(raw),
        )


def _int_list(raw: Mapping[str, Any], key: str, minimum: int) -> tuple[int, ...]:
    values = _get(raw, key)
    if not isinstance(values, list) or not values:
        raise ParamsError(f"params: '{key}' must be a non-empty list (got {values!r})")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ParamsError(f"params: every '{key}' entry must be an integer >= {minimum} (got {value!r})")
    return tuple(values)


@dataclass(frozen=True)
class ProbeParams:
    """How the batch-size sweep, warm start and trajectory measure a solution: φ in the full space at the
    first ε of `sharpness.epsilons`, with `sharpness.max_iter` and `sharpness.seed` (Metric 2.1)."""

    epsilon: float
    max_iter: int
    seed: int

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ProbeParams:
        epsilons = _get(raw, "sharpness.epsilons")
        if not isinstance(epsilons, list) or not epsilons:
            raise ParamsError(f"params: 'sharpness.epsilons' must be a non-empty list (got {epsilons!r})")
        first = epsilons[0]
        if isinstance(first, bool) or not isinstance(first, (int, float)) or not 0 < first < math.inf:
            raise ParamsError(f"params: every 'sharpness.epsilons' entry must be a finite number > 0 (got {first!r})")
        return cls(float(first), _int(raw, "sharpness.max_iter", 1), _int(raw, "sharpness.seed", 0))


@dataclass(frozen=True)
class SweepParams:
    batch_size: int  # this stage's point of `sweep.batches`
    epochs: int  # fixed budget
    seeds: int
    model: ModelParams
    train: TrainConfig  # lr, betas and eval_chunk are used; the budget replaces the stopping rule
    probe: ProbeParams

    @classmethod
    def parse(cls, raw: Mapping[str, Any], batch_size: int) -> SweepParams:
        # Not checked against `sweep.batches`: dvc.yaml's matrix makes one stage per entry, and reading the
        # list here would make every sweep stage depend on it (adding a batch size would re-run them all).
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParamsError(f"the sweep's batch size must be an integer >= 1 (got {batch_size!r})")
        return cls(
            batch_size=batch_size,
            epochs=_int(raw, "sweep.epochs", 1),
            seeds=_int(raw, "sweep.seeds", 1),
            model=ModelParams.parse(raw),
            train=optimizer_config(raw),
            probe=ProbeParams.parse(raw),
        )


def sweep_batches(raw: Mapping[str, Any]) -> tuple[int, ...]:
    """`sweep.batches`, the batch sizes of the sweep (read by the report, which collects them all)."""
    return _int_list(raw, "sweep.batches", 1)


def sweep_drop(raw: Mapping[str, Any]) -> float:
    """The threshold rule's drop in percentage points (lbgap.sweep; read by the report, not the sweep)."""
    drop = _float(raw, "sweep.drop")
    if drop < 0:
        raise ParamsError(f"params: 'sweep.drop' must be >= 0 (got {drop})")
    return drop


@dataclass(frozen=True)
class WarmStartParams:
    small_batch: int
    large_batch: int
    sb_epochs: int
    every: int  # keep the SB iterate every this many epochs
    lb_epochs: int  # LB budget from each kept iterate
    seed: int
    model: ModelParams
    train: TrainConfig
    probe: ProbeParams

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> WarmStartParams:
        params = cls(
            small_batch=_int(raw, "small_batch", 1),
            large_batch=_int(raw, "batch", 1),
            sb_epochs=_int(raw, "warm_start.sb_epochs", 1),
            every=_int(raw, "warm_start.every", 1),
            lb_epochs=_int(raw, "warm_start.lb_epochs", 1),
            seed=_int(raw, "warm_start.seed", 0),
            model=ModelParams.parse(raw),
            train=optimizer_config(raw),
            probe=ProbeParams.parse(raw),
        )
        if params.every > params.sb_epochs:
            raise ParamsError(
                f"params: 'warm_start.every' = {params.every} exceeds 'warm_start.sb_epochs' = {params.sb_epochs}"
            )
        return params


@dataclass(frozen=True)
class TrajectoryParams:
    regime: str
    batch_size: int
    at_epochs: tuple[int, ...]  # measure the iterate after these epochs (0 = x0)
    seed: int
    model: ModelParams
    train: TrainConfig
    probe: ProbeParams
    bn_statistics: str  # "recompute" | "interpolate" (lbgap.batchnorm)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], regime: str) -> TrajectoryParams:
        if regime not in REGIMES:
            raise ParamsError(f"unknown regime {regime!r}; known: {', '.join(REGIMES)}")
        return cls(
            regime=regime,
            batch_size=_int(raw, REGIMES[regime], 1),
            at_epochs=_int_list(raw, "trajectory.at", 0),
            seed=_int(raw, "trajectory.seed", 0),
            model=ModelParams.parse(raw),
            train=optimizer_config(raw),
            probe=ProbeParams.parse(raw),
            bn_statistics=bn_statistics(raw),
        )
