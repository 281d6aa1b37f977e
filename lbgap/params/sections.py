"""params.yaml's sections, each a frozen dataclass named and nested as the YAML (read by
lbgap.params.reader). A field is a key: its annotation is its type and range, `__post_init__` checks the
relations inside the section. The vocabularies (devices, data sets, networks, ascents, …) are declared
here and imported by the code that implements them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from lbgap.params.reader import ParamsError, Range

Count = Annotated[int, Range(ge=1)]
Index = Annotated[int, Range(ge=0)]  # a seed, an epoch, a block
AtLeastTwo = Annotated[int, Range(ge=2)]
Positive = Annotated[float, Range(gt=0)]
NonNegative = Annotated[float, Range(ge=0)]
Fraction = Annotated[float, Range(ge=0, le=1)]

Device = Literal["auto", "cpu", "cuda", "mps"]
BatchNormMode = Literal["running", "batch"]  # PyTorch eval | Keras-1 mode=2 (lbgap.models)
BNStatistics = Literal["recompute", "interpolate"]  # at weights training did not produce (lbgap.train.batchnorm)
DataName = Literal["mnist1d", "mnist", "fashion-mnist", "cifar10", "cifar100", "npz"]
ModelName = Literal["mlp", "F1", "F2", "C1", "C2", "C3", "C4"]  # lbgap.models registers a builder for each
Ascent = Literal["lbfgsb", "lbfgsb_log", "apgd"]  # lbgap.measures.ascent.ASCENTS
Method = Literal["paper", "validated"]


@dataclass(frozen=True)
class Mlp:
    width: Count  # units per hidden layer
    depth: Count  # hidden [Linear → BN → ReLU] blocks


@dataclass(frozen=True)
class Models:
    """`runtime.models`: the options of each network that takes any (the others build from the data alone)."""

    mlp: Mlp


@dataclass(frozen=True)
class Runtime:
    model: ModelName
    models: Models
    batchnorm: BatchNormMode
    device: Device
    amp: bool  # bfloat16 autocast for training steps on CUDA
    eval_chunk: Count  # samples per forward pass when evaluating whole splits
    threads: Count | None  # torch CPU threads per process; None: the cores ÷ the processes
    workers: Count  # data-parallel training processes (torchrun's world size)
    sync_batchnorm: bool  # workers > 1: BN statistics over the global batch (CUDA)

    @property
    def options(self) -> dict:
        """The chosen network's options (`runtime.models.<model>`; none for a network without an entry)."""
        options = getattr(self.models, self.model, None)
        return dict(vars(options)) if options is not None else {}

    def __post_init__(self) -> None:
        if self.sync_batchnorm and self.workers == 1:
            raise ParamsError("params: 'runtime.sync_batchnorm' synchronizes data-parallel workers: it needs 'runtime.workers' > 1")


@dataclass(frozen=True)
class Data:
    name: DataName
    num_train: Count | None  # None: every training sample (real data sets)
    num_test: Count | None
    validation: Index  # samples held out of the training set for choosing remedies' options (0: none)
    seed: Index  # mnist1d's generator seed; the subset draw for the others
    standardize: bool
    root: str  # where torchvision data sets live / are downloaded to
    path: str | None  # the file for name npz
    checksums: bool  # verify CIFAR files' MD5 as torchvision does
    download: bool

    def __post_init__(self) -> None:
        if self.name == "npz" and not self.path:
            raise ParamsError("params: 'data.name: npz' needs 'data.path' (an npz file with x_train, y_train, x_test, y_test)")


Beta = Annotated[float, Range(ge=0, lt=1)]


@dataclass(frozen=True)
class Train:
    max_epochs: Count
    patience: Count  # stop after this many epochs without the loss falling min_delta below its best
    min_delta: NonNegative  # nats
    lr: Positive
    betas: tuple[Beta, Beta]
    target_loss: Positive  # nats: every run also keeps its first iterate with a training loss ≤ this


