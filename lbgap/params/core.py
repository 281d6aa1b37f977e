"""Typed views of the sections every stage shares: the data set, the runtime (network, BatchNorm mode,
device, precision, evaluation chunk) and training."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from lbgap.data import DATA_SETS
from lbgap.devices import DEVICES
from lbgap.models import BATCHNORM_MODES, list_models, model_options
from lbgap.params.read import ParamsError, choice, flag, get, integer, number, size_or_all
from lbgap.train.batchnorm import BN_STATISTICS
from lbgap.train.loop import TrainConfig

REGIMES = {"sb": "small_batch", "lb": "batch"}  # regime → the top-level key holding its batch size


def regime_batch_key(regime: str) -> str:
    if regime not in REGIMES:
        raise ParamsError(f"unknown regime {regime!r}; known: {', '.join(REGIMES)}")
    return REGIMES[regime]


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
            name=choice(raw, "data.name", DATA_SETS, "data set"),
            num_train=size_or_all(raw, "data.num_train"),
            num_test=size_or_all(raw, "data.num_test"),
            seed=integer(raw, "data.seed", 0),
            standardize=flag(raw, "data.standardize"),
            root=str(get(raw, "data.root")),
            path=get(raw, "data.path"),
            checksums=flag(raw, "data.checksums"),
            download=flag(raw, "data.download"),
        )
        if params.name == "npz" and not params.path:
            raise ParamsError("params: 'data.name: npz' needs 'data.path' (an npz file with x_train, y_train, x_test, y_test)")
        return params


@dataclass(frozen=True)
class RuntimeParams:
    """The `runtime` section: which network, how it is evaluated, where it runs."""

    model: str  # a registered network
    options: dict[str, Any]  # runtime.models.<model>
    batchnorm: str  # BatchNorm evaluation semantics: "running" (PyTorch eval) or "batch" (Keras-1 mode=2)
    device: str  # a DEVICES name, resolved by the stage (lbgap.devices.resolve_device)
    amp: bool  # bfloat16 autocast for training steps on CUDA
    eval_chunk: int  # samples per forward pass when evaluating whole splits
    threads: int | None  # torch's CPU threads per process; None: this machine's cores ÷ processes on it
    workers: int  # data-parallel training processes (torchrun's world size); 1: one process
    sync_batchnorm: bool  # with workers > 1: BN statistics over the global batch (SyncBatchNorm, CUDA only)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> RuntimeParams:
        name = choice(raw, "runtime.model", list_models(), "model")
        return cls(
            model=name,
            options=network_options(raw, name),
            batchnorm=choice(raw, "runtime.batchnorm", BATCHNORM_MODES, "batchnorm mode"),
            device=choice(raw, "runtime.device", DEVICES, "device"),
            amp=flag(raw, "runtime.amp"),
            eval_chunk=integer(raw, "runtime.eval_chunk", 1),
            threads=size_or_all(raw, "runtime.threads"),
            workers=integer(raw, "runtime.workers", 1),
            sync_batchnorm=flag(raw, "runtime.sync_batchnorm"),
        )


def network_options(raw: Mapping[str, Any], name: str) -> dict[str, Any]:
    """`runtime.models.<name>`: every option of the network's builder, set here (the builders' own
    defaults are not used, so params.yaml says what ran); a network without options needs no entry."""
    wanted = model_options(name)
    options = get(raw, "runtime.models").get(name) or {}  # a mapping: the schema refuses anything else
    if missing := [option for option in wanted if option not in options]:
        raise ParamsError(f"params: missing key 'runtime.models.{name}.{missing[0]}' (network '{name}' takes {', '.join(wanted)})")
    return dict(options)


def bn_statistics(raw: Mapping[str, Any]) -> str:
    """How BN running statistics are set at weights training did not produce (lbgap.train.batchnorm)."""
    return choice(raw, "bn_statistics", BN_STATISTICS, "bn_statistics mode")


def optimizer_config(raw: Mapping[str, Any]) -> TrainConfig:
    """Adam's settings, the target training loss and `runtime.eval_chunk` only, for the fixed-budget training
    of the sweep and of the warm start's LB runs: they replace the epoch cap and the stopping rule
    (lbgap.train.loop.fixed_budget), so this reads neither `train.max_epochs` nor `.patience` nor `.min_delta`."""
    betas = get(raw, "train.betas")
    numbers = isinstance(betas, list) and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in betas)
    if not (numbers and len(betas) == 2 and all(0 <= b < 1 for b in betas)):
        raise ParamsError(f"params: 'train.betas' must be two numbers in [0, 1) (got {betas!r})")
    return TrainConfig(
        max_epochs=1, patience=1, min_delta=0.0,  # placeholders: fixed_budget sets the budget
        lr=number(raw, "train.lr", positive=True), betas=(float(betas[0]), float(betas[1])),
        eval_chunk=integer(raw, "runtime.eval_chunk", 1), target_loss=number(raw, "train.target_loss", positive=True),
    )


def train_config(raw: Mapping[str, Any]) -> TrainConfig:
    """The `train` section (and `runtime.eval_chunk`) as the training loop takes it."""
    return replace(
        optimizer_config(raw),
        max_epochs=integer(raw, "train.max_epochs", 1),
        patience=integer(raw, "train.patience", 1),
        min_delta=number(raw, "train.min_delta"),
    )


@dataclass(frozen=True)
class TrainParams:
    regime: str  # "sb" or "lb"
    batch_key: str  # the params key of the batch size ("small_batch" or "batch")
    batch_size: int
    seeds: int  # seed values are 0 .. seeds-1
    runtime: RuntimeParams
    train: TrainConfig

    @classmethod
    def parse(cls, raw: Mapping[str, Any], regime: str, seeds_key: str = "seeds") -> TrainParams:
        """`seeds_key`: where the number of runs comes from (`mitigation_seeds` for a remedy)."""
        key = regime_batch_key(regime)
        return cls(
            regime=regime, batch_key=key, batch_size=integer(raw, key, 1), seeds=integer(raw, seeds_key, 1),
            runtime=RuntimeParams.parse(raw), train=train_config(raw),
        )
