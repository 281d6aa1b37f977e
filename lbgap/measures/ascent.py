"""Ascents in a box: lower bounds on max_{|y_i| ≤ h_i} f(y), the inner maximum of Metric 2.1.

Every ascent returns the largest f it evaluated, which is a lower bound on the maximum, never more.
They fail in different ways, so Metric 2.1 takes the largest of several (lbgap.measures.sharpness):

- `lbfgsb`, the paper's: scipy's L-BFGS-B on −f. On a box its first step is capped at length 1 and,
  once coordinates sit on their bounds, the line search rarely extrapolates; −f is concave along the
  ascent, so curvature pairs are skipped and the step scale never adapts. Its reach then scales with
  ‖∇f‖: at a solution with a small training loss (small gradients) it stops far short of the maximum.
- `lbfgsb_log`: L-BFGS-B on −log f. Same argmax (f > 0, as a cross-entropy is); the gradient ∇f / f
  does not shrink with the loss.
- `apgd`: Auto-PGD (Croce & Hein, ICML 2020), as Andriushchenko et al. (ICML 2023) use it for
  worst-case sharpness: projected sign-gradient steps of 2 h_i, momentum 0.75, and the step halved (and
  the search restarted from the best point) at checkpoints where fewer than 75 % of the steps since the
  last one raised f or the best f has not moved. Sign steps do not depend on the size of ∇f at all.

Coordinates are float64 numpy vectors (p,), as scipy wants them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.optimize import Bounds, minimize

# y (p,) float64 → f(y), ∂f/∂y (p,) float64
Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


@dataclass
class Ascent:
    """One ascent's record. `history[k]`: the largest f after k iterations (history[0]: at the start)."""

    best_f: float
    best_y: np.ndarray = field(repr=False)
    history: list[float]
    evaluations: int
    message: str
    stationary: bool = False  # it stopped at a point of zero projected gradient: a local maximum in the box

    @property
    def iterations(self) -> int:
        return len(self.history) - 1


class _Tracked:
    """The objective, remembering the largest f it returned, where, and how often it was called."""

    def __init__(self, objective: Objective):
        self.objective = objective
        self.best_f = -np.inf
        self.best_y: np.ndarray | None = None
        self.evaluations = 0

    def __call__(self, y: np.ndarray) -> tuple[float, np.ndarray]:
        f, grad = self.objective(y)
        self.evaluations += 1
        if f > self.best_f:
            self.best_f, self.best_y = f, y.copy()
        return f, grad


def lbfgsb(objective: Objective, half: np.ndarray, y0: np.ndarray, iterations: int, *, log: bool = False) -> Ascent:
    """`iterations` L-BFGS-B iterations on −f (or −log f) in the box |y| ≤ `half`, from `y0`.

    The tolerances are zero: near a minimizer of f the ascent starts on a flat region where scipy's
    default tolerances end the search after one iteration. It still ends early when the line search
    can make no progress (the message says so)."""
    tracked = _Tracked(objective)
    first: list[float] = []

    def negative(y: np.ndarray) -> tuple[float, np.ndarray]:
        f, grad = tracked(y)
        if not first:
            first.append(f)
        if log:  # −log f and its gradient −∇f / f; the floor keeps a (non-loss) f ≤ 0 finite
            f_pos = max(f, 1e-300)
            return -float(np.log(f_pos)), -grad / f_pos
        return -f, -grad

    history: list[float] = []
    result = minimize(
        negative, y0, jac=True, method="L-BFGS-B",
        bounds=Bounds(-half, half),  # arrays, not p (lo, hi) pairs: scipy converts those slowly
        options={"maxiter": iterations, "ftol": 0.0, "gtol": 0.0},
        callback=lambda _: history.append(tracked.best_f),  # after each iteration
    )
    history = first[:1] + history
    history[-1] = tracked.best_f  # with any evaluation after the last completed iteration (a failed line search)
    # with gtol = 0 this stop means the projected gradient is exactly zero at its last point: a KKT point
    stationary = "PROJECTED GRADIENT" in str(result.message) and np.array_equal(result.x, tracked.best_y)
    return Ascent(tracked.best_f, tracked.best_y, history, tracked.evaluations, str(result.message), stationary)


