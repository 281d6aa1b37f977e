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
iterate with training loss ≤ `target_loss` — checked after every epoch and, in an epoch that starts
within `TARGET_GATE` × the target, after every ⌊updates / TARGET_CHECKS_PER_EPOCH⌋ updates — or at
`max_steps` updates without reaching it, or when its loss is no longer finite. Finished runs leave the
stack, so the cost follows the runs still training. In float64 a cell equals the runs trained one by one
with torch's own optimizers (tests/experiments/test_grid.py).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable, Literal, Mapping, Sequence

import numpy as np
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
from lbgap.train.loop import TARGET_CHECKS_PER_EPOCH, TARGET_GATE
from lbgap.train.together import State, evaluate_together

Optimizer = Literal["sgd", "adam"]


@dataclass(frozen=True)
class GridRun:
    learning_rate: float
    seed: int  # its initial point (the model passed for it) and its sample order


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


class StackedOptimizer:
    """SGD with momentum or Adam over tensors stacked along a leading run dimension (R, …), with one
    learning rate per run (a run whose rate is 0 stands still); `keep(index)` keeps only the runs at
    `index`, in that order."""

    def __init__(self, kind: Optimizer, learning_rates: torch.Tensor, momentum: float = 0.9,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.kind, self.learning_rates, self.momentum, self.betas, self.eps = kind, learning_rates, momentum, betas, eps
        self.state: dict[str, dict[str, torch.Tensor]] = {}
        self.steps = 0

    @torch.no_grad()
    def step(self, params: dict[str, torch.Tensor]) -> None:
        self.steps += 1
        for name, w in params.items():
            g, state = w.grad, self.state.setdefault(name, {})
            lr = self.learning_rates.to(w).view(-1, *([1] * (w.dim() - 1)))
            if self.kind == "sgd":
                buffer = state.setdefault("momentum", torch.zeros_like(w))
                buffer.mul_(self.momentum).add_(g)
                w.sub_(lr * buffer)
            else:
                beta1, beta2 = self.betas
                m = state.setdefault("m", torch.zeros_like(w)).mul_(beta1).add_(g, alpha=1 - beta1)
                v = state.setdefault("v", torch.zeros_like(w)).mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denominator = (v.sqrt() / math.sqrt(1 - beta2**self.steps)).add_(self.eps)
                w.sub_(lr / (1 - beta1**self.steps) * m / denominator)

    def preconditioner(self, position: int) -> State | None:
        """Adam's √v̂ + ε of the run at stack `position` after the last step (None for SGD or before a step)."""
        if self.kind != "adam" or not self.steps:
            return None
        correction = math.sqrt(1 - self.betas[1] ** self.steps)
        return {name: (state["v"][position].sqrt() / correction + self.eps).cpu().clone() for name, state in self.state.items()}

    def keep(self, index: torch.Tensor) -> None:
        self.learning_rates = self.learning_rates[index]
        self.state = {name: {k: v[index.to(v.device)] for k, v in state.items()} for name, state in self.state.items()}


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
) -> list[CellResult]:
    """Train `models[i]` (run `runs[i]`'s initial point) with `optimizer` at learning rate
    `runs[i].learning_rate` on batches of `batch_size` until each reaches `target_loss` (mean training
    cross-entropy, eval mode) or `max_steps` updates; `on_step(r)` after each stacked update, with r the
    runs it advanced. Returns one result per run, in order; the models are not changed."""
    if len(models) != len(runs) or not runs:
        raise ValueError(f"one model per run (got {len(models)} models, {len(runs)} runs)")
    n = len(data.train)
    if not 0 < batch_size <= n:
        raise ValueError(f"batch size must be in [1, {n}] (got {batch_size})")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be sgd or adam (got {optimizer!r})")
    if not max_steps >= 1 or not target_loss > 0:
        raise ValueError(f"max_steps must be ≥ 1 and target_loss > 0 (got {max_steps}, {target_loss})")
    device = data.train.x.device
    base = copy.deepcopy(models[0]).to("meta")
    params, buffers = stack_module_state([copy.deepcopy(m).train() for m in models])
    rates = torch.tensor([r.learning_rate for r in runs], dtype=torch.float64)
    step_of = StackedOptimizer(optimizer, rates.clone(), momentum, betas)
    generators = [torch.Generator().manual_seed(run.seed) for run in runs]
    stacked = list(range(len(runs)))  # run index at each stack position
    results: dict[int, CellResult] = {}
    latest = [math.inf] * len(runs)  # each run's last checked training loss (for the within-epoch gate)
    steps_per_epoch = n // batch_size
    every = max(1, steps_per_epoch // TARGET_CHECKS_PER_EPOCH)

    def loss_of(p: dict, b: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(base, (p, b), (x,)), y)

    batch_losses = vmap(loss_of, in_dims=(0, 0, 0, 0))

    def check(steps: int, positions: Sequence[int]) -> None:
        """Evaluate the training loss at the still-running stack `positions`; end the runs at the target,
        diverged, or at the step cap: record them and stop them (learning rate 0) until the stack is compacted."""
        if not positions:
            return
        train = evaluate_together(base, params, buffers, data.train, eval_chunk)
        ending = []
        for position in positions:
            latest[stacked[position]] = train[position].loss
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
                                                    step_of.preconditioner(position))
            step_of.learning_rates[position] = 0.0

    def compact() -> None:
        """Drop the ended runs from the stack, its optimizer state and the sample generators."""
        nonlocal params, buffers, stacked, generators
        keep = [p for p, i in enumerate(stacked) if i not in results]
        index = torch.tensor(keep, dtype=torch.long)
        params = {k: v.detach()[index.to(v.device)].requires_grad_() for k, v in params.items()}
        buffers = {k: v[index.to(v.device)] for k, v in buffers.items()}
        step_of.keep(index)
        stacked, generators = [stacked[p] for p in keep], [generators[p] for p in keep]

    steps = 0
    check(steps, range(len(stacked)))
    compact()
    while stacked:
        orders = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)  # (R, n)
        near = [p for p, i in enumerate(stacked) if latest[i] <= TARGET_GATE * target_loss]
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
            if step % every == 0 and step < steps_per_epoch:
                check(steps, [p for p in near if p in running])
        check(steps, [p for p, i in enumerate(stacked) if i not in results])
        compact()
    return [results[i] for i in range(len(runs))]


