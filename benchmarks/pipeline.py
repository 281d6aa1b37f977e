"""What each stage of the default pipeline costs (run on demand): wall time, the FLOPs its training and
evaluation performed, and how close that comes to this machine's fp32 matmul peak.

    python -m benchmarks.pipeline                      # every stage, in pipeline order
    python -m benchmarks.pipeline train@lb sharpness@lb # a subset (their inputs come from this checkout)

Runs each stage's dvc.yaml command in a scratch copy of the repository (the tracked files, plus this
checkout's data/ and models/ so a subset finds its inputs), so the workspace and dvc.lock stay as they
are. Writes benchmarks/results/pipeline.json and prints a table.

FLOPs are counted with torch.utils.flop_counter.FlopCounterMode on one representative step — a forward
and backward pass of the configured network on one batch, or a forward pass per sample — and
multiplied by the step and evaluation counts the stage's own outputs record (epochs trained, L-BFGS-B
evaluations, path points). Where those outputs do not record the counts (warm start, trajectory,
curvature, rescaling, surface), or for the sweep's sharpness probe, the FLOPs are not counted and the
entry says so: a null, never a guess. Optimizer updates and BN-statistics bookkeeping are not counted.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from functools import cache, cached_property
from pathlib import Path

import numpy as np
import torch
import typer
import yaml
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.record import write_result
from lbgap.models import build_model
from lbgap.params import read_params

REPO = Path(__file__).resolve().parents[1]
app = typer.Typer(add_completion=False)


def synchronize(device: torch.device | str = "cpu") -> None:
    """Wait for the device's queued work, so that a wall-clock reading after it counts that work (CUDA runs asynchronously)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_gflops(n: int = 2048, seconds: float = 3.0, device: torch.device | str = "cpu") -> float:
    """fp32 GFLOP/s of a square torch.mm loop on `device` (2n³ FLOPs per product), after a warm-up. On CUDA
    the products run in true fp32 (TF32 off, torch's default for matmuls)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    synchronize(device)
    products, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            a @ b
        products += 10
        synchronize(device)
    return 2 * n**3 * products / (time.perf_counter() - start) / 1e9


def counted(run) -> float:
    with FlopCounterMode(display=False) as counter:
        run()
    return float(counter.get_total_flops())


class Costs:
    """FLOPs of the configured network: a training step on a batch, a forward pass per sample."""

    def __init__(self, raw: dict, input_shape: tuple[int, ...], classes: int):
        runtime = read_params(raw).runtime
        self.model = build_model(runtime.model, input_shape=input_shape, num_classes=classes, seed=0,
                                 options=runtime.options, batchnorm=runtime.batchnorm)
        self.input_shape, self.classes = input_shape, classes

    def _batch(self, size: int):
        return torch.randn(size, *self.input_shape), torch.randint(0, self.classes, (size,))

    @cache
    def step(self, batch: int) -> float:
        """Forward and backward of the mean cross-entropy on one batch (train mode)."""
        x, y = self._batch(batch)
        self.model.train()
        return counted(lambda: F.cross_entropy(self.model(x), y).backward())

    @cached_property
    def forward_per_sample(self) -> float:
        x, _ = self._batch(256)
        self.model.eval()
        with torch.no_grad():
            return counted(lambda: self.model(x)) / 256

    @cached_property
    def gradient_per_sample(self) -> float:
        return self.step(256) / 256


def stage_flops(name: str, root: Path, raw: dict, costs: Costs, n_train: int, n_test: int) -> tuple[float | None, str]:
    """FLOPs stage `name` performed, from its outputs in `root`, and what was counted."""
    fwd, grad = costs.forward_per_sample, costs.gradient_per_sample
    whole = (n_train + n_test) * fwd  # one record: both splits, eval mode

    def training(per_seed: list[dict], batch: int, factor: float = 1.0) -> float:
        steps = sum(row["epoch"] for row in per_seed) * (n_train // batch)
        return factor * steps * costs.step(batch) + sum(row["epoch"] + 1 for row in per_seed) * whole

    def survey(document: dict) -> float:
        evaluations = sum(r["evaluations"] for by_eps in document["per_seed"].values() for rows in by_eps.values() for r in rows)
        return evaluations * n_train * grad

    path_point = n_train * fwd + whole  # BN statistics recomputed, then both splits evaluated
    if name.startswith("train@"):
        doc = json.loads((root / f"metrics/train_{name[6:]}.json").read_text())
        return training(doc["per_seed"], doc["batch_size"]), "training steps and per-epoch records"
    if name.startswith("sharpness@"):
        return survey(json.loads((root / f"metrics/sharpness_{name[10:]}.json").read_text())), "L-BFGS-B evaluations (loss and gradient over the training set)"
    if name == "interpolate":
        points = raw["interpolate"]["points"]
        return 2 * points * path_point, "both paths: BN recompute and evaluation per point"
    if name.startswith("mitigate@"):
        strategy = name[9:]
        doc = json.loads((root / f"metrics/mitigation/{strategy}.json").read_text())
        options = raw["mitigation"][strategy]
        factor = {"conservative": options.get("inner_steps", 1), "adversarial": 1 + options.get("steps", 1), "sam": 2}.get(strategy, 1)
        flops = training(doc["train"]["per_seed"], doc["batch_size"], factor) + survey(doc["sharpness"]) + raw["interpolate"]["points"] * path_point
        return flops, f"training ({factor}× a plain step per batch), its sharpness survey, its path"
    if name.startswith("sweep@"):
        doc = json.loads((root / f"metrics/sweep/b{name[6:]}.json").read_text())
        steps = sum(row["steps"] for row in doc["per_seed"])
        return steps * costs.step(doc["batch_size"]), "training steps only (records and the sharpness probe not counted)"
    return None, "not counted (its outputs do not record step or evaluation counts)"


def _copy(root: Path) -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    for folder in ("data", "models"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, root / folder, dirs_exist_ok=True)


@app.command()
def main(
    stages: list[str] = typer.Argument(None, help="Stage names of dvc.yaml (default: all, in pipeline order)."),
    name: str = typer.Option("pipeline", help="Result file: benchmarks/results/<name>.json."),
) -> None:
    from dvc.repo import Repo

    with Repo(str(REPO)) as repo:
        order = [(s.name, s.cmd) for s in repo.index.stages]  # dvc.yaml lists each stage after its inputs
    chosen = [(n, c) for n, c in order if not stages or n in stages]
    if stages and len(chosen) != len(set(stages)):
        raise typer.BadParameter(f"unknown stage in {stages}; known: {', '.join(n for n, _ in order)}")
    peak = matmul_peak_gflops()
    print(f"fp32 matmul peak: {peak:.1f} GFLOP/s ({torch.get_num_threads()} threads)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="lbgap-bench-") as tmp:
        root = Path(tmp)
        _copy(root)
        raw = yaml.safe_load((root / "params.yaml").read_text())
        for stage_name, cmd in chosen:
            start = time.perf_counter()
            done = subprocess.run([sys.executable, *shlex.split(cmd)[1:]], cwd=root, capture_output=True, text=True)
            wall = time.perf_counter() - start
            if done.returncode != 0:
                sys.exit(f"stage {stage_name} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
            rows.append({"stage": stage_name, "wall_s": round(wall, 2)})
            print(f"{stage_name:24s} {wall:8.1f} s", flush=True)
        with np.load(root / "data/dataset.npz") as arrays:
            shape, classes = tuple(arrays["x_train"].shape[1:]), int(max(arrays["y_train"].max(), arrays["y_test"].max())) + 1
            n_train, n_test = len(arrays["y_train"]), len(arrays["y_test"])
        costs = Costs(raw, shape, classes)
        for row in rows:
            flops, what = stage_flops(row["stage"], root, raw, costs, n_train, n_test)
            gflops = None if flops is None else flops / row["wall_s"] / 1e9
            row.update(gflop=None if flops is None else round(flops / 1e9, 1), counted=what,
                       gflop_per_s=None if gflops is None else round(gflops, 2),
                       fraction_of_peak=None if gflops is None else round(gflops / peak, 4))
    total = sum(r["wall_s"] for r in rows)
    print(f"\n{'stage':24s} {'wall s':>8s} {'GFLOP':>9s} {'GFLOP/s':>8s} {'of peak':>8s}")
    for r in rows:
        flop = "—" if r["gflop"] is None else f"{r['gflop']:.0f}"
        rate = "—" if r["gflop_per_s"] is None else f"{r['gflop_per_s']:.1f}"
        share = "—" if r["fraction_of_peak"] is None else f"{100 * r['fraction_of_peak']:.1f} %"
        print(f"{r['stage']:24s} {r['wall_s']:8.1f} {flop:>9s} {rate:>8s} {share:>8s}")
    print(f"{'total':24s} {total:8.1f}")
    write_result(name, {"matmul_peak_gflop_per_s": round(peak, 2), "total_wall_s": round(total, 1), "stages": rows})


if __name__ == "__main__":
    app()
