"""One cell of a learning-rate × batch-size grid: every (learning rate, seed) run of one optimizer at one
batch size, trained at once, each until its training loss first reaches a target.

The runs are stacked (`torch.func.stack_module_state`) and stepped by one vmapped forward/backward, as
`lbgap.train.together` stacks seeds; what differs is that each run has its own learning rate, so the
optimizer is written here over stacked tensors with the learning rate as a per-run factor:

- SGD with heavy-ball momentum μ, as `torch.optim.SGD(momentum=μ)`: b ← μ·b + g (b = g at the first
  step), w ← w − η·b;
- Adam, as `torch.optim.Adam`: m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g²,
  w ← w − η/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε).

Each run keeps its own initial point and sample order (both from its seed, drawn as `lbgap.train.loop`
draws them, so runs of one seed share x0 and batches and differ only in η) and ends at its first checked
iterate with training loss ≤ `target_loss` — checked after every epoch and, in an epoch that starts near
it, within the epoch as `lbgap.train.loop` checks (`near_target`, `checked_updates`) — or at
`max_steps` updates without reaching it, or when its loss is no longer finite. Finished runs leave the
stack, so the cost follows the runs still training. In float64 a cell equals the runs trained one by one
with torch's own optimizers (tests/experiments/test_grid.py).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable, Collection, Literal, Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F

from lbgap.data import DataSet, Split
from lbgap.experiments.curvature import CurvatureSettings
from lbgap.measures.noise_scale import noise_scale
from lbgap.measures.hessian import hessian_operator, hutchinson_trace, top_eigenvalues
from lbgap.measures.preconditioned import adam_threshold, momentum_threshold, preconditioned
from lbgap.measures.sharpness import sharpness_of_model
from lbgap.tensors import distance, flatten, parameters_of
from lbgap.train.loop import checked_updates, near_target
from lbgap.train.together import State, evaluate_together

Optimizer = Literal["sgd", "adam"]


@dataclass(frozen=True)
class GridRun:
    learning_rate: float
    seed: int  # its initial point (the model passed for it), its sample order and its dropout masks
    weight_decay: float = 0.0  # L2 coefficient added to the gradient, g + λ·w (torch's `weight_decay`)


@dataclass(frozen=True)
class CellResult:
    run: GridRun
    reached: bool  # its training loss reached the target within max_steps
    diverged: bool  # its training loss stopped being finite first
    steps: int  # updates done when it ended
    train_loss: float  # full training set, eval mode, where it ended
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    state: State  # its weights and buffers where it ended (CPU)
    # Adam's diagonal preconditioner there, √v̂ + ε per weight (parameter name → tensor, CPU); None for SGD
    preconditioner: State | None = None
    milestone_steps: int | None = None  # updates at its first check with training loss ≤ the milestone (None: never)


class StackedOptimizer:
    """SGD with momentum or Adam over tensors stacked along a leading run dimension (R, …), with one
    learning rate and one weight decay per run (a run whose rate is 0 stands still); `keep(index)` keeps
    only the runs at `index`, in that order."""

    def __init__(self, kind: Optimizer, learning_rates: torch.Tensor, momentum: float = 0.9,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decays: torch.Tensor | None = None) -> None:
        self.kind, self.learning_rates, self.momentum, self.betas, self.eps = kind, learning_rates, momentum, betas, eps
        self.weight_decays = torch.zeros_like(learning_rates) if weight_decays is None else weight_decays
        self.state: dict[str, dict[str, torch.Tensor]] = {}
        self.steps = 0

    @torch.no_grad()
    def step(self, params: dict[str, torch.Tensor]) -> None:
        self.steps += 1
        for name, w in params.items():
            g, state = w.grad, self.state.setdefault(name, {})
            lr = self.learning_rates.to(w).view(-1, *([1] * (w.dim() - 1)))
            if self.weight_decays.any():  # coupled L2, as torch's SGD and Adam apply `weight_decay`
                g = g + self.weight_decays.to(w).view(-1, *([1] * (w.dim() - 1))) * w
            if not state:  # the first step: zero moments
                state.update({"momentum": torch.zeros_like(w)} if self.kind == "sgd" else {"m": torch.zeros_like(w), "v": torch.zeros_like(w)})
            if self.kind == "sgd":
                buffer = state["momentum"]
                buffer.mul_(self.momentum).add_(g)
                w.sub_(lr * buffer)
            else:
                beta1, beta2 = self.betas
                m = state["m"].mul_(beta1).add_(g, alpha=1 - beta1)
                v = state["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denominator = (v.sqrt() / math.sqrt(1 - beta2**self.steps)).add_(self.eps)
                w.sub_(lr / (1 - beta1**self.steps) * m / denominator)

    def preconditioner(self, position: int) -> State | None:
        """Adam's √v̂ + ε of the run at stack `position` after the last step (None for SGD or before a step)."""
        if self.kind != "adam" or not self.steps:
            return None
        correction = math.sqrt(1 - self.betas[1] ** self.steps)
        return {name: (state["v"][position].sqrt() / correction + self.eps).cpu().clone() for name, state in self.state.items()}

    def keep(self, index: torch.Tensor) -> None:
        self.learning_rates, self.weight_decays = self.learning_rates[index], self.weight_decays[index]
        self.state = {name: {k: v[index.to(v.device)] for k, v in state.items()} for name, state in self.state.items()}