@dataclass(frozen=True)
class Sharpness:
    epsilons: tuple[Positive, ...]  # box half-widths ε (relative, Metric 2.1)
    subspace_dim: Count  # p, columns of the random A
    method: Method
    ascents: tuple[Ascent, ...]  # method validated: the ascents from every start
    subspace_ascents: tuple[Ascent, ...]  # method validated: the same, in the random subspace
    starts: Count
    max_iter: Count  # iterations per ascent and round
    max_rounds: Count  # method validated: rounds while the search has not levelled off
    plateau: NonNegative  # the certificate's levelling-off fraction
    seed: Index  # A and the starting points

    @property
    def epsilon(self) -> float:
        """The first ε: the one every full-space φ beyond the sharpness stages is measured at."""
        return self.epsilons[0]


@dataclass(frozen=True)
class Interpolate:
    seed: Index  # which SB/LB pair
    alpha_min: float
    alpha_max: float
    points: AtLeastTwo

    def __post_init__(self) -> None:
        if not self.alpha_min < self.alpha_max:
            raise ParamsError(f"params: the α range is empty: 'interpolate.alpha_min' = {self.alpha_min} must be "
                              f"< 'interpolate.alpha_max' = {self.alpha_max}")

    @property
    def alphas(self) -> list[float]:
        step = (self.alpha_max - self.alpha_min) / (self.points - 1)
        return [self.alpha_min + i * step for i in range(self.points)]


@dataclass(frozen=True)
class Sweep:
    batches: tuple[Count, ...]
    epochs: Count  # fixed budget for every batch size
    seeds: Count
    drop: NonNegative  # threshold rule: percentage points below the best smaller batch size


@dataclass(frozen=True)
class WarmStart:
    sb_epochs: Count
    every: Count  # continue from the SB iterate every this many epochs
    lb_epochs: Count  # LB budget from each kept iterate
    seed: Index  # the train@sb run continued

    def __post_init__(self) -> None:
        if self.every > self.sb_epochs:
            raise ParamsError(f"params: 'warm_start.every' = {self.every} exceeds 'warm_start.sb_epochs' = {self.sb_epochs}")

    @property
    def sb_iterates(self) -> tuple[int, ...]:
        """The SB epochs to continue from: 0, every, 2·every, … ≤ sb_epochs."""
        return tuple(range(0, self.sb_epochs + 1, self.every))


@dataclass(frozen=True)
class Trajectory:
    at: tuple[Index, ...]  # epochs after which to measure (0 = x0)
    seed: Index

    @property
    def epochs(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.at)))


@dataclass(frozen=True)
class Lanczos:
    top_k: Count
    steps: Count

    def __post_init__(self) -> None:
        if self.top_k > self.steps:
            raise ParamsError(f"params: 'curvature.lanczos.top_k' = {self.top_k} exceeds 'curvature.lanczos.steps' = {self.steps}")


@dataclass(frozen=True)
class Trace:
    tol: NonNegative  # stop at standard error ≤ tol × |trace|
    max_probes: AtLeastTwo


@dataclass(frozen=True)
class Density:
    runs: Count
    steps: Count


@dataclass(frozen=True)
class PacBayes:
    max_drop: NonNegative  # allowed drop of training accuracy (fraction)
    draws: Count
    steps: Count
    epsilon: NonNegative  # noise N(0, σ²w² + ε²)


@dataclass(frozen=True)
class NoiseScale:
    small: Count  # samples per batch of the two estimators
    big: AtLeastTwo
    batches: Index  # gradients per batch size; 0: not measured

    def __post_init__(self) -> None:
        if self.small >= self.big:
            raise ParamsError("params: 'curvature.noise_scale.small' must be < 'curvature.noise_scale.big'")


@dataclass(frozen=True)
class Curvature:
    samples: Count | None  # the training subset every measure evaluates f on (None: all)
    seed: Index
    lanczos: Lanczos
    trace: Trace
    density: Density
    epsilons: tuple[Positive, ...]  # φ against ε
    adaptive_eta: tuple[NonNegative, ...]
    pac_bayes: PacBayes
    noise_scale: NoiseScale