def stability_ratio(optimizer: Optimizer, learning_rate: float, sharpness: float, momentum: float = 0.9, beta1: float = 0.9) -> float:
    """The run's sharpness as a fraction of the largest its optimizer is stable at: λ_max(H) / ((2 + 2μ)/η)
    for SGD, λ_max(P⁻¹H) / ((2 + 2β1)/((1 − β1)η)) for Adam (`sharpness` the preconditioned value). Near 1: at
    the edge of stability; above 1 the quadratic model of the minimum says the run could not stay there."""
    edge = momentum_threshold(learning_rate, momentum) if optimizer == "sgd" else adam_threshold(learning_rate, beta1)
    return sharpness / edge


def measure_run(
    model: nn.Module, result: CellResult, optimizer: Optimizer, batch_size: int, x0: Mapping[str, torch.Tensor],
    data: DataSet, subset: Split, settings: CurvatureSettings, *, momentum: float = 0.9, beta1: float = 0.9,
) -> dict[str, float | int | str | bool]:
    """One row of the grid's table: the run (optimizer, batch size, η, seed), how it ended (reached, diverged,
    steps, epochs), its accuracies (%), generalization gap (points) and test loss, ‖x − x0‖ and, over
    `subset`, φ in the full space at `settings.epsilon` with its certificate's first check (levelled off),
    λ_max and tr H, the stability ratio (for Adam with λ_max of P⁻¹H) and the gradient noise scale B_simple.
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
    if optimizer == "adam":
        diagonal = flatten({name: result.preconditioner[name] for name in parameters_of(model)}).to(like)
        top = top_eigenvalues(preconditioned(matvec, diagonal), n, 1, iterations=lanczos.steps, seed=settings.curvature.seed, like=like)
        row["preconditioned_lambda_max"] = float(top[0])
        row["stability_ratio"] = stability_ratio(optimizer, result.run.learning_rate, float(top[0]), beta1=beta1)
    else:
        row["stability_ratio"] = stability_ratio(optimizer, result.run.learning_rate, row["lambda_max"], momentum=momentum)
    noise = settings.curvature.noise_scale
    if noise.batches:
        row["noise_scale"] = noise_scale(model, subset, small=noise.small, big=noise.big, batches=noise.batches, seed=settings.curvature.seed).b_simple
    return row


def _r_squared(design: np.ndarray, y: np.ndarray) -> float:
    """R² of the least-squares fit of y on the columns of `design` (a constant column included)."""
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coefficients
    return 1.0 - float(residual @ residual) / float(((y - y.mean()) ** 2).sum())


def _quadratic(*columns: np.ndarray) -> np.ndarray:
    """[1, each column, their squares and pairwise products]: a full quadratic in the columns."""
    terms = [np.ones_like(columns[0]), *columns, *(c * c for c in columns)]
    terms += [a * b for i, a in enumerate(columns) for b in columns[i + 1 :]]
    return np.stack(terms, axis=1)


def _best_exponent(log_lr: np.ndarray, log_batch: np.ndarray, y: np.ndarray, exponents: np.ndarray) -> tuple[float, float]:
    fits = [_r_squared(_quadratic(log_lr - k * log_batch), y) for k in exponents]
    best = int(np.argmax(fits))
    return float(exponents[best]), fits[best]


def temperature_fit(
    learning_rates: np.ndarray, batch_sizes: np.ndarray, y: np.ndarray, *, resamples: int, confidence: float, seed: int,
    exponents: np.ndarray = np.linspace(0.0, 2.0, 201),
) -> dict[str, float]:
    """Does y (e.g. test accuracy of runs at the target loss) depend on η and B only through the
    "temperature" η / B^k? y is modelled as a quadratic g(log η − k·log B), and k is the exponent (on the grid
    `exponents`) with the best least-squares fit: k = 1 is the linear scaling rule, k = ½ the square-root rule,
    k = 0 no dependence on B at all. Returns k with its percentile-bootstrap interval (runs resampled, as
    if independent), and the R² of y as a quadratic in the ratio at k, in log η alone, in log B alone and in
    both (with their product): a ratio that explains about what both explain is a sufficient statistic here."""
    log_lr, log_batch, y = np.log(learning_rates), np.log(batch_sizes), np.asarray(y, dtype=float)
    if len(y) < 7 or len(np.unique(log_batch)) < 2 or len(np.unique(log_lr)) < 2:
        raise ValueError("the fit needs at least 7 runs over at least 2 learning rates and 2 batch sizes")
    k, r2_ratio = _best_exponent(log_lr, log_batch, y, exponents)
    generator = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        index = generator.integers(0, len(y), len(y))
        if len(np.unique(log_batch[index])) > 1 and len(np.unique(log_lr[index])) > 1:
            draws.append(_best_exponent(log_lr[index], log_batch[index], y[index], exponents)[0])
    low, high = _percentile_interval(draws, confidence)
    return {"k": k, "k_low": low, "k_high": high, "runs": int(len(y)), "r2_ratio": r2_ratio,
            "r2_lr": _r_squared(_quadratic(log_lr), y), "r2_batch": _r_squared(_quadratic(log_batch), y),
            "r2_both": _r_squared(_quadratic(log_lr, log_batch), y)}


def _percentile_interval(draws: Sequence[float], confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(np.asarray(draws, dtype=float), [tail, 1 - tail])
    return float(low), float(high)


def batch_effect(
    learning_rates: np.ndarray, batch_sizes: np.ndarray, y: np.ndarray, k: float, *, resamples: int, confidence: float, seed: int,
) -> dict[str, float]:
    """Keskar et al.'s claim on equal footing: with the temperature log(η / B^k) held fixed (a quadratic in it,
    as in `temperature_fit`), how y changes per doubling of the batch size — the coefficient of log₂ B in
    y ~ quadratic(log η − k·log B) + c·log₂ B, with its percentile-bootstrap interval (runs resampled). For y
    the test accuracy of runs at one training loss, c < 0 with an interval below 0 says larger batches still
    generalize worse at equal temperature and equal loss; an interval around 0 says the temperature explains it."""
    log_lr, log_batch, y = np.log(learning_rates), np.log(batch_sizes), np.asarray(y, dtype=float)

    def coefficient(index: np.ndarray) -> float:
        design = np.column_stack([_quadratic(log_lr[index] - k * log_batch[index]), log_batch[index] / np.log(2)])
        coefficients, *_ = np.linalg.lstsq(design, y[index], rcond=None)
        return float(coefficients[-1])

    everything = np.arange(len(y))
    generator = np.random.default_rng(seed)
    draws = [coefficient(generator.integers(0, len(y), len(y))) for _ in range(resamples)]
    low, high = _percentile_interval(draws, confidence)
    return {"per_doubling": coefficient(everything), "low": low, "high": high, "k": k, "runs": int(len(y))}


def critical_batch(batch_sizes: np.ndarray, steps: np.ndarray, *, resamples: int, confidence: float, seed: int) -> dict[str, float]:
    """Steps to the target against the batch size, each batch size's fewest steps over its learning rates
    (Shallue et al. 2019: the best-tuned run per batch size), fitted as S(B) = S_min·(1 + B_crit / B)
    (McCandlish et al. 2018): S_min, the fewest steps any batch size could need, and B_crit, the batch size
    above which doubling it no longer halves the steps (perfect scaling for B ≪ B_crit, diminishing
    returns beyond). `batch_sizes`, `steps`: one entry per run that reached the target. The interval
    resamples runs within each batch size and takes each resample's minimum again."""
    batch_sizes, steps = np.asarray(batch_sizes, dtype=float), np.asarray(steps, dtype=float)
    sizes = np.unique(batch_sizes)
    if len(sizes) < 3:
        raise ValueError("the fit needs runs at 3 or more batch sizes")
    groups = [steps[batch_sizes == b] for b in sizes]

    def fit(fewest: np.ndarray) -> tuple[float, float]:
        (s_min, slope), *_ = np.linalg.lstsq(np.column_stack([np.ones_like(sizes), 1 / sizes]), fewest, rcond=None)
        return float(s_min), float(slope / s_min) if s_min > 0 else float("inf")

    s_min, b_crit = fit(np.array([g.min() for g in groups]))
    generator = np.random.default_rng(seed)
    draws = [fit(np.array([generator.choice(g, len(g)).min() for g in groups]))[1] for _ in range(resamples)]
    low, high = _percentile_interval(draws, confidence)
    return {"steps_min": s_min, "critical_batch": b_crit, "critical_batch_low": low, "critical_batch_high": high,
            "batch_sizes": [int(b) for b in sizes], "fewest_steps": [float(g.min()) for g in groups]}
