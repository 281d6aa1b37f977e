"""A trained run on disk: its initial point x0, its final weights, the batch size, the seed, and the
iterates kept along the way (epoch → weights) for the experiments that measure them (trajectory, warm
start) instead of training the same run again.

torch.load does not verify tensor data, so a checkpoint carries a sha256 of both state_dicts: a flipped
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
KEYS = {"x0", "final", "iterates", "batch_size", "seed", "sha256"}


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, corrupt or does not fit the network."""


def state_digest(x0: State, final: State, iterates: dict[int, State] | None = None) -> str:
    """sha256 over the state_dicts' names, dtypes, shapes and tensor bytes (x0, final, then the iterates
    by epoch)."""
    digest = hashlib.sha256()
    labelled = [("x0", x0), ("final", final)] + [(f"epoch_{e}", iterates[e]) for e in sorted(iterates or {})]
    for label, state in labelled:
        for name in sorted(state):
            digest.update(f"{label}/{name}/{state[name].dtype}/{tuple(state[name].shape)}".encode())
            digest.update(state[name].detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


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
    iterates: dict[int, State]  # epoch (≥ 1) → the weights after it, CPU tensors; may be empty

    def iterate(self, epoch: int) -> State:
        """The weights after `epoch` epochs (0: x0). KeyError naming the kept epochs when not kept."""
        if epoch == 0:
            return self.x0
        if epoch not in self.iterates:
            raise KeyError(f"epoch {epoch} was not kept (kept: 0, {', '.join(map(str, sorted(self.iterates)))})")
        return self.iterates[epoch]

    def save(self, folder: Path) -> Path:
        """Write seed_<seed>.pt in `folder` ({x0, final, iterates, batch_size, seed, sha256}); returns its path."""
        path = checkpoint_path(folder, self.seed)
        torch.save(
            {"x0": self.x0, "final": self.final, "iterates": self.iterates, "batch_size": self.batch_size,
             "seed": self.seed, "sha256": state_digest(self.x0, self.final, self.iterates)},
            path,
        )
        return path

    @classmethod
    def load(cls, folder: Path, seed: int, model: nn.Module | None = None) -> Checkpoint:
        """Read seed_<seed>.pt from `folder`, verify its digest and, when `model` is given, that both states
        fit it (names and shapes). Any problem is a CheckpointError naming the file."""
        path = checkpoint_path(folder, seed)
        if not path.is_file():
            raise CheckpointError(f"checkpoint not found: {path}")
        try:
            raw = torch.load(path, weights_only=True, map_location="cpu")
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError, AttributeError):
            raise CheckpointError(f"checkpoint {path} is unreadable (truncated or corrupt)") from None
        if not isinstance(raw, dict) or not KEYS <= set(raw):
            raise CheckpointError(f"checkpoint {path} lacks {', '.join(sorted(KEYS))}")
        states = [raw["x0"], raw["final"]] + (list(raw["iterates"].values()) if isinstance(raw["iterates"], dict) else [None])
        tensors_only = all(isinstance(state, dict) and all(isinstance(t, torch.Tensor) for t in state.values()) for state in states)
        if not tensors_only or state_digest(raw["x0"], raw["final"], raw["iterates"]) != raw["sha256"]:
            raise CheckpointError(f"checkpoint {path} is corrupt (its weights do not match their sha256)")
        if model is not None:
            expected = model.state_dict()
            labelled = [("x0", raw["x0"]), ("final", raw["final"])] + [(f"epoch {e}", it) for e, it in raw["iterates"].items()]
            for key, state in labelled:
                if set(state) != set(expected) or any(state[k].shape != v.shape for k, v in expected.items()):
                    raise CheckpointError(
                        f"checkpoint {path} does not fit the configured network (its '{key}' weights differ in names or shapes)"
                    )
        iterates = {int(e): state for e, state in raw["iterates"].items()}
        return cls(raw["x0"], raw["final"], int(raw["batch_size"]), int(raw["seed"]), iterates)
