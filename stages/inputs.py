"""The one prologue of every stage that trains or measures (`load_inputs`): the prepare stage's data, the
configured network, and the checkpoints and iterates other stages wrote, each checked, with a clear
error naming the fix."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from lbgap.data import DataSet, from_arrays, tuning_from_arrays
from lbgap.models import build_model
from lbgap.params import ParamsError
from lbgap.params.sections import Runtime
from lbgap.train.checkpoint import Checkpoint, CheckpointError, Iterates, checkpoint_seeds
from stages.params import InputError
from stages.processes import device_for, threads_for


def _fix(path: Path, stage_name: str) -> str:
    return f"restore it with `dvc checkout {path}` or rebuild it with `dvc repro -f {stage_name}`"


def load_data(path: Path, held_out: Literal["test", "validation"] = "test") -> DataSet:
    """The prepare stage's npz; a missing, truncated, corrupt or malformed file is an InputError.
    `held_out` 'validation': the training and validation splits only, the validation split in the test
    split's place (lbgap.data.tuning_from_arrays); the test arrays are not read."""
    if not path.is_file():
        raise InputError(f"data file not found: {path} (run `dvc repro prepare`)")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if held_out == "validation" and "x_val" not in arrays:
                dataset = None
            else:
                dataset = from_arrays(arrays) if held_out == "test" else tuning_from_arrays(arrays)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, RuntimeError) as error:
        raise InputError(f"data file {path} is unreadable ({type(error).__name__}); {_fix(path, 'prepare')}") from None
    if dataset is None:
        raise InputError(f"data file {path} holds no validation split: set 'data.validation' > 0 and run `dvc repro prepare`")
    if problem := _data_problem(dataset):
        raise InputError(f"data file {path} is malformed: {problem}; {_fix(path, 'prepare')}")
    return dataset


def _data_problem(data: DataSet) -> str | None:
    splits = (("train", data.train), ("test", data.test)) + ((("val", data.validation),) if data.validation is not None else ())
    for name, split in splits:
        if split.x.dim() < 2 or split.y.dim() != 1 or len(split.x) != len(split.y) or len(split.y) == 0:
            return f"x_{name} {tuple(split.x.shape)} and y_{name} {tuple(split.y.shape)} do not pair up"
        if not split.x.is_floating_point() or not torch.isfinite(split.x).all():
            return f"x_{name} must hold finite floating-point values"
        if split.y.min() < 0:
            return f"y_{name} holds negative labels"
    if data.train.x.shape[1:] != data.test.x.shape[1:]:
        return f"train inputs {tuple(data.train.x.shape[1:])} and test inputs {tuple(data.test.x.shape[1:])} differ in shape"
    return None


def _writer_of(folder: Path) -> str:
    """The dvc.yaml stage that writes a checkpoint folder (models/sb → train@sb, models/mitigation/sam →
    mitigate@sam)."""
    if folder.parent.name == "mitigation":
        return f"mitigate@{folder.name}"
    return f"train@{folder.name}" if folder.name in ("sb", "lb") else f"<the stage that writes {folder}>"


def load_checkpoints(folder: Path, model: nn.Module, seed: int | None = None) -> list[Checkpoint]:
    """Checkpoint `seed` of `folder` (every seed when None), checked to fit `model`; problems are InputErrors
    naming the file and the fix."""
    seeds = checkpoint_seeds(folder) if seed is None else [seed]
    if not seeds:
        raise InputError(f"no checkpoints seed_<k>.pt in {folder} (run the train stages first)")
    try:
        return [Checkpoint.load(folder, s, model) for s in seeds]
    except CheckpointError as error:
        fix = "" if "not found" in str(error) else f"; {_fix(folder, _writer_of(folder))}"
        raise InputError(f"{error}{fix}") from None


def kept_iterates(
    folder: Path, seed: int, model: nn.Module, epochs: Sequence[int], writer: str, key: str,
) -> list[tuple[int, dict]]:
    """(epoch, weights) of run `seed`'s iterates in `folder` (written by `writer`) at each of `epochs`,
    checked to fit `model`. An epoch the run never reached (its stopping rule ended it earlier) or one
    not kept (the folder is from other params) is an InputError naming the run, the epochs and the fix."""
    try:
        kept = Iterates.load(folder, seed, model)
    except CheckpointError as error:
        raise InputError(f"{error}; {_fix(folder, writer)}") from None
    missing = [e for e in epochs if e not in kept.states]
    beyond = [e for e in missing if e > kept.stopped_at]
    if beyond:
        raise InputError(
            f"{writer} seed {seed} stopped after epoch {kept.stopped_at} (its stopping rule), before epoch(s) "
            f"{', '.join(map(str, beyond))} that '{key}' asks for; ask for epochs up to {kept.stopped_at}, or let "
            "the runs last longer ('train.patience', 'train.min_delta': a run lasts at least patience + 1 epochs)"
        )
    if missing:
        raise InputError(f"{folder} keeps no iterate after epoch(s) {', '.join(map(str, missing))}; {_fix(folder, writer)}")
    return [(e, kept.iterate(e)) for e in epochs]


@dataclass
class Inputs:
    """A stage's inputs, loaded and checked: the data on the configured device, a network to load weights
    into, and the checkpoints asked for (name → list, ascending seeds)."""

    runtime: Runtime
    data: DataSet
    model: nn.Module
    checkpoints: dict[str, list[Checkpoint]] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return self.data.train.x.device

    def new_model(self, seed: int) -> nn.Module:
        """The configured network with its initial point drawn from `seed`, on the device."""
        return model_for(self.runtime, self.data, seed)


def model_for(runtime: Runtime, data: DataSet, seed: int = 0) -> nn.Module:
    """The configured network for `data`, initial point drawn from `seed` (on the CPU, so every device
    starts from the same weights), moved to the configured device; bad options are a ParamsError."""
    try:
        model = build_model(
            runtime.model, input_shape=data.input_shape, num_classes=data.num_classes, seed=seed,
            options=runtime.options, batchnorm=runtime.batchnorm,
        )
    except (TypeError, ValueError) as error:
        raise ParamsError(f"params: 'runtime.models.{runtime.model}': {error}") from None
    return model.to(device_for(runtime))


def load_inputs(
    runtime: Runtime,
    data: Path,
    *,
    batches: Mapping[str, int] | None = None,
    checkpoints: Mapping[str, tuple[Path, int | None]] | None = None,
    seed: int = 0,
    held_out: Literal["test", "validation"] = "test",
) -> Inputs:
    """The one prologue of every stage that trains or measures: load the data, refuse batch sizes
    (params key → size) larger than its training set, build the network (initial point from `seed`,
    refusing bad options), load the checkpoints (name → (folder, seed or None for all)), move the data
    to the device. `held_out`: as load_data's."""
    dataset = load_data(data, held_out)
    for key, size in (batches or {}).items():  # key: a params key, or a phrase naming one ("'sweep.batches' entry")
        where = key if " " in key else f"'{key}' ="
        if size > len(dataset.train):
            raise ParamsError(f"params: {where} {size} exceeds the {len(dataset.train)} training samples")
    if (threads := threads_for(runtime)) is not None:
        torch.set_num_threads(threads)
    model = model_for(runtime, dataset, seed)
    loaded = {name: load_checkpoints(folder, model, s) for name, (folder, s) in (checkpoints or {}).items()}
    return Inputs(runtime, dataset.to(device_for(runtime)), model, loaded)
