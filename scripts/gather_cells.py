"""Gather stages another machine reproduced — the grid's cells, split across machines (docs/scaling.md) —
into this checkout's dvc.lock, refusing any that ran other code, params or data than this checkout has.

    python scripts/gather_cells.py [--code-may-differ] <git ref or folder> <stage> [<stage> …]
    python scripts/gather_cells.py FETCH_HEAD grid@sgd-64 grid@sgd-256
    python scripts/gather_cells.py results/study-grid/shard-1 study@512 study@1000

A shard is a git ref (a commit of another clone) or a folder that holds the shard's dvc.lock and its
outputs at their paths in the project (a shard kept inside the repository, for runs that span sessions).
For each stage: its outputs at <ref> (git-tracked, `cache: false`, as the grid's are) are checked out here,
`dvc commit -f <stage>` records them against this checkout's dependencies and params, and the dvc.lock
entry it writes must equal the one <ref> holds. If it does not, the shard ran something else: this
checkout's outputs and dvc.lock are put back as they were, the differences are printed, and the script
exits with status 1 before gathering anything more. Run it in the project's root.

`--code-may-differ` is for scoring cells again with newer statistics after the code they ran with moved on:
their params, data and outputs must still agree, their code dependencies may differ and are printed, and
dvc.lock is left as it was — the cells' outputs are in place, their stages stay out of date here, and only
a stage that reads them should run (`dvc repro -s <stage>`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

USAGE = "usage: python scripts/gather_cells.py [--code-may-differ] <git ref or folder> <stage> [<stage> …]"
DATA = ("data/", "models/")  # dependencies that are data, not code: they must agree even when code may differ


def _run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: {' '.join(args)} failed:\n{result.stderr.strip()}")
    return result.stdout


def _lock(text: str) -> dict:
    return (yaml.safe_load(text) or {}).get("stages", {})


def differences(ours: dict, theirs: dict) -> list[str]:
    """What a stage's two dvc.lock entries disagree on: 'cmd', 'params <key>', 'deps <path>', 'outs <path>'."""
    found = ["cmd"] if ours.get("cmd") != theirs.get("cmd") else []
    for key in sorted(set(ours.get("params", {}).get("params.yaml", {})) | set(theirs.get("params", {}).get("params.yaml", {}))):
        if ours.get("params", {}).get("params.yaml", {}).get(key) != theirs.get("params", {}).get("params.yaml", {}).get(key):
            found.append(f"params {key}")
    for field in ("deps", "outs"):
        mine = {d["path"]: d for d in ours.get(field, [])}
        shard = {d["path"]: d for d in theirs.get(field, [])}
        found += [f"{field} {path}" for path in sorted(set(mine) | set(shard)) if mine.get(path) != shard.get(path)]
    return found


def gather(ref: str, stage: str, code_may_differ: bool = False) -> list[str]:
    """Gather `stage` from `ref`; returns the code dependencies that differ (only with `code_may_differ`)."""
    folder = Path(ref) if Path(ref).is_dir() else None
    if folder and not (folder / "dvc.lock").is_file():
        raise SystemExit(f"error: {ref} holds no dvc.lock: a shard folder holds the dvc.lock its cells ran with and their outputs")
    lock = (folder / "dvc.lock").read_text() if folder else _run("git", "show", f"{ref}:dvc.lock")
    theirs = _lock(lock).get(stage)
    if theirs is None:
        raise SystemExit(f"error: {ref}'s dvc.lock has no stage {stage!r}: did that machine run it?")
    paths = [out["path"] for out in theirs.get("outs", [])]
    if folder:
        held = {p for p in paths if (folder / p).is_file()}
    else:
        held = set(_run("git", "ls-tree", "-r", "--name-only", ref, "--", *paths).split())
    if missing := [p for p in paths if p not in held]:
        where = "the folder lacks them" if folder else "they are in DVC's cache, not git: `dvc pull` them from the shard's remote"
        raise SystemExit(f"error: {stage}'s outputs {', '.join(missing)} are not in {ref}: {where}")
    lock_before = Path("dvc.lock").read_text() if Path("dvc.lock").exists() else None
    kept = {p: Path(p).read_bytes() for p in paths if Path(p).is_file()}
    gathered = False
    try:
        if folder:
            for path in paths:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).write_bytes((folder / path).read_bytes())
        else:
            _run("git", "checkout", ref, "--", *paths)
        _run(sys.executable, "-m", "dvc", "commit", "-f", stage)
        ours = _lock(Path("dvc.lock").read_text()).get(stage, {})
        found = differences(ours, theirs)
        code = [f for f in found if code_may_differ and f.startswith("deps ") and not f.removeprefix("deps ").startswith(DATA)]
        if other := [f for f in found if f not in code]:
            raise SystemExit(f"error: {stage} at {ref} ran other inputs than this checkout has ({'; '.join(other)}); "
                             "nothing of it was gathered: rerun it there from this commit, or here")
        gathered = True
    finally:
        if gathered and code_may_differ:  # the outputs stay; the lock does not claim this code made them
            if lock_before is None:
                Path("dvc.lock").unlink(missing_ok=True)
            else:
                Path("dvc.lock").write_text(lock_before)
        if not gathered:  # any failure: put this checkout back as it was
            for path in paths:
                if path in kept:
                    Path(path).write_bytes(kept[path])
                else:
                    Path(path).unlink(missing_ok=True)
            if lock_before is None:
                Path("dvc.lock").unlink(missing_ok=True)
            else:
                Path("dvc.lock").write_text(lock_before)
    print(f"gathered {stage} from {ref}" + (f" (its code differs: {', '.join(c.removeprefix('deps ') for c in code)})" if code else ""))
    return code


def main(argv: list[str]) -> None:
    code_may_differ = bool(argv) and argv[0] == "--code-may-differ"
    argv = argv[1:] if code_may_differ else argv
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        raise SystemExit(USAGE)
    ref, stages = argv[0], argv[1:]
    for stage in stages:
        gather(ref, stage, code_may_differ)


if __name__ == "__main__":
    main(sys.argv[1:])