def continued(first: Ascent, then: Ascent, length: int) -> Ascent:
    """One ascent's record of `first` followed by `then`, an ascent started from first's best point (a
    round more: the best f after each iteration, every evaluation, then's stopping reason).

    `length`: the entries first's history has when it ran every iteration of its rounds (rounds ×
    iterations + 1). An ascent that stopped early (L-BFGS-B whose line search failed) holds its best f
    for the iterations it did not run, so that entry k of every ascent's record is after the same
    iterations and rounds, and records of several ascents line up (`combined_history`)."""
    padded = first.history + [first.best_f] * (length - len(first.history))
    # then starts at first's best point, so then.best_f ≥ first.best_f; stationary describes then's best point
    best = then if then.best_f >= first.best_f else first
    history = padded + [max(first.best_f, f) for f in then.history[1:]]
    return Ascent(best.best_f, best.best_y, history, first.evaluations + then.evaluations, then.message, best.stationary)


def apgd_checkpoints(iterations: int) -> list[int]:
    """The iterations after which Auto-PGD may halve its step, ⌈p_j N⌉ with p_0 = 0, p_1 = 0.22,
    p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06) (Croce & Hein 2020, section 3.2)."""
    checkpoints, previous, current = [], 0.0, 0.22
    while current <= 1.0:
        at = math.ceil(current * iterations - 1e-9)  # the p_j are decimal fractions: no float overshoot
        if at >= 1 and (not checkpoints or at > checkpoints[-1]):
            checkpoints.append(at)
        previous, current = current, current + max(current - previous - 0.03, 0.06)
    return checkpoints


def apgd(objective: Objective, half: np.ndarray, y0: np.ndarray, iterations: int) -> Ascent:
    """`iterations` Auto-PGD steps in the box |y| ≤ `half` from `y0` (one evaluation each)."""
    tracked = _Tracked(objective)
    momentum, success_rate = 0.75, 0.75

    def project(y: np.ndarray) -> np.ndarray:
        return np.clip(y, -half, half)

    y = y_prev = project(y0)
    f, grad = tracked(y)
    best_f, best_y, best_grad = f, y, grad
    history = [f]
    step = 2.0  # in units of the half-widths: one step crosses the box
    checkpoints = set(apgd_checkpoints(iterations))
    since, raised, best_at_check, halved_at_check = 0, 0, best_f, False
    for k in range(iterations):
        z = project(y + step * half * np.sign(grad))
        a = 1.0 if k == 0 else momentum
        y_next = project(y + a * (z - y) + (1 - a) * (y - y_prev))
        f_next, grad_next = tracked(y_next)
        raised += f_next > f
        since += 1
        y_prev, y, f, grad = y, y_next, f_next, grad_next
        if f > best_f:
            best_f, best_y, best_grad = f, y, grad
        history.append(tracked.best_f)
        if k + 1 in checkpoints:
            oscillating = raised < success_rate * since
            stuck = not halved_at_check and best_f <= best_at_check
            halved_at_check = oscillating or stuck
            if halved_at_check:  # halve the step and continue from the best point
                step /= 2
                y = y_prev = best_y
                f, grad = best_f, best_grad
            since, raised, best_at_check = 0, 0, best_f
    return Ascent(tracked.best_f, tracked.best_y, history, tracked.evaluations, f"{iterations} Auto-PGD steps, final step {step:g}")


# keyed by lbgap.measures.maximizer.ASCENT_NAMES (tests/measures/test_ascent.py keeps the two equal)
ASCENTS: dict[str, Callable[[Objective, np.ndarray, np.ndarray, int], Ascent]] = {
    "lbfgsb": lbfgsb,
    "lbfgsb_log": lambda objective, half, y0, iterations: lbfgsb(objective, half, y0, iterations, log=True),
    "apgd": apgd,
}

