"""How far each ascent of Metric 2.1's maximizer reaches, against iterations and starts, on real solutions:
seed 0 of the SB, LB and linear-scaling runs of a finished `dvc repro` (or of any workspace `--root`).

    python -m benchmarks.maximizer [--root .] [--iterations 40] [--starts 2] [--epsilon 1e-3]

For each solution, every ascent of lbgap.measures.ascent runs from each of `starts` seeded random
starts in the full-space box (f = mean cross-entropy over the whole training set, as the sharpness
stages measure it) for budgets of 5, 10, 20, … `iterations` iterations. Printed and written to
benchmarks/results/maximizer.json: φ reached per ascent, start count and budget, as a fraction of the
best φ any of them found (itself a lower bound on the maximum), with the seconds per evaluation; the
figure benchmarks/results/maximizer.png draws the curves. The defaults of `sharpness` in params.yaml
come from it (docs/measures.md quotes it).
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
from lbgap.params import read_params  # noqa: E402
from lbgap.measures.maximizer import Maximizer  # noqa: E402
from stages.inputs import load_inputs  # noqa: E402

app = typer.Typer(add_completion=False)

SOLUTIONS = {"SB": "models/sb", "LB": "models/lb", "linear scaling": "models/mitigation/linear_scaling"}


def _reach(histories: dict[str, list[float]], name: str, starts: int, k: int) -> float:
    """The largest f of ascent `name` from the first `starts` starts after `k` iterations of its history."""
    return max(h[min(k, len(h) - 1)] for key, h in histories.items() if key.split("#")[0] == name and int(key.split("#")[1]) < starts)


@app.command()
def main(root: Path = Path("."), iterations: int = 40, starts: int = 2, epsilon: float = 1e-3, seed: int = 0) -> None:
    raw = yaml.safe_load((root / "params.yaml").read_text())
    runtime = read_params(raw).runtime
    budgets = sorted({k for k in (5, 10, 20, 40, 80) if k <= iterations} | {iterations})
    rows, curves = [], {}
    for label, folder in SOLUTIONS.items():
        inputs = load_inputs(runtime, root / "data/dataset.npz", checkpoints={"runs": (root / folder, seed)})
        model = inputs.model
        model.load_state_dict(inputs.checkpoints["runs"][0].final)
        measure = lambda maximizer: sharpness_of_model(  # noqa: E731
            model, inputs.data.train, epsilon, None, chunk=runtime.eval_chunk, maximizer=maximizer, seed=seed)
        start = time.perf_counter()
        # L-BFGS-B's first k iterations do not depend on its budget (it only stops after the last), so one
        # long run gives every budget; Auto-PGD's step schedule does (checkpoints at fractions of the
        # budget), so it runs once per budget.
        lbfgsb = measure(Maximizer(("lbfgsb", "lbfgsb_log"), starts, iterations))
        apgd = {k: measure(Maximizer(("apgd",), starts, k)) for k in budgets}
        evaluations = lbfgsb.evaluations + sum(r.evaluations for r in apgd.values())
        seconds = time.perf_counter() - start
        loss_at_x = lbfgsb.loss_at_x
        reach = {  # (ascents, starts, k) → the largest f
            (name, s, k): _reach(lbfgsb.ascent_histories, name, s, k) for name in ("lbfgsb", "lbfgsb_log")
            for s in range(1, starts + 1) for k in budgets
        } | {("apgd", s, k): _reach(apgd[k].ascent_histories, "apgd", s, k) for s in range(1, starts + 1) for k in budgets}
        for s in range(1, starts + 1):
            for k in budgets:
                reach[("lbfgsb+apgd", s, k)] = max(reach[("lbfgsb", s, k)], reach[("apgd", s, k)])
        best = phi_of(max(reach.values()), loss_at_x)
        curves[label] = (loss_at_x, lbfgsb.ascent_histories, {k: apgd[k].ascent_histories for k in budgets}, best)
        print(f"{label}: f(x) = {loss_at_x:.3g}, best φ = {best:.4g}, {evaluations} evaluations in {seconds:.0f} s", flush=True)
        for (name, s, k), f in reach.items():
            fraction = phi_of(f, loss_at_x) / best if best > 0 else None
            rows.append({"solution": label, "ascents": name, "starts": s, "iterations": k, "phi": phi_of(f, loss_at_x),
                         "fraction_of_best": fraction})
        for name in ("lbfgsb", "lbfgsb_log", "apgd", "lbfgsb+apgd"):
            line = "  ".join(f"{k}: {phi_of(reach[(name, 1, k)], loss_at_x) / best:.3f}" for k in budgets)
            print(f"  {name:>11}, 1 start, fraction of the best φ after k iterations: {line}", flush=True)
        rows.append({"solution": label, "loss_at_x": loss_at_x, "best_phi": best,
                     "seconds_per_evaluation": round(seconds / evaluations, 4)})
    _figure(curves, iterations, RESULTS / "maximizer.png")
    write_result("maximizer", {"epsilon": epsilon, "iterations": iterations, "starts": starts, "seed": seed, "budgets": budgets,
                               "rows": rows})


def _figure(curves: dict, iterations: int, path: Path) -> None:
    """Per solution: φ reached / best φ against iterations — L-BFGS-B's histories as lines, Auto-PGD's
    longest run as a line and each budget's final value as a dot (its schedule depends on the budget)."""
    figure, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4), constrained_layout=True)
    colors = {"lbfgsb": "tab:blue", "lbfgsb_log": "tab:orange", "apgd": "tab:green"}
    for axis, (label, (loss_at_x, lbfgsb, apgd, best)) in zip(axes, curves.items()):
        longest = max(apgd)
        for key, history in [*lbfgsb.items(), *apgd[longest].items()]:
            name, start = key.split("#")
            axis.plot(range(len(history)), [phi_of(f, loss_at_x) / best for f in history], color=colors[name],
                      linestyle="-" if start == "0" else ":", label=name if start == "0" else None)
        for k, histories in apgd.items():
            axis.scatter([k], [phi_of(histories["apgd#0"][-1], loss_at_x) / best], color=colors["apgd"], zorder=3,
                         label="apgd, budget k" if k == min(apgd) else None)
        axis.axvline(10, color="grey", linewidth=0.8)
        axis.set(title=f"{label} (f(x) = {loss_at_x:.2g}, best φ {best:.3g})", xlabel="iterations per ascent",
                 ylabel="φ reached / best φ found", ylim=(0, 1.05), xlim=(0, iterations))
        axis.legend(title="start 0 solid, start 1 dotted", fontsize=8)
    figure.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    app()
