"""A trained run on disk: its initial point x0, its final weights, the weights where its training loss
first reached the target (when it did), the batch size and the seed (`Checkpoint`); and, in a folder of
their own, the iterates it passed through at chosen epochs
(`Iterates`), which the trajectory and warm-start experiments measure instead of training the run again.
Kept apart so that changing which epochs are kept leaves the checkpoint's bytes, and so every stage that
reads only the checkpoint, untouched.

torch.load does not verify tensor data, so both files carry a sha256 of their state_dicts: a flipped
bit inside a weight is refused instead of loading silently.
"""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

State = dict[str, torch.Tensor]
KEYS = {"x0", "final", "batch_size", "seed", "sha256"}


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, corrupt or does not fit the network."""


def _digest(labelled: list[tuple[str, State]]) -> str:
    digest = hashlib.sha256()
    for label, state in labelled:
        for name in sorted(state):
            digest.update(f"{label}/{name}/{state[name].dtype}/{tuple(state[name].shape)}".encode())
            digest.update(state[name].detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def state_digest(x0: State, final: State, at_target: State | None = None, target_epoch: int | None = None) -> str:
    """sha256 over the state_dicts' names, dtypes, shapes and tensor bytes (`at_target` and its epoch when
    there is one)."""
    return _digest([("x0", x0), ("final", final)] + ([(f"at_target@{target_epoch}", at_target)] if at_target is not None else []))


def iterates_digest(states: dict[int, State]) -> str:
    """sha256 over the iterates, labelled by epoch, in epoch order."""
    return _digest([(f"epoch_{e}", states[e]) for e in sorted(states)])


def _read(path: Path, keys: set[str]) -> dict:
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        raw = torch.load(path, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError, AttributeError):
        raise CheckpointError(f"checkpoint {path} is unreadable (truncated or corrupt)") from None
    if not isinstance(raw, dict) or not keys <= set(raw):
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(sorted(keys))}")
    return raw


def _tensors_only(*states: object) -> bool:
    return all(isinstance(s, dict) and all(isinstance(t, torch.Tensor) for t in s.values()) for s in states)


def _check_fit(path: Path, labelled: list[tuple[str, State]], model: nn.Module) -> None:
    expected = model.state_dict()
    for key, state in labelled:
        if set(state) != set(expected) or any(state[k].shape != v.shape for k, v in expected.items()):
            raise CheckpointError(
                f"checkpoint {path} does not fit the configured network (its '{key}' weights differ in names or shapes)"
            )


def cpu_state(model: nn.Module) -> State:
    """A copy of `model`'s state_dict on the CPU (detached)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def checkpoint_path(folder: Path, seed: int) -> Path:
    return folder / f"seed_{seed}.pt"


def checkpoint_seeds(folder: Path) -> list[int]:
    """Seeds of the checkpoints seed_<k>.pt in `folder`, ascending (empty for a missing folder)."""
    return sorted(int(p.stem.removeprefix("seed_")) for p in folder.glob("seed_*.pt"))


@dataclass(frozen=True)
class Checkpoint:
    x0: State  # the initial point, CPU tensors
    final: State  # the weights training ended at, CPU tensors
    batch_size: int
    seed: int
    at_target: State | None = None  # where the training loss first was ≤ train.target_loss, CPU tensors (None: never)
    target_epoch: int | None = None  # the epoch in which it was (set exactly when `at_target` is)

    def __post_init__(self) -> None:
        if (self.at_target is None) != (self.target_epoch is None):
            raise ValueError("a checkpoint's at_target and target_epoch come together (both or neither)")

    def save(self, folder: Path) -> Path:
        """Write seed_<seed>.pt in `folder` ({x0, final, at_target, target_epoch, batch_size, seed, sha256});
        returns its path."""
        path = checkpoint_path(folder, self.seed)
        torch.save(
            {"x0": self.x0, "final": self.final, "at_target": self.at_target, "target_epoch": self.target_epoch,
             "batch_size": self.batch_size, "seed": self.seed, "sha256": state_digest(self.x0, self.final, self.at_target, self.target_epoch)},
            path,
        )
        return path

    @classmethod
    def load(cls, folder: Path, seed: int, model: nn.Module | None = None) -> Checkpoint:
        """Read seed_<seed>.pt from `folder`, verify its digest and, when `model` is given, that both states
        fit it (names and shapes). Any problem is a CheckpointError naming the file."""
        path = checkpoint_path(folder, seed)
        raw = _read(path, KEYS)
        at_target, epoch = raw.get("at_target"), raw.get("target_epoch")  # absent before runs kept it: never reached
        states = [("x0", raw["x0"]), ("final", raw["final"])] + ([("at_target", at_target)] if at_target is not None else [])
        if ((at_target is None) != (epoch is None) or not _tensors_only(*(s for _, s in states))
                or state_digest(raw["x0"], raw["final"], at_target, epoch) != raw["sha256"]):
            raise CheckpointError(f"checkpoint {path} is corrupt (its weights do not match their sha256)")
        if model is not None:
            _check_fit(path, states, model)
        return cls(raw["x0"], raw["final"], int(raw["batch_size"]), int(raw["seed"]), at_target,
                   None if epoch is None else int(epoch))


ITERATES_KEYS = {"seed", "stopped_at", "states", "sha256"}


@dataclass(frozen=True)
class Iterates:
    """One run's weights after chosen epochs: epoch → state_dict (CPU tensors), epoch 0 being x0."""

    seed: int
    stopped_at: int  # the last epoch the run trained (its stopping rule fired, or max_epochs)
    states: dict[int, State]

    def iterate(self, epoch: int) -> State:
        """The weights after `epoch` epochs; KeyError naming the kept epochs when not kept."""
        if epoch not in self.states:
            raise KeyError(f"epoch {epoch} was not kept (kept: {', '.join(map(str, sorted(self.states)))})")
        return self.states[epoch]

    def save(self, folder: Path) -> Path:
        """Write seed_<seed>.pt in `folder` ({seed, stopped_at, states, sha256}); returns its path."""
        path = checkpoint_path(folder, self.seed)
        torch.save({"seed": self.seed, "stopped_at": self.stopped_at, "states": self.states,
                    "sha256": iterates_digest(self.states)}, path)
        return path

    @classmethod
    def load(cls, folder: Path, seed: int, model: nn.Module | None = None) -> Iterates:
        """Read seed_<seed>.pt from `folder`, verify its digest and, when `model` is given, that every state
        fits it. Any problem is a CheckpointError naming the file."""
        path = checkpoint_path(folder, seed)
        raw = _read(path, ITERATES_KEYS)
        states = raw["states"]
        if not isinstance(states, dict) or not _tensors_only(*states.values()) or iterates_digest(states) != raw["sha256"]:
            raise CheckpointError(f"checkpoint {path} is corrupt (its weights do not match their sha256)")
        if model is not None:
            _check_fit(path, [(f"epoch {e}", state) for e, state in states.items()], model)
        return cls(int(raw["seed"]), int(raw["stopped_at"]), {int(e): state for e, state in states.items()})