def check_stackable(model: nn.Module, runs: int) -> bool:
    """Whether `model` has dropout; refused (ValueError) for more than one run trained together: vmap cannot
    split one global dropout stream per run (lbgap.train.together), so such networks train one run at a
    time, each drawing its masks from a stream seeded by its seed."""
    dropout = any(isinstance(m, nn.modules.dropout._DropoutNd) for m in model.modules())
    if dropout and runs > 1:
        raise ValueError("networks with dropout train one run at a time")
    return dropout


def train_cell(
    models: Sequence[nn.Module],
    runs: Sequence[GridRun],
    data: DataSet,
    *,
    optimizer: Optimizer,
    batch_size: int,
    target_loss: float,
    max_steps: int,
    momentum: float = 0.9,
    betas: tuple[float, float] = (0.9, 0.999),
    eval_chunk: int = 10_000,
    on_step: Callable[[int], None] | None = None,
    milestone: float | None = None,
    watched: Collection[int] = (),
    watch_every: int = 0,
    on_watch: Callable[[int, int, float, State, State | None], None] | None = None,
) -> list[CellResult]:
    """Train `models[i]` (run `runs[i]`'s initial point) with `optimizer` at learning rate
    `runs[i].learning_rate` on batches of `batch_size` until each reaches `target_loss` (mean training
    cross-entropy, eval mode) or `max_steps` updates; `on_step(r)` after each stacked update, with r the
    runs it advanced. `milestone`: a training loss above the target whose first check each run records
    (`milestone_steps`; checks come after every epoch, so it is reached within that epoch). Returns one
    result per run, in order; the models are not changed. `on_watch(i, epoch, train_loss, weights, preconditioner)`:
    for each run index i in `watched` still training, at its start (epoch 0) and after every `watch_every`-th
    epoch, with its weights and Adam's √v̂ + ε then (CPU; None for SGD and before the first step); whatever it
    computes must leave torch's global random stream alone (dropout masks come from it)."""
    if len(models) != len(runs) or not runs:
        raise ValueError(f"one model per run (got {len(models)} models, {len(runs)} runs)")
    dropout = check_stackable(models[0], len(runs))
    n = len(data.train)
    if not 0 < batch_size <= n:
        raise ValueError(f"batch size must be in [1, {n}] (got {batch_size})")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be sgd or adam (got {optimizer!r})")
    if not max_steps >= 1 or not target_loss > 0:
        raise ValueError(f"max_steps must be ≥ 1 and target_loss > 0 (got {max_steps}, {target_loss})")
    if on_watch is not None and watched and watch_every < 1:
        raise ValueError(f"watch_every must be ≥ 1 epoch (got {watch_every})")
    device = data.train.x.device
    base = copy.deepcopy(models[0]).to("meta")
    params, buffers = stack_module_state([copy.deepcopy(m).train() for m in models])
    rates = torch.tensor([r.learning_rate for r in runs], dtype=torch.float64)
    decays = torch.tensor([r.weight_decay for r in runs], dtype=torch.float64)
    step_of = StackedOptimizer(optimizer, rates.clone(), momentum, betas, weight_decays=decays)
    generators = [torch.Generator().manual_seed(run.seed) for run in runs]
    stacked = list(range(len(runs)))  # run index at each stack position
    results: dict[int, CellResult] = {}
    latest = [math.inf] * len(runs)  # each run's last checked training loss (for the within-epoch gate)
    milestones: dict[int, int] = {}  # run index → updates at its first check at or below `milestone`
    steps_per_epoch = n // batch_size
    within = checked_updates(steps_per_epoch)

    def loss_of(p: dict, b: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(base, (p, b), (x,)), y)

    batch_losses = vmap(loss_of, in_dims=(0, 0, 0, 0), randomness="different" if dropout else "error")

    def check(steps: int, positions: Sequence[int]) -> None:
        """Evaluate the training loss at the still-running stack `positions`; end the runs at the target,
        diverged, or at the step cap: record them and stop them (learning rate 0) until the stack is compacted."""
        if not positions:
            return
        train = evaluate_together(base, params, buffers, data.train, eval_chunk)
        ending = []
        for position in positions:
            latest[stacked[position]] = train[position].loss
            if milestone is not None and train[position].loss <= milestone:
                milestones.setdefault(stacked[position], steps)
            if train[position].loss <= target_loss or not math.isfinite(train[position].loss) or steps >= max_steps:
                ending.append(position)
        if not ending:
            return
        test = evaluate_together(base, params, buffers, data.test, eval_chunk)
        for position in ending:
            state = {k: v[position].detach().cpu().clone() for k, v in {**params, **buffers}.items()}
            a, b = train[position], test[position]
            results[stacked[position]] = CellResult(runs[stacked[position]], a.loss <= target_loss, not math.isfinite(a.loss),
                                                    steps, a.loss, a.accuracy, b.loss, b.accuracy, state,
                                                    step_of.preconditioner(position), milestones.get(stacked[position]))
            step_of.learning_rates[position] = 0.0

    def watch(steps: int) -> None:
        """`on_watch` for the watched runs still training, at an epoch's end (or the start) every `watch_every` epochs."""
        epoch = steps // steps_per_epoch
        if on_watch is None or not watched or steps % steps_per_epoch or epoch % watch_every:
            return
        for position, i in enumerate(stacked):
            if i in watched and i not in results:
                state = {k: v[position].detach().cpu().clone() for k, v in {**params, **buffers}.items()}
                on_watch(i, epoch, latest[i], state, step_of.preconditioner(position))

    def compact() -> None:
        """Drop the ended runs from the stack, its optimizer state and the sample generators."""
        nonlocal params, buffers, stacked, generators
        keep = [p for p, i in enumerate(stacked) if i not in results]
        index = torch.tensor(keep, dtype=torch.long)
        params = {k: v.detach()[index.to(v.device)].requires_grad_() for k, v in params.items()}
        buffers = {k: v[index.to(v.device)] for k, v in buffers.items()}
        step_of.keep(index)
        stacked, generators = [stacked[p] for p in keep], [generators[p] for p in keep]

    # dropout masks come from torch's global stream: seeded by the run's seed, and the caller's stream left as it was
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        if dropout:
            torch.manual_seed(runs[0].seed)
        steps = 0
        check(steps, range(len(stacked)))
        watch(steps)
        compact()
        while stacked:
            orders = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)  # (R, n)
            near = [p for p, i in enumerate(stacked) if near_target(latest[i], target_loss)]
            for step, start in enumerate(range(0, n - batch_size + 1, batch_size), start=1):
                index = orders[:, start : start + batch_size]
                base.train()  # a check evaluated in eval mode
                losses = batch_losses(params, buffers, data.train.x[index], data.train.y[index])
                for w in params.values():
                    w.grad = None
                losses.sum().backward()  # runs do not interact: each slice gets its own mean loss's gradient
                step_of.step(params)
                steps += 1
                if on_step is not None:
                    on_step(sum(1 for i in stacked if i not in results))
                running = [p for p, i in enumerate(stacked) if i not in results]
                if steps >= max_steps:
                    check(steps, running)
                    break
                if step in within and near:
                    check(steps, [p for p in near if p in running])
            check(steps, [p for p, i in enumerate(stacked) if i not in results])
            watch(steps)
            compact()
    return [results[i] for i in range(len(runs))]