@dataclass(frozen=True)
class Rescaling:
    factor: Positive  # BN (γ, β) × factor, next layer's weight ÷ factor
    block: Index
    seed: Index


@dataclass(frozen=True)
class Surface:
    span: Positive
    points: AtLeastTwo
    plane_min: float
    plane_max: float
    seed: Index

    def __post_init__(self) -> None:
        if not self.plane_min < self.plane_max:
            raise ParamsError("params: 'surface.plane_min' must be < 'surface.plane_max'")

    def axis(self, low: float, high: float) -> list[float]:
        step = (high - low) / (self.points - 1)
        return [low + i * step for i in range(self.points)]


@dataclass(frozen=True)
class Predictors:
    min_train_accuracy: Fraction  # solutions below it stay in the table but out of the τ
    bootstrap: Count  # resamples for each τ's interval
    confidence: Annotated[float, Range(gt=0, lt=1)]
    seed: Index


Optimizer = Literal["sgd", "adam"]  # lbgap.experiments.grid.StackedOptimizer


@dataclass(frozen=True)
class LearningRates:
    sgd: tuple[Positive, ...]
    adam: tuple[Positive, ...]


@dataclass(frozen=True)
class Grid:
    optimizers: tuple[Optimizer, ...]
    batches: tuple[Count, ...]
    learning_rates: LearningRates  # per optimizer
    seeds: Count  # runs per (optimizer, batch size, learning rate)
    max_epochs: Count  # the step cap, in epochs of the run's batch size
    momentum: Fraction  # SGD's heavy-ball momentum (Adam's β are `train.betas`)
    stacked: bool  # a cell's runs in one vmapped step (accelerators) or one after the other
    edge_every: Index  # epochs between the first seed's training-sharpness records along training (0: none)

    def __post_init__(self) -> None:
        for name, values in (("optimizers", self.optimizers), ("batches", self.batches)):
            if not values or len(set(values)) < len(values):
                raise ParamsError(f"params: 'grid.{name}' must list distinct values (got {list(values)!r})")
        for name in self.optimizers:
            if not getattr(self.learning_rates, name):
                raise ParamsError(f"params: 'grid.learning_rates.{name}' is empty")


@dataclass(frozen=True)
class Study:
    """The designed predictor study (lbgap.experiments.study): every combination of the value lists, `seeds`
    runs each, SGD with momentum until `train.target_loss`."""

    batch_sizes: tuple[Count, ...]  # one stage study@<batch size> each
    learning_rates: tuple[Positive, ...]
    widths: tuple[Count, ...]
    depths: tuple[Count, ...]
    weight_decays: tuple[NonNegative, ...]
    dropouts: tuple[Annotated[float, Range(ge=0, lt=1)], ...]
    seeds: Count  # runs per configuration
    max_epochs: Count  # the step cap, in epochs of the run's batch size
    momentum: Fraction
    milestone: Positive  # training loss from which the steps to the target are counted (a baseline)
    delta: Annotated[float, Range(gt=0, lt=1)]  # the sign error's noise filter: two test accuracies within chance at level δ

    def __post_init__(self) -> None:
        for name in ("batch_sizes", "learning_rates", "widths", "depths", "weight_decays", "dropouts"):
            values = getattr(self, name)
            if not values or len(set(values)) < len(values):
                raise ParamsError(f"params: 'study.{name}' must list distinct values (got {list(values)!r})")

    @property
    def axes(self) -> dict[str, tuple]:
        """Each hyperparameter of the design (lbgap.experiments.study.AXES) → its values."""
        return {"batch_size": self.batch_sizes, "learning_rate": self.learning_rates, "width": self.widths,
                "depth": self.depths, "weight_decay": self.weight_decays, "dropout": self.dropouts}


@dataclass(frozen=True)
class Tuning:
    seeds: Count  # runs per grid point (seeds 1000 .. 1000 + seeds − 1), at the large batch
    grids: dict[str, Any]  # remedy → {option (dotted when nested) → candidate values}; read by lbgap.remedies.registry
