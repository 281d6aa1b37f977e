"""Per-stage wall time of one `dvc repro`, read afterwards from what it left: the order its log ran the
stages in, and each stage's outputs' modification times (a stage ends when its last output is written).

    (date +%s; dvc repro) > repro.log 2>&1
    python -m benchmarks.repro_stages repro.log --name repro_<date> --alongside "what else ran"
    (date +%s; dvc exp run -S batch=5000) > exp.log 2>&1      # an experiment likewise, in its workspace:
    python -m benchmarks.repro_stages exp.log --name … --command "dvc exp run -S batch=5000"

A stage's seconds are the newest mtime of its outputs minus the previous stage's (the first stage's: minus
the start on the log's first line, in seconds since the epoch), so they include the process start and
DVC's own bookkeeping. Writes benchmarks/results/<name>.json (its `machine` is read when this runs: run it
on the machine that ran the repro)."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Annotated

import typer
import yaml

from benchmarks.record import write_result


def stage_order(log: str) -> list[str]:
    return re.findall(r"Running stage '([^']+)'", log)


def newest_output(stage: str, lock: dict) -> float:
    paths = [Path(out["path"]) for out in lock["stages"][stage].get("outs", [])]
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    if not files:
        raise SystemExit(f"error: {stage} has no output files here: run this in the checkout the log ran in")
    return max(f.stat().st_mtime for f in files)


def main(
    log: Annotated[Path, typer.Argument(help="The repro's log: `date +%s` on its first line, then dvc's.")],
    name: Annotated[str, typer.Option(help="The result's name: benchmarks/results/<name>.json.")],
    alongside: Annotated[str, typer.Option(help="What else ran on the machine meanwhile.")] = "nothing",
    command: Annotated[str, typer.Option(help="The command the log is of.")] = "dvc repro",
) -> None:
    text = log.read_text(errors="replace")
    first = text.splitlines()[0].strip() if text else ""
    if not first.isdigit():
        raise SystemExit(f"error: {log}'s first line must be the start in seconds since the epoch (`date +%s`), not {first!r}")
    started = datetime.datetime.fromtimestamp(int(first), datetime.timezone.utc)
    lock = yaml.safe_load(Path("dvc.lock").read_text())
    previous, stages = started.timestamp(), []
    for stage in stage_order(text):
        end = newest_output(stage, lock)
        stages.append({"stage": stage, "seconds": round(end - previous, 1)})
        previous = end
    write_result(name, {
        "command": command, "started": started.isoformat(), "stages_run": len(stages), "alongside": alongside,
        "how": "each stage's seconds: the newest mtime of its outputs minus the previous stage's, in the log's order",
        "total_seconds": round(previous - started.timestamp(), 1), "stages": stages,
    })


if __name__ == "__main__":
    typer.run(main)
