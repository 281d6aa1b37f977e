"""Seeds one by one or together: seconds per epoch of the default MLP (40 → 3 × 256 → 10, mnist1d-sized
inputs) for `seeds` seeds at each batch size, both ways, on this machine.

    python -m benchmarks.seeds [--seeds 3] [--batches 64,256,4000] [--epochs 2] [--device cuda]

Writes benchmarks/results/seeds.json (seeds_cuda.json for `--device cuda`) and prints a table. lbgap.train.together.fits_together trains
together only off the CPU, because of what this measures on a CPU (docs/performance.md quotes it).
"""

from __future__ import annotations

import time

import torch
import typer

from benchmarks.pipeline import synchronize
from benchmarks.record import write_result
from lbgap.data import DataSet, Split
from lbgap.models import build_model
from lbgap.train.loop import TrainConfig, fixed_budget, train
from lbgap.train.together import train_together

app = typer.Typer(add_completion=False)


def _blobs(n: int, generator: torch.Generator) -> Split:
    return Split(torch.randn(n, 40, generator=generator), torch.randint(0, 10, (n,), generator=generator))


@app.command()
def main(seeds: int = 3, batches: str = "64,256,4000", epochs: int = 2, samples: int = 40_000, device: str = "cpu") -> None:
    generator = torch.Generator().manual_seed(0)
    data = DataSet(_blobs(samples, generator), _blobs(samples // 4, generator)).to(device)
    config = fixed_budget(TrainConfig(max_epochs=1, patience=1, min_delta=0.0, lr=1e-3, betas=(0.9, 0.999), eval_chunk=10_000), epochs)
    make = lambda seed: build_model("mlp", input_shape=(40,), num_classes=10, seed=seed, options={"width": 256, "depth": 3}).to(device)  # noqa: E731
    rows = []
    for batch in (int(b) for b in batches.split(",")):
        synchronize(device)
        start = time.perf_counter()
        for seed in range(seeds):
            train(make(seed), data, batch_size=batch, config=config, seed=seed)
        synchronize(device)
        one_by_one = (time.perf_counter() - start) / epochs
        start = time.perf_counter()
        train_together([make(seed) for seed in range(seeds)], data, batch_size=batch, config=config, seeds=list(range(seeds)))
        synchronize(device)
        together = (time.perf_counter() - start) / epochs
        rows.append({"batch": batch, "seeds": seeds, "one_by_one_s_per_epoch": round(one_by_one, 3),
                     "together_s_per_epoch": round(together, 3), "together_speedup": round(one_by_one / together, 3)})
        print(f"batch {batch:>6}: {seeds} seeds one by one {one_by_one:6.2f} s/epoch, together {together:6.2f} s/epoch "
              f"(×{one_by_one / together:.2f})", flush=True)
    write_result("seeds" if device == "cpu" else f"seeds_{device}", {"device": device, "samples": samples, "epochs": epochs, "rows": rows})


if __name__ == "__main__":
    app()
