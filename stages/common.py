"""What every stage shares: reading params.yaml, turning bad input into one clear line, atomic writes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator

import numpy as np
import pandas as pd
import torch
import typer
import yaml
from tqdm import tqdm

from lbgap.config import ModelParams, ParamsError, TrainParams
from lbgap.data import DataSet, from_arrays
from lbgap.devices import resolve_device
from lbgap.models import build_model
from lbgap.tensors import distance, parameters_of
from lbgap.training import Step, plain_step, train

ParamsOption = Annotated[Path, typer.Option("--params", help="Parameter file to read.")]
PARAMS_DEFAULT = Path("params.yaml")


class InputError(Exception):
    """An input file is missing or not what the stage expects."""


def load_params(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"parameter file not found: {path}")
    with path.open() as handle:
        raw = yaml.safe_load(handle)
    if not isinstance(raw, dict):
        raise InputError(f"{path} must hold a mapping of parameters")
    return raw


@contextlib.contextmanager
def clear_errors() -> Iterator[None]:
    """Bad params or inputs end the command with one line on stderr and exit code 2, no traceback."""
    try:
        yield
    except (ParamsError, InputError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise typer.Exit(code=2) from None


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path: Path, obj: Any) -> None:
    _atomic(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2) + "\n"))


def write_text(path: Path, text: str) -> None:
    _atomic(path, lambda tmp: tmp.write_text(text))


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    _atomic(path, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.6g"))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("wb") as handle:  # a file object keeps numpy from appending ".npz"
            np.savez(handle, **arrays)

    _atomic(path, write)


def write_figure(path: Path, figure) -> None:
    import matplotlib.pyplot as plt

    _atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))
    plt.close(figure)


@contextlib.contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success it replaces `path` whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def load_data(path: Path) -> DataSet:
    if not path.is_file():
        raise InputError(f"data file not found: {path} (run `dvc repro prepare`)")
    with np.load(path) as arrays:
        return from_arrays(arrays)


def checkpoint_path(folder: Path, seed: int) -> Path:
    return folder / f"seed_{seed}.pt"


def checkpoint_seeds(folder: Path) -> list[int]:
    """Seeds of the checkpoints in `folder`, ascending; an empty or missing folder is an InputError."""
    seeds = sorted(int(p.stem.removeprefix("seed_")) for p in folder.glob("seed_*.pt"))
    if not seeds:
        raise InputError(f"no checkpoints seed_<k>.pt in {folder} (run the train stages first)")
    return seeds


def load_checkpoint(folder: Path, seed: int) -> dict[str, Any]:
    """{'x0': state_dict, 'final': state_dict, 'batch_size': int, 'seed': int} as the train stage saved it."""
    path = checkpoint_path(folder, seed)
    if not path.is_file():
        raise InputError(f"checkpoint not found: {path}")
    return torch.load(path, weights_only=True, map_location="cpu")


def device_for(params: ModelParams) -> torch.device:
    """The torch.device named by `device` (auto: a GPU when there is one); a missing one is a ParamsError."""
    try:
        return resolve_device(params.device)
    except ValueError as error:
        raise ParamsError(f"params: 'device': {error}") from None


def model_for(params: ModelParams, data: DataSet, seed: int = 0) -> torch.nn.Module:
    """The configured network for `data`, initial point drawn from `seed` (on the CPU), moved to the
    configured device; bad options are a ParamsError."""
    try:
        model = build_model(
            params.name, input_shape=data.input_shape, num_classes=data.num_classes, seed=seed,
            options=params.options, batchnorm=params.batchnorm,
        )
    except (TypeError, ValueError) as error:
        raise ParamsError(f"params: 'models.{params.name}': {error}") from None
    return model.to(device_for(params))


FINAL_KEYS = ["train_loss", "train_accuracy", "test_loss", "test_accuracy", "distance_from_x0", "epoch"]


def train_seeds(
    config: TrainParams,
    dataset: DataSet,
    seeds: int,
    folder: Path,
    label: str,
    step_for_seed: Callable[[int], Step] = lambda seed: plain_step,
) -> tuple[list[dict], list[dict], list[tuple[int, dict[str, torch.Tensor]]]]:
    """Train one network per seed 0 .. seeds-1 (initial point and sample order from the seed) and save
    each checkpoint {x0, final, batch_size, seed} (CPU tensors) in `folder`.

    Returns the final metrics per seed (with ‖x − x0‖), every epoch's record per seed, and the
    (seed, final state) pairs.
    """
    data = dataset.to(device_for(config.model))
    finals, records, solutions = [], [], []
    for seed in range(seeds):
        model = model_for(config.model, dataset, seed)
        x0 = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        with tqdm(total=config.train.max_epochs, desc=f"{label} batch {config.batch_size} seed {seed}", unit="epoch") as bar:

            def show(record, bar=bar):
                bar.update()
                bar.set_postfix(train_loss=f"{record.train_loss:.4f}", test_acc=f"{record.test_accuracy:.4f}")

            history = train(
                model, data, batch_size=config.batch_size, config=config.train, seed=seed,
                step=step_for_seed(seed), on_epoch=show, amp=config.model.amp,
            )
        model.cpu()
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        torch.save({"x0": x0, "final": state, "batch_size": config.batch_size, "seed": seed}, checkpoint_path(folder, seed))
        records += [{"seed": seed, **asdict(r)} for r in history]
        finals.append({"seed": seed, **asdict(history[-1]), "distance_from_x0": distance(parameters_of(model), x0)})
        solutions.append((seed, state))
    return finals, records, solutions
