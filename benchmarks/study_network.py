"""What one network of the designed predictor study costs on this machine, and whether it gives the numbers
the committed CPU shards hold: the `study@<batch>` stage itself (training to `train.target_loss`, then every
measure), run on the design given as `-S` settings at each batch size, timed per stage run; every row is set
beside the row of the same configuration and seed in results/study-grid/shards, where one ran.

    python -m benchmarks.study_network --batches 128,1000 -S runtime.device=cuda -S study.seeds=1 \\
        -S "study.learning_rates=[0.2]" -S "study.widths=[256,512]" ...   # scripts/study_grid.sh's design, cut down

`-S key=value` sets a params.yaml key as `dvc exp run -S` does (the value read as YAML). Seconds per network
are the stage's wall time over its networks, loading the data included. Writes
benchmarks/results/study_network_<device>.json (or `--name`) and prints a table; the estimate of a grid of any size is
seconds per network × its count (docs/performance.md).
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
import yaml
from typer.testing import CliRunner

from benchmarks.pipeline import REPO
from benchmarks.record import write_result
from lbgap.devices import resolve_device
from lbgap.experiments.study import AXES
from stages import study as study_stage

app = typer.Typer(add_completion=False)
CONFIGURATION = (*AXES, "seed")  # a study row's key
NOT_MEASURES = {*CONFIGURATION, "reached", "diverged"}


def with_settings(params: dict, settings: list[str]) -> dict:
    """`params` with each `key.path=value` of `settings` set, the value read as YAML (as `dvc exp run -S`)."""
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep:
            raise typer.BadParameter(f"{setting!r}: expected key=value")
        *path, last = key.split(".")
        section = params
        for part in path:
            section = section[part]
        section[last] = yaml.safe_load(value)
    return params


def committed_rows(batch: int) -> dict[tuple, dict]:
    """The committed shards' rows at `batch`, by configuration and seed."""
    rows = {}
    for path in sorted(REPO.glob(f"results/study-grid/shards/*/metrics/study/b{batch}.json")):
        for row in json.loads(path.read_text())["rows"]:
            rows[tuple(row[k] for k in CONFIGURATION)] = row
    return rows


def relative_differences(ours: dict, theirs: dict) -> dict[str, float]:
    """|ours − theirs| / |theirs| for every numeric entry of both rows but the configuration (NaN on both sides: 0;
    on one side only: inf)."""
    differences = {}
    for key, value in theirs.items():
        if key in NOT_MEASURES or isinstance(value, bool) or not isinstance(value, (int, float)) or not isinstance(ours.get(key), (int, float)):
            continue
        if math.isnan(value) or math.isnan(ours[key]):
            differences[key] = 0.0 if math.isnan(value) and math.isnan(ours[key]) else math.inf
        else:
            differences[key] = abs(ours[key] - value) / max(abs(value), 1e-12)
    return differences


@app.command()
def main(
    batches: Annotated[str, typer.Option(help="Comma-separated batch sizes, each one of study.batch_sizes after the settings.")] = "1000",
    settings: Annotated[list[str], typer.Option("-S", "--set", help="key=value, as `dvc exp run -S`; repeat.")] = [],  # noqa: B006
    data: Annotated[Path, typer.Option(help="npz written by the prepare stage.")] = REPO / "data/dataset.npz",
    name: Annotated[str | None, typer.Option(help="Result name (default study_network_<device>).")] = None,
    keep: Annotated[Path | None, typer.Option(help="Folder to keep each stage run's own output in (b<batch>.json).")] = None,
) -> None:
    params = with_settings(yaml.safe_load((REPO / "params.yaml").read_text()), settings)
    device = resolve_device(params["runtime"]["device"]).type
    rows, summary = [], []
    with tempfile.TemporaryDirectory() as scratch:
        params_path = Path(scratch) / "params.yaml"
        params_path.write_text(yaml.safe_dump(params, sort_keys=False))
        for batch in (int(b) for b in batches.split(",")):
            out = Path(scratch) / f"b{batch}.json"
            start = time.perf_counter()
            result = CliRunner().invoke(study_stage.app, [str(batch), "--data", str(data), "--out", str(out), "--params", str(params_path)])
            seconds = time.perf_counter() - start
            if result.exit_code != 0:
                raise SystemExit(f"study@{batch} failed:\n{result.output}")
            ran = json.loads(out.read_text())["rows"]
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(out, keep / out.name)
            cpu, compared_rows = committed_rows(batch), []
            for row in ran:
                committed = cpu.get(tuple(row[k] for k in CONFIGURATION))
                compared = {k: row[k] for k in CONFIGURATION} | {"reached": row["reached"], "steps": row["steps"],
                                                                   "test_accuracy": row.get("test_accuracy")}
                if committed is not None:
                    differences = relative_differences(row, committed)
                    measure = max(differences, key=differences.get, default=None)
                    compared |= {"cpu_reached": committed["reached"], "cpu_steps": committed["steps"],
                                 "cpu_test_accuracy": committed.get("test_accuracy"), "relative_differences": differences,
                                 "largest_relative_difference": differences.get(measure, 0.0), "on": measure}
                compared_rows.append(compared)
            rows += compared_rows
            beside_cpu = [r for r in compared_rows if "cpu_steps" in r]
            per_network = seconds / len(ran)
            summary.append({"batch": batch, "networks": len(ran), "seconds": round(seconds, 1), "seconds_per_network": round(per_network, 2),
                            "compared_with_cpu": len(beside_cpu), "same_steps_as_cpu": sum(r["cpu_steps"] == r["steps"] for r in beside_cpu)})
            print(f"study@{batch} on {device}: {len(ran)} networks in {seconds:.0f} s ({per_network:.1f} s each); "
                  f"{summary[-1]['same_steps_as_cpu']} of {summary[-1]['compared_with_cpu']} compared took the CPU's steps", flush=True)
            for r in beside_cpu:
                print(f"  lr {r['learning_rate']} {r['width']}×{r['depth']} wd {r['weight_decay']} p {r['dropout']}: steps {r['steps']} "
                      f"(CPU {r['cpu_steps']}), test acc {r['test_accuracy']} (CPU {r['cpu_test_accuracy']}), "
                      f"largest difference {r['largest_relative_difference']:.2g} on {r['on']}")
            # after each batch size, so that a run cut short keeps what it measured
            write_result(name or f"study_network_{device}", {"device": device, "settings": settings, "batches": summary, "rows": rows})


if __name__ == "__main__":
    app()
