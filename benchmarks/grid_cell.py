"""Many models at once or one by one: training throughput of a learning-rate × seed grid cell
(`lbgap.experiments.grid.train_cell`, one vmapped step for all runs) against the same runs trained one
after the other with torch's own optimizer, on the default MLP (40 → 3 × 256 → 10) and MNIST-1D-sized
random inputs, at each batch size, on this machine.

    python -m benchmarks.grid_cell [--runs 10] [--batches 64,1000] [--steps 60] [--optimizer adam] [--device cuda]

Every run trains the same number of updates (`--steps`; the target loss is out of reach) and checks its
training loss on the whole training set after every epoch, both ways, so the figures
are updates per second, summed over the runs, and the fraction of the fp32 matmul peak they reach
(FLOPs counted as 6 × weights × samples per update: forward, and backward through inputs and weights).
Writes benchmarks/results/grid_cell.json (grid_cell_cuda.json for `--device cuda`) and prints a table.
"""

from __future__ import annotations

import time

import torch
import typer
from torch.nn import functional as F

from benchmarks.pipeline import matmul_peak_gflops, synchronize
from benchmarks.record import write_result
from lbgap.data import DataSet, Split
from lbgap.experiments.grid import GridRun, train_cell
from lbgap.models import build_model
from lbgap.train.evaluation import evaluate

app = typer.Typer(add_completion=False)


def _blobs(n: int, generator: torch.Generator) -> Split:
    return Split(torch.randn(n, 40, generator=generator), torch.randint(0, 10, (n,), generator=generator))


def _one_by_one(models, runs, data: DataSet, optimizer: str, batch_size: int, steps: int) -> None:
    n = len(data.train)
    for model, run in zip(models, runs):
        opt = (torch.optim.SGD(model.parameters(), lr=run.learning_rate, momentum=0.9) if optimizer == "sgd"
               else torch.optim.Adam(model.parameters(), lr=run.learning_rate))
        generator, done = torch.Generator().manual_seed(run.seed), 0
        model.train()
        while done < steps:
            order = torch.randperm(n, generator=generator)
            for start in range(0, n - batch_size + 1, batch_size):
                batch = order[start : start + batch_size]
                opt.zero_grad()
                F.cross_entropy(model(data.train.x[batch]), data.train.y[batch]).backward()
                opt.step()
                done += 1
                if done == steps:
                    break
            evaluate(model, data.train, chunk=10_000)  # the epoch's check of the training loss, as the cell does
            model.train()


@app.command()
def main(runs: int = 10, batches: str = "64,1000", steps: int = 60, optimizer: str = "adam", samples: int = 10_000,
         device: str = "cpu") -> None:
    generator = torch.Generator().manual_seed(0)
    data = DataSet(_blobs(samples, generator), _blobs(1000, generator)).to(device)
    grid = [GridRun(10 ** (-4 + 2 * i / max(1, runs - 1)), seed=i % 2) for i in range(runs)]  # 1e-4 … 1e-2
    make = lambda seed: build_model("mlp", input_shape=(40,), num_classes=10, seed=seed, options={"width": 256, "depth": 3}).to(device)  # noqa: E731
    weights = sum(p.numel() for p in make(0).parameters())
    peak = matmul_peak_gflops(device=device)
    print(f"fp32 matmul peak on {device}: {peak:.1f} GFLOP/s ({torch.get_num_threads()} CPU threads); {runs} runs × {steps} updates, {optimizer}")
    rows = []
    for batch in (int(b) for b in batches.split(",")):
        flops = 6 * weights * batch * steps * runs
        synchronize(device)
        start = time.perf_counter()
        _one_by_one([make(r.seed) for r in grid], grid, data, optimizer, batch, steps)
        synchronize(device)
        alone = time.perf_counter() - start
        start = time.perf_counter()
        # target 1e-30: never reached, so every run makes `steps` updates (and the cell's checks are its own cost)
        train_cell([make(r.seed) for r in grid], grid, data, optimizer=optimizer, batch_size=batch, target_loss=1e-30, max_steps=steps)
        synchronize(device)
        stacked = time.perf_counter() - start
        row = {"batch": batch, "runs": runs, "steps": steps, "one_by_one_s": round(alone, 2), "stacked_s": round(stacked, 2),
               "one_by_one_updates_per_s": round(runs * steps / alone, 1), "stacked_updates_per_s": round(runs * steps / stacked, 1),
               "speedup": round(alone / stacked, 3), "one_by_one_fraction_of_peak": round(flops / alone / 1e9 / peak, 4),
               "stacked_fraction_of_peak": round(flops / stacked / 1e9 / peak, 4)}
        rows.append(row)
        print(f"batch {batch:>5}: one by one {row['one_by_one_updates_per_s']:7.1f} updates/s ({100 * row['one_by_one_fraction_of_peak']:4.1f} % of peak), "
              f"stacked {row['stacked_updates_per_s']:7.1f} updates/s ({100 * row['stacked_fraction_of_peak']:4.1f} % of peak): ×{row['speedup']:.2f}", flush=True)
    write_result("grid_cell" if device == "cpu" else f"grid_cell_{device}", {"device": device, "optimizer": optimizer, "samples": samples, "weights": weights,
                               "matmul_peak_gflop_per_s": round(peak, 2), "rows": rows})


if __name__ == "__main__":
    app()
