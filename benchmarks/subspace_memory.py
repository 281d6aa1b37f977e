"""Peak memory of the subspace sharpness metric on the paper's largest network (run on demand).

    python -m benchmarks.subspace_memory [--model C2] [--subspace-dim 100] [--samples 256] [--max-iter 2]

Builds the network on random CIFAR-shaped inputs (the subspace's memory does not depend on the data),
then measures φ in a random n × p subspace with the block-generated A of lbgap.measures.subspace. Prints the
process's peak resident memory before and after, next to what a dense A and a dense float64 pseudo-
inverse would have needed, and writes them to benchmarks/results/subspace_memory.json.
"""

from __future__ import annotations

import resource
import time

import torch
import typer

from benchmarks.record import write_result
from lbgap.data import Split
from lbgap.models import build_model, count_parameters
from lbgap.measures.maximizer import Maximizer
from lbgap.measures.sharpness import sharpness_of_model
from lbgap.measures.subspace import random_subspace

GIB = 1024**3


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB  # ru_maxrss is KiB on Linux


def main(model: str = "C2", subspace_dim: int = 100, samples: int = 256, max_iter: int = 2, chunk: int = 128) -> None:
    net = build_model(model, input_shape=(3, 32, 32), num_classes=10, seed=0).eval()
    generator = torch.Generator().manual_seed(0)
    train = Split(torch.rand(samples, 3, 32, 32, generator=generator), torch.randint(0, 10, (samples,), generator=generator))
    n = count_parameters(net)
    A = random_subspace(n, subspace_dim, seed=0)
    before = peak_rss_gib()
    start = time.perf_counter()
    result = sharpness_of_model(net, train, 1e-3, A, chunk=chunk, maximizer=Maximizer(iterations=max_iter), seed=0)  # the paper's L-BFGS-B
    seconds = time.perf_counter() - start
    after = peak_rss_gib()
    print(f"model {model}: n = {n:,} parameters, p = {subspace_dim}, {samples} samples in chunks of {chunk}")
    print(f"A kept in memory: {'no, regenerated per block' if A._cache is None else 'yes'} "
          f"({A.rows:,} rows × {subspace_dim} per block = {A.rows * subspace_dim * 4 / 2**20:.0f} MiB)")
    print(f"dense A would need {n * subspace_dim * 4 / GIB:.1f} GiB (float32); "
          f"dense float64 A plus its pseudo-inverse {2 * n * subspace_dim * 8 / GIB:.1f} GiB")
    print(f"peak RSS before the metric {before:.2f} GiB, after {after:.2f} GiB")
    print(f"phi = {result.phi:.4g} after {result.iterations} L-BFGS-B iterations, "
          f"{result.evaluations} evaluations, {seconds:.0f} s")
    write_result("subspace_memory", {
        "model": model, "parameters": n, "subspace_dim": subspace_dim, "samples": samples, "chunk": chunk,
        "max_iter": max_iter, "dense_a_gib": n * subspace_dim * 4 / GIB, "peak_rss_before_gib": before,
        "peak_rss_after_gib": after, "seconds": seconds, "iterations": result.iterations, "evaluations": result.evaluations,
    })


if __name__ == "__main__":
    typer.run(main)
