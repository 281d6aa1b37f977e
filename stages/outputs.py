"""Writing a stage's outputs all-or-nothing.

Every `write_*` (and `atomic_dir`) writes to a temporary `.<name>.*` file or folder beside its target.
Inside a command decorated with `@stage`, the renames onto the targets happen together when the command
finishes without error, so a stage that fails or is interrupted half-way leaves every old output as it
was; SIGTERM unwinds like an error, and leftovers of a SIGKILL are removed by the next write of the same
output. Files get the permissions the umask gives (0644 / 0755 by default), not mkstemp's 0600.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import tempfile
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

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
