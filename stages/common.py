"""What every stage shares: reading params.yaml and its inputs, turning bad input into one clear line,
and writing outputs all-or-nothing.

Outputs. Every `write_*` (and `atomic_dir`) writes to a temporary `.<name>.*` file or folder beside its
target. Inside a command decorated with `@stage`, the renames onto the targets happen together when the
command finishes without error, so a stage that fails or is interrupted half-way leaves every old
output as it was; SIGTERM unwinds like an error, and leftovers of a SIGKILL are removed by the next
write of the same output. Files get the permissions the umask gives (0644 / 0755 by default), not
mkstemp's 0600.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import pickle
import shutil
import signal
import sys
import tempfile
import zipfile
from contextvars import ContextVar
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
from lbgap.schema import check_params
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
    """params.yaml parsed and checked against lbgap.schema (unknown keys, types, non-finite numbers)."""
    if not path.is_file():
        raise InputError(f"parameter file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise InputError(f"{path} is not valid YAML{line}: {problem}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a text file") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path} must hold a mapping of parameters")
    check_params(raw)
    return raw


@contextlib.contextmanager
def clear_errors() -> Iterator[None]:
    """Bad params or inputs end the command with one line on stderr and exit code 2, no traceback."""
    try:
        yield
    except (ParamsError, InputError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise typer.Exit(code=2) from None


# (temporary path, target) pairs of the running `@stage` command; None outside one
_PENDING: ContextVar[list[tuple[Path, Path]] | None] = ContextVar("pending_outputs", default=None)


def _permissions(path: Path, mode: int) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _remove_stale(path: Path) -> None:
    """Temporary siblings `.<name>.*` that a killed run left behind (none exist while a run is live)."""
    for stale in path.parent.glob(f".{path.name}.*"):
        _remove(stale)


def _replace(tmp: Path, path: Path) -> None:
    """Move `tmp` onto `path`. An old folder is first moved aside and deleted only once the new one is
    in place."""
    if path.is_dir() and not path.is_symlink():
        aside = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old."))
        os.replace(path, aside / path.name)
        os.replace(tmp, path)
        shutil.rmtree(aside)
    else:
        os.replace(tmp, path)


def _commit(tmp: Path, path: Path) -> None:
    pending = _PENDING.get()
    if pending is None:
        _replace(tmp, path)
    else:
        pending.append((tmp, path))


def _terminate(signum, frame) -> None:
    raise SystemExit(128 + signum)


def stage(command: Callable[..., None]) -> Callable[..., None]:
    """Decorate a stage's command (below `@app.command()`): its outputs are committed together when it
    returns, discarded when it raises or is sent SIGTERM."""

    @functools.wraps(command)
    def run(*args, **kwargs) -> None:
        pending: list[tuple[Path, Path]] = []
        token = _PENDING.set(pending)
        try:
            previous = signal.signal(signal.SIGTERM, _terminate)
        except ValueError:  # not the main thread: no handler to install
            previous = None
        try:
            command(*args, **kwargs)
            for tmp, path in pending:
                _replace(tmp, path)
        finally:
            _PENDING.reset(token)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            for tmp, _ in pending:
                if tmp.exists():
                    _remove(tmp)

    run.is_stage = True  # type: ignore[attr-defined]  (tests check every stage command carries it)
    return run


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename over `path` (at once, or when the
    running `@stage` command finishes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        _permissions(tmp, 0o666)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _commit(tmp, path)


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
    """Yield a temporary folder beside `path`; on success it replaces `path` whole (at once, or when the
    running `@stage` command finishes); on an error it is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    _permissions(tmp, 0o777)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _commit(tmp, path)


def _fix(path: Path, stage_name: str) -> str:
    return f"restore it with `dvc checkout {path}` or rebuild it with `dvc repro -f {stage_name}`"


def load_data(path: Path) -> DataSet:
    """The prepare stage's npz; a missing, truncated, corrupt or malformed file is an InputError."""
    if not path.is_file():
        raise InputError(f"data file not found: {path} (run `dvc repro prepare`)")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            dataset = from_arrays(arrays)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, RuntimeError) as error:
        raise InputError(f"data file {path} is unreadable ({type(error).__name__}); {_fix(path, 'prepare')}") from None
    problem = _data_problem(dataset)
    if problem:
        raise InputError(f"data file {path} is malformed: {problem}; {_fix(path, 'prepare')}")
    return dataset


