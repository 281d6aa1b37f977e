"""Where a training stage keeps what a re-run after an interruption continues from (a ResumeFolder
beside its outputs), and the key that decides whether a re-run may continue: the stage's settings, the
data file's bytes, the training code and the device type."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import torch

from lbgap.train.resume import ResumeFolder


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def resume_path(outputs: Path) -> Path:
    """`<outputs>.resume`, beside (not inside: dvc deletes a stage's outputs before it runs) its checkpoint folder."""
    return outputs.with_name(outputs.name + ".resume")


TRAINING_CODE = ["lbgap/train", "lbgap/remedies", "lbgap/models.py", "lbgap/data", "lbgap/params", "lbgap/devices.py",
                 "lbgap/tensors.py", "lbgap/experiments/remedy.py", "stages/params.py", "stages/inputs.py", "stages/processes.py",
                 "stages/outputs.py"]


def code_digest() -> str:
    """sha256 of the code training runs (TRAINING_CODE and the running stage's module): what a resumed run
    must not have changed under it. The report, the measures, the experiments and this module (which only
    names the folder and its key) are left out."""
    root = Path(__file__).resolve().parents[1]
    files = {path for entry in TRAINING_CODE for path in ([root / entry] if entry.endswith(".py") else (root / entry).rglob("*.py"))}
    main = getattr(sys.modules["__main__"], "__file__", None)  # the stage's module (none in an interactive session)
    if main is not None:
        files.add(Path(main).resolve())
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def resume_folder(outputs: Path, settings: Any, data: Path, device: torch.device, part: str = "") -> ResumeFolder:
    """Where a stage's training keeps what a re-run after an interruption continues from: resume_path(outputs),
    or its subfolder `part`. Keyed by `settings` (plain data: dataclasses, dicts, lists, numbers, strings),
    the data file's bytes, the training code and the device type, so a re-run with any of them changed
    starts over. The stage removes it once its outputs are written."""
    plain = json.dumps(settings, sort_keys=True, default=_plain_dataclass)
    key = hashlib.sha256(f"{plain}/{file_digest(data)}/{code_digest()}/{device.type}".encode()).hexdigest()
    return ResumeFolder(resume_path(outputs) / part, key)


def _plain_dataclass(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"a resume key takes plain settings, not {type(value).__name__}")  # e.g. a function: its repr changes per run
