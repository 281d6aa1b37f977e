"""How far each ascent of Metric 2.1's maximizer reaches, against iterations and starts, on real solutions:
seed 0 of the SB, LB and linear-scaling runs of a finished `dvc repro` (or of any workspace `--root`).

    python -m benchmarks.maximizer [--root .] [--iterations 40] [--starts 3] [--epsilon 1e-3]

For each solution, every ascent of lbgap.measures.ascent runs `iterations` iterations from each of
`starts` seeded random starts in the full-space box (f = mean cross-entropy over the whole training
set, as the sharpness stages measure it), and the largest f after each iteration is kept. Printed and
written to benchmarks/results/maximizer.json: φ reached per ascent and start count after 5, 10, 20, …
iterations, as a fraction of the best φ any of them found, with the evaluations and seconds it took;
the figure benchmarks/results/maximizer.png draws the curves. The defaults of `sharpness` in
params.yaml are chosen where these curves have levelled off (docs/measures.md quotes them).
"""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import typer  # noqa: E402
import yaml  # noqa: E402

from benchmarks.record import RESULTS, write_result  # noqa: E402
from lbgap.measures.sharpness import phi_of, sharpness_of_model  # noqa: E402
from lbgap.params.core import RuntimeParams  # noqa: E402
from lbgap.measures.ascent import ASCENTS, Maximizer  # noqa: E402
from stages.common import load_inputs  # noqa: E402

app = typer.Typer(add_completion=False)

SOLUTIONS = {"SB": "models/sb", "LB": "models/lb", "linear scaling": "models/mitigation/linear_scaling"}


def _reach(histories: dict[str, list[float]], names: tuple[str, ...], starts: int, k: int) -> float:
    """The largest f of ascents `names` from the first `starts` starts after `k` iterations."""
    return max(h[min(k, len(h) - 1)] for key, h in histories.items() if key.split("#")[0] in names and int(key.split("#")[1]) < starts)


@app.command()
def main(root: Path = Path("."), iterations: int = 40, starts: int = 3, epsilon: float = 1e-3, seed: int = 0) -> None:
    raw = yaml.safe_load((root / "params.yaml").read_text())
    runtime = RuntimeParams.parse(raw)
    budgets = sorted({k for k in (1, 2, 5, 10, 15, 20, 30, 40, 60, 80) if k <= iterations} | {iterations})
    combos = {name: (name,) for name in tuple(ASCENTS)} | {"all three": tuple(ASCENTS)}
    rows, curves = [], {}
    for label, folder in SOLUTIONS.items():
        inputs = load_inputs(runtime, root / "data/dataset.npz", checkpoints={"runs": (root / folder, seed)})
        model = inputs.model
        model.load_state_dict(inputs.checkpoints["runs"][0].final)
        start = time.perf_counter()
        result = sharpness_of_model(
            model, inputs.data.train, epsilon, None, chunk=runtime.eval_chunk,
            maximizer=Maximizer(tuple(ASCENTS), starts, iterations), seed=seed,
        )
        seconds = time.perf_counter() - start
        per_evaluation = seconds / result.evaluations
        best = result.phi
        curves[label] = (result.loss_at_x, result.ascents, best)
        print(f"{label}: f(x) = {result.loss_at_x:.3g}, best φ = {best:.4g} by {result.found_by}, "
              f"{result.evaluations} evaluations in {seconds:.0f} s", flush=True)
        for combo, names in combos.items():
            for s in range(1, starts + 1):
                for k in budgets:
                    phi = phi_of(_reach(result.ascents, names, s, k), result.loss_at_x)
                    # evaluations: L-BFGS-B takes ≈ 1.1 per iteration, Auto-PGD exactly 1, plus each start
                    evaluations = len(names) * s * (k + 1)
                    rows.append({
                        "solution": label, "ascents": combo, "starts": s, "iterations": k, "phi": phi,
                        "fraction_of_best": phi / best if best > 0 else None, "evaluations_approx": evaluations,
                        "seconds_approx": round(evaluations * per_evaluation, 2),
                    })
        for combo in combos:
            line = "  ".join(
                f"{r['iterations']}:{r['fraction_of_best']:.3f}" for r in rows
                if r["solution"] == label and r["ascents"] == combo and r["starts"] == starts and r["iterations"] in budgets
            )
            print(f"  {combo:>10}, {starts} starts, fraction of best after k iterations: {line}", flush=True)
        rows.append({"solution": label, "loss_at_x": result.loss_at_x, "best_phi": best, "found_by": result.found_by,
                     "seconds_per_evaluation": round(per_evaluation, 4)})
    _figure(curves, iterations, RESULTS / "maximizer.png")
    write_result("maximizer", {"epsilon": epsilon, "iterations": iterations, "starts": starts, "seed": seed, "rows": rows})


def _figure(curves: dict, iterations: int, path: Path) -> None:
    figure, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4), constrained_layout=True)
    colors = dict(zip(tuple(ASCENTS), ("tab:blue", "tab:orange", "tab:green")))
    for axis, (label, (loss_at_x, histories, best)) in zip(axes, curves.items()):
        for key, history in histories.items():
            name, start = key.split("#")
            axis.plot(range(len(history)), [phi_of(f, loss_at_x) for f in history], color=colors[name],
                      linestyle="-" if start == "0" else ":", label=name if start == "0" else None)
        axis.axvline(10, color="grey", linewidth=0.8)
        axis.set(title=f"{label} (f(x) = {loss_at_x:.2g}, best φ {best:.3g})", xlabel="iterations", ylabel="φ reached",
                 yscale="symlog", xlim=(0, iterations))
        axis.legend(title="start 0 solid, others dotted", fontsize=8)
    figure.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    app()