def _data_problem(data: DataSet) -> str | None:
    for name, split in (("train", data.train), ("test", data.test)):
        if split.x.dim() < 2 or split.y.dim() != 1 or len(split.x) != len(split.y) or len(split.y) == 0:
            return f"x_{name} {tuple(split.x.shape)} and y_{name} {tuple(split.y.shape)} do not pair up"
        if not split.x.is_floating_point() or not torch.isfinite(split.x).all():
            return f"x_{name} must hold finite floating-point values"
        if split.y.min() < 0:
            return f"y_{name} holds negative labels"
    if data.train.x.shape[1:] != data.test.x.shape[1:]:
        return f"train inputs {tuple(data.train.x.shape[1:])} and test inputs {tuple(data.test.x.shape[1:])} differ in shape"
    return None


def checkpoint_path(folder: Path, seed: int) -> Path:
    return folder / f"seed_{seed}.pt"


def checkpoint_seeds(folder: Path) -> list[int]:
    """Seeds of the checkpoints in `folder`, ascending; an empty or missing folder is an InputError."""
    seeds = sorted(int(p.stem.removeprefix("seed_")) for p in folder.glob("seed_*.pt"))
    if not seeds:
        raise InputError(f"no checkpoints seed_<k>.pt in {folder} (run the train stages first)")
    return seeds


CHECKPOINT_KEYS = {"x0", "final", "batch_size", "seed", "sha256"}


def state_digest(x0: dict[str, torch.Tensor], final: dict[str, torch.Tensor]) -> str:
    """sha256 over both state_dicts' names and tensor bytes: torch.load does not verify tensor data, so a
    flipped bit inside a weight would otherwise load silently."""
    digest = hashlib.sha256()
    for label, state in (("x0", x0), ("final", final)):
        for name in sorted(state):
            digest.update(f"{label}/{name}/{state[name].dtype}/{tuple(state[name].shape)}".encode())
            digest.update(state[name].detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_checkpoint(path: Path, x0: dict[str, torch.Tensor], final: dict[str, torch.Tensor], batch_size: int, seed: int) -> None:
    """{'x0', 'final', 'batch_size', 'seed', 'sha256'} with CPU tensors, as `load_checkpoint` reads it."""
    torch.save({"x0": x0, "final": final, "batch_size": batch_size, "seed": seed, "sha256": state_digest(x0, final)}, path)


def _writer_of(folder: Path) -> str:
    """The dvc.yaml stage that writes a checkpoint folder (models/sb → train_sb, models/mitigation/sam →
    mitigate@sam)."""
    if folder.parent.name == "mitigation":
        return f"mitigate@{folder.name}"
    return f"train_{folder.name}" if folder.name in ("sb", "lb") else f"<the stage that writes {folder}>"


def load_checkpoint(folder: Path, seed: int, model: torch.nn.Module | None = None) -> dict[str, Any]:
    """{'x0': state_dict, 'final': state_dict, 'batch_size': int, 'seed': int, 'sha256': str} as the train
    stage saved it (`save_checkpoint`). A missing, truncated, corrupt or wrong-shaped file (its states must fit `model`, when given) is an
    InputError naming the file and the fix."""
    path = checkpoint_path(folder, seed)
    if not path.is_file():
        raise InputError(f"checkpoint not found: {path}")
    fix = _fix(folder, _writer_of(folder))
    try:
        checkpoint = torch.load(path, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError, AttributeError):
        raise InputError(f"checkpoint {path} is unreadable (truncated or corrupt); {fix}") from None
    if not isinstance(checkpoint, dict) or not CHECKPOINT_KEYS <= set(checkpoint):
        raise InputError(f"checkpoint {path} lacks {', '.join(sorted(CHECKPOINT_KEYS))}; {fix}")
    tensors_only = all(
        isinstance(checkpoint[key], dict) and all(isinstance(t, torch.Tensor) for t in checkpoint[key].values())
        for key in ("x0", "final")
    )
    if not tensors_only or state_digest(checkpoint["x0"], checkpoint["final"]) != checkpoint["sha256"]:
        raise InputError(f"checkpoint {path} is corrupt (its weights do not match their sha256); {fix}")
    if model is not None:
        expected = model.state_dict()
        for key in ("x0", "final"):
            state = checkpoint[key]
            if not isinstance(state, dict) or set(state) != set(expected) or any(
                not isinstance(state[k], torch.Tensor) or state[k].shape != v.shape for k, v in expected.items()
            ):
                raise InputError(f"checkpoint {path} does not fit the configured network (its '{key}' weights differ in names or shapes); {fix}")
    return checkpoint


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
        save_checkpoint(checkpoint_path(folder, seed), x0, state, config.batch_size, seed)
        records += [{"seed": seed, **asdict(r)} for r in history]
        finals.append({"seed": seed, **asdict(history[-1]), "distance_from_x0": distance(parameters_of(model), x0)})
        solutions.append((seed, state))
    return finals, records, solutions
