"""Resuming an interrupted training stage where it was killed.

While a stage trains its seeds one after the other, a `ResumeFolder` beside its outputs keeps
- every finished seed's result: its Checkpoint and Iterates (with their sha256) and its final metrics
  and records (`seed_<k>.json`, written last, so a seed counts as finished only when all three are there);
- for the seed in progress, a LoopState snapshot after every epoch (`seed_<k>.epoch.pt`: weights,
  optimizer, sample-order and dropout generators, counters, records, plus x0 and the seconds spent), and
  each kept iterate once, when it is reached (`seed_<k>.iterate_<e>.pt`), and the weights where the run
  first reached the target training loss (`seed_<k>.target.pt`; the snapshot holds its record).
Snapshots are written to a temporary file and renamed over the old one, so a SIGKILL at any moment leaves
a complete earlier snapshot. A re-run whose `key` (the stage's settings and data) differs from the one the
folder was made with starts over. The stage removes the folder when its outputs are written.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch

from lbgap.train.checkpoint import Checkpoint, CheckpointError, Iterates, State
from lbgap.train.loop import EpochRecord, LoopState

# (checkpoint, iterates, final metrics, per-epoch records) of one seed, as lbgap.train.seeds yields them
Result = tuple[Checkpoint, Iterates, dict, list[dict]]


def _atomic(path: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` beside `path`, then rename over it: a kill at any moment leaves the old file or the new."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


class ResumeFolder:
    def __init__(self, path: Path, key: str) -> None:
        """Open `path` for a run with `key`; a folder left by a run with another key is emptied."""
        self.path = path
        if path.exists() and self._key() != key:
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        if self._key() != key:
            _atomic(path / "key", lambda tmp: tmp.write_text(key))

    def _key(self) -> str | None:
        try:
            return (self.path / "key").read_text()
        except OSError:
            return None

    # finished seeds
    def finished(self, seed: int) -> Result | None:
        """The result of `seed` if it finished before the interruption (unreadable files: None, it re-runs)."""
        record = self.path / f"seed_{seed}.json"
        if not record.is_file():
            return None
        try:
            saved = json.loads(record.read_text())
            checkpoint, iterates = Checkpoint.load(self.path / "models", seed), Iterates.load(self.path / "iterates", seed)
            return checkpoint, iterates, saved["final"], saved["history"]
        except (CheckpointError, json.JSONDecodeError, OSError, KeyError, TypeError):
            return None

    def save_finished(self, result: Result) -> None:
        checkpoint, iterates, final, history = result
        for folder in ("models", "iterates"):
            (self.path / folder).mkdir(exist_ok=True)
        checkpoint.save(self.path / "models")
        iterates.save(self.path / "iterates")
        record = json.dumps({"final": final, "history": history})
        _atomic(self.path / f"seed_{checkpoint.seed}.json", lambda tmp: tmp.write_text(record))
        for stale in self.path.glob(f"seed_{checkpoint.seed}.*.pt"):
            stale.unlink()

    # the seed in progress
    def progress(self, seed: int) -> tuple[LoopState, State, float, dict[int, State]] | None:
        """(loop state, x0, seconds spent, kept iterates) of `seed`'s last snapshot, or None."""
        path = self.path / f"seed_{seed}.epoch.pt"
        if not path.is_file():
            return None
        try:
            raw = torch.load(path, weights_only=True, map_location="cpu")
            loop = raw["loop"]
            target = loop.get("target")
            state = LoopState(**{**loop, "history": tuple(EpochRecord(**r) for r in loop["history"]),
                                 "target": None if target is None else EpochRecord(**target)})
            iterates = {}
            for file in self.path.glob(f"seed_{seed}.iterate_*.pt"):
                epoch = int(file.name.removesuffix(".pt").rsplit("_", 1)[1])
                if epoch <= state.epoch:
                    iterates[epoch] = torch.load(file, weights_only=True, map_location="cpu")
            return state, raw["x0"], float(raw["seconds"]), iterates
        except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError, KeyError, TypeError):
            return None  # cannot happen after atomic renames; a damaged file re-runs the seed from x0

    def save_progress(self, seed: int, state: LoopState, x0: State, seconds: float) -> None:
        loop = {**state.__dict__, "history": [asdict(r) for r in state.history],
                "target": None if state.target is None else asdict(state.target)}
        snapshot = {"loop": loop, "x0": x0, "seconds": seconds}
        _atomic(self.path / f"seed_{seed}.epoch.pt", lambda tmp: torch.save(snapshot, tmp))

    def save_iterate(self, seed: int, epoch: int, weights: State) -> None:
        _atomic(self.path / f"seed_{seed}.iterate_{epoch}.pt", lambda tmp: torch.save(weights, tmp))

    def save_target(self, seed: int, weights: State) -> None:
        """The weights where `seed`'s run first reached the target loss (mid-epoch, so not an epoch's iterate)."""
        _atomic(self.path / f"seed_{seed}.target.pt", lambda tmp: torch.save(weights, tmp))

    def target(self, seed: int) -> State | None:
        """What `save_target` saved for `seed` (None: nothing, or unreadable)."""
        try:
            return torch.load(self.path / f"seed_{seed}.target.pt", weights_only=True, map_location="cpu")
        except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError):
            return None

    def describe(self) -> str | None:
        """What a re-run will reuse, in words (None: nothing)."""
        done = sorted(int(p.stem.removeprefix("seed_")) for p in self.path.glob("seed_*.json"))
        going = []
        for p in sorted(self.path.glob("seed_*.epoch.pt")):
            seed = int(p.name.split(".")[0].removeprefix("seed_"))
            found = self.progress(seed)
            if found is not None:
                going.append(f"seed {seed} from epoch {found[0].epoch}")
        parts = ([f"seed(s) {', '.join(map(str, done))} finished"] if done else []) + going
        return f"resuming from {self.path}: {'; '.join(parts)}" if parts else None

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