def stability_ratio(optimizer: Optimizer, learning_rate: float, sharpness: float, momentum: float = 0.9, beta1: float = 0.9) -> float:
    """The run's sharpness as a fraction of the largest its optimizer is stable at: λ_max(H) / ((2 + 2μ)/η)
    for SGD, λ_max(P⁻¹H) / ((2 + 2β1)/((1 − β1)η)) for Adam (`sharpness` the preconditioned value). Near 1: at
    the edge of stability; above 1 the quadratic model of the minimum says the run could not stay there."""
    edge = momentum_threshold(learning_rate, momentum) if optimizer == "sgd" else adam_threshold(learning_rate, beta1)
    return sharpness / edge


def training_sharpness(model: nn.Module, subset: Split, batch_size: int, optimizer: Optimizer, preconditioner: State | None,
                       settings: CurvatureSettings) -> float:
    """λ_max of the loss training descends at `model`'s weights (for Adam of P⁻¹H, P = `preconditioner`, Adam's
    √v̂ + ε; ε everywhere when None, as before Adam's first step): the mean over batches of `batch_size`
    samples of `subset`, BatchNorm normalizing each with its own statistics — the subset cut into batches of
    the run's size (all of it when smaller). Lanczos, `settings.curvature.lanczos.steps` iterations."""
    like = flatten(parameters_of(model))
    batches = max(1, len(subset) // batch_size)
    size = min(batch_size, len(subset))
    trained, n = hessian_operator(model, Split(subset.x[: batches * size], subset.y[: batches * size]), size, batch_statistics=True)
    if optimizer == "adam":
        preconditioner = preconditioner or {name: torch.full_like(p, 1e-8) for name, p in parameters_of(model).items()}
        diagonal = flatten({name: preconditioner[name] for name in parameters_of(model)}).to(like)
        trained = preconditioned(trained, diagonal)
    curvature = settings.curvature
    return float(top_eigenvalues(trained, n, 1, iterations=curvature.lanczos.steps, seed=curvature.seed, like=like)[0])


def measure_run(
    model: nn.Module, result: CellResult, optimizer: Optimizer, batch_size: int, x0: Mapping[str, torch.Tensor],
    data: DataSet, subset: Split, settings: CurvatureSettings, *, momentum: float = 0.9, beta1: float = 0.9,
) -> dict[str, float | int | str | bool]:
    """One row of the grid's table: the run (optimizer, batch size, η, seed), how it ended (reached, diverged,
    steps, epochs), its accuracies (%), generalization gap (points) and test loss, ‖x − x0‖ and, over
    `subset`, φ in the full space at `settings.epsilon` with its certificate's first check (levelled off),
    λ_max and tr H (eval mode, as every measure of the study), the training sharpness — λ_max of the loss
    training descends, the mean over batches of `batch_size` subset samples with BatchNorm on each batch's
    statistics (for Adam of P⁻¹H) — with its stability ratio, and the gradient noise scale B_simple.
    `model` is left with the run's weights. A diverged run gets its ending only."""
    row: dict[str, float | int | str | bool] = {
        "optimizer": optimizer, "batch_size": batch_size, "learning_rate": result.run.learning_rate, "seed": result.run.seed,
        "reached": result.reached, "diverged": result.diverged, "steps": result.steps,
        "epochs": result.steps / (len(data.train) // batch_size), "train_loss": result.train_loss,
        "train_accuracy": 100 * result.train_accuracy, "test_accuracy": 100 * result.test_accuracy,
        "gap": 100 * (result.train_accuracy - result.test_accuracy), "test_loss": result.test_loss,
    }
    if result.diverged:
        return row
    model.load_state_dict(result.state)
    row["distance_from_x0"] = distance(parameters_of(model), x0)
    chunk = settings.eval_chunk
    phi = sharpness_of_model(model, subset, settings.epsilon, chunk=chunk, maximizer=settings.maximizer, seed=settings.curvature.seed)
    row.update(phi=phi.phi, phi_levelled_off=phi.levelled_off)
    matvec, n = hessian_operator(model, subset, chunk)
    like = flatten(parameters_of(model))
    lanczos = settings.curvature.lanczos
    row["lambda_max"] = float(top_eigenvalues(matvec, n, 1, iterations=lanczos.steps, seed=settings.curvature.seed, like=like)[0])
    row["trace"] = hutchinson_trace(matvec, n, tol=settings.curvature.trace.tol, min_probes=min(10, settings.curvature.trace.max_probes),
                                    max_probes=settings.curvature.trace.max_probes, seed=settings.curvature.seed, like=like).trace
    edge = training_sharpness(model, subset, batch_size, optimizer, result.preconditioner, settings)
    row["training_sharpness"] = edge  # λ_max of the training loss's Hessian (Adam: of P⁻¹H)
    row["stability_ratio"] = stability_ratio(optimizer, result.run.learning_rate, edge, momentum=momentum, beta1=beta1)
    noise = settings.curvature.noise_scale
    if noise.batches:
        row["noise_scale"] = noise_scale(model, subset, small=noise.small, big=noise.big, batches=noise.batches, seed=settings.curvature.seed).b_simple
    return row


FIRST_SEED = 2000  # the grid's runs draw x0 and sample orders from 2000, 2001, …: none is a run reported elsewhere


def grid_cell(
    new_model: Callable[[int], nn.Module], data: DataSet, subset: Split, settings: CurvatureSettings, *,
    optimizer: Optimizer, batch_size: int, learning_rates: Sequence[float], seeds: int, target_loss: float, max_epochs: int,
    momentum: float, betas: tuple[float, float], stacked: bool, edge_every: int = 0, on_run: Callable[[dict], None] | None = None,
) -> tuple[list[dict], list[dict]]:
    """Every (learning rate, seed) run of one optimizer at one batch size trained to `target_loss` (at most
    `max_epochs` epochs of the batch size) and measured where it ended (`measure_run`): one row per run, in
    learning-rate then seed order. `stacked`: all runs in one vmapped step, else one after the other (the
    same trainer, one run at a time). `new_model(seed)`: the network with its initial point from `seed`.
    `edge_every` (epochs; 0: none): the first seed's runs also record their training sharpness and stability
    ratio (`training_sharpness`, `stability_ratio`) at the start, every `edge_every` epochs while they train
    and where they ended (`end` true, its epochs fractional) — one trace row each (learning rate, seed, epoch,
    training loss, sharpness, ratio, end, whether the run reached the target); returned second, by run and
    epoch. Adam has no preconditioner before its first step, so its start has sharpness and ratio NaN."""
    runs = [GridRun(lr, FIRST_SEED + s) for lr in learning_rates for s in range(seeds)]
    max_steps = max_epochs * (len(data.train) // batch_size)
    watched = [i for i, run in enumerate(runs) if run.seed == FIRST_SEED] if edge_every else []
    traces: list[dict] = []
    probe = new_model(FIRST_SEED)  # a separate module: the trace loads each watched run's weights into it

    def on_watch(i: int, epoch: int, train_loss: float, weights: State, preconditioner: State | None) -> None:
        edge = ratio = math.nan  # Adam before its first step: no P, so no P⁻¹H and no threshold to hold it to
        if optimizer == "sgd" or preconditioner is not None:
            probe.load_state_dict(weights)
            edge = training_sharpness(probe, subset, batch_size, optimizer, preconditioner, settings)
            ratio = stability_ratio(optimizer, runs[i].learning_rate, edge, momentum=momentum, beta1=betas[0])
        traces.append({"learning_rate": runs[i].learning_rate, "seed": runs[i].seed, "epoch": epoch, "train_loss": train_loss,
                       "training_sharpness": edge, "stability_ratio": ratio, "end": False})

    def train(chunk: Sequence[int]) -> list[CellResult]:
        return train_cell(
            [new_model(runs[i].seed) for i in chunk], [runs[i] for i in chunk], data, optimizer=optimizer, batch_size=batch_size,
            target_loss=target_loss, max_steps=max_steps, momentum=momentum, betas=betas, eval_chunk=settings.eval_chunk,
            watched=[position for position, i in enumerate(chunk) if i in watched], watch_every=edge_every,
            on_watch=lambda position, *point: on_watch(chunk[position], *point))

    indices = range(len(runs))
    results = train(indices) if stacked else [result for i in indices for result in train([i])]
    rows, model = [], new_model(FIRST_SEED)
    for i, result in enumerate(results):
        x0 = {name: p.detach().clone() for name, p in new_model(result.run.seed).named_parameters()}
        row = measure_run(model, result, optimizer, batch_size, x0, data, subset, settings, momentum=momentum, beta1=betas[0])
        rows.append(row)
        if i in watched:  # where it ended, as measure_run measured it (a diverged run has no sharpness)
            traces.append({"learning_rate": result.run.learning_rate, "seed": result.run.seed, "epoch": row["epochs"],
                           "train_loss": row["train_loss"], "training_sharpness": row.get("training_sharpness", math.nan),
                           "stability_ratio": row.get("stability_ratio", math.nan), "end": True})
        if on_run is not None:
            on_run(row)
    reached = {(row["learning_rate"], row["seed"]): bool(row["reached"]) for row in rows}
    for point in traces:
        point["reached"] = reached[point["learning_rate"], point["seed"]]
    traces.sort(key=lambda point: (point["learning_rate"], point["seed"], point["end"], point["epoch"]))  # stacked runs interleave
    return rows, traces
