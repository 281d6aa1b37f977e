"""Top Hessian eigenvalue: Lanczos against plain power iteration at the same tolerance (run on demand).

    python -m benchmarks.top_eigenvalue [--checkpoint models/lb/seed_0.pt] [--tol 1e-3] [--seeds 3]

Uses the default pipeline's network and data (params.yaml, data/dataset.npz from `dvc repro prepare`),
the LB solution of seed 0 when its checkpoint exists (else the untrained network), and f on the
`curvature.samples` training subset, as the curvature stages do. Both methods stop when their estimate
changes by less than `tol` relative between Hessian-vector products. Prints products, seconds and the
eigenvalue for each start seed, and the time ratio, and writes them to benchmarks/results/top_eigenvalue_tol<tol>.json.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from benchmarks.record import write_result
from lbgap.data import training_subset
from lbgap.measures.hessian import hessian_operator, power_iteration, top_eigenvalue_lanczos
from lbgap.tensors import flatten, parameters_of
from stages.inputs import load_data, model_for
from stages.params import load_params
from stages.processes import device_for

app = typer.Typer(add_completion=False)


@app.command()
def main(
    checkpoint: Path = Path("models/lb/seed_0.pt"),
    data: Path = Path("data/dataset.npz"),
    params: Path = Path("params.yaml"),
    tol: float = 1e-3,
    max_iter: int = 500,
    seeds: int = 3,
) -> None:
    import torch

    settings = load_params(params)
    config, runtime = settings.curvature, settings.runtime
    dataset = load_data(data)
    model = model_for(runtime, dataset)
    if checkpoint.is_file():
        model.load_state_dict(torch.load(checkpoint, weights_only=True, map_location="cpu")["final"])
        source = str(checkpoint)
    else:
        source = "untrained network (no checkpoint)"
    split = training_subset(dataset.train, config.samples, config.seed).to(device_for(runtime))
    matvec, n = hessian_operator(model, split, runtime.eval_chunk)
    like = flatten(parameters_of(model))
    print(f"{runtime.model}, {n:,} parameters, {len(split)} samples, {source}, tol {tol:g}")
    totals = {"lanczos": 0.0, "power": 0.0}
    runs = []
    for seed in range(seeds):
        for name, method in (("lanczos", top_eigenvalue_lanczos), ("power", power_iteration)):
            start = time.perf_counter()
            result = method(matvec, n, tol=tol, max_iter=max_iter, seed=seed, like=like)
            seconds = time.perf_counter() - start
            totals[name] += seconds
            print(f"seed {seed} {name:8s} λ = {result.eigenvalue:10.4f}  {result.iterations:4d} products  "
                  f"{seconds:7.2f} s  converged {result.converged}")
            runs.append({"seed": seed, "method": name, "eigenvalue": result.eigenvalue, "products": result.iterations,
                         "seconds": seconds, "converged": bool(result.converged)})
    print(f"time power / Lanczos: {totals['power'] / totals['lanczos']:.2f}×")
    write_result(f"top_eigenvalue_tol{tol:g}", {
        "model": runtime.model, "parameters": n, "samples": len(split), "source": source, "tol": tol,
        "runs": runs, "seconds": totals, "power_over_lanczos": totals["power"] / totals["lanczos"],
    })


if __name__ == "__main__":
    app()
