"""The sharpness metric of Keskar et al. (ICLR 2017), Metric 2.1.

For parameters x ∈ Rⁿ, a matrix A ∈ R^{n×p} and ε > 0:

    C_ε = { z ∈ R^p : |z_i| ≤ ε (|(A⁺x)_i| + 1) }
    φ_{x,f}(ε, A) = 100 · (max_{y ∈ C_ε} f(x + A y) − f(x)) / (1 + f(x))

Full space: A = Iₙ (pass `A=None`; nothing n × n is built). Subspace: `random_subspace` gives A with
i.i.d. standard-normal entries as an operator that is never stored whole (`lbgap.measures.subspace`: A y, Aᵀ g
and A⁺x = (AᵀA)⁻¹Aᵀx, the Moore–Penrose pseudo-inverse for A of full column rank, true with
probability one).

The maximum is found inexactly. The paper ran 10 iterations of L-BFGS-B; its reach scales with the
gradient (lbgap.measures.ascent), so a well-converged solution can look flat. A `Maximizer` runs several
ascents (`ASCENTS`) from several seeded random starts in the box and keeps the largest f any of them
evaluated: a lower bound on the maximum that no single ascent beats. Its certificate is the history of
that largest f per iteration: a search whose best f still rose by more than `plateau` of its total gain
over the second half of the iterations has not levelled off. It continues, every ascent from its best
point, in rounds of the same length (`Maximizer.max_rounds`); one still rising after the last round says so
(`levelled_off`), unless the winning ascent stopped at a stationary point of the box problem (L-BFGS-B's
projected gradient exactly zero: a local maximum). Necessary, not sufficient: a search creeping in tiny
steps levels off far from the maximum, and a local maximum need not be the largest. A second check needs a point the search did not visit: `clipped_subspace_point`, `certify`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from lbgap.data import Split
from lbgap.measures.ascent import ASCENTS, Ascent, continued
from lbgap.measures.maximizer import PAPER_ITERATIONS, Maximizer
from lbgap.measures.subspace import DenseSubspace, Subspace
from lbgap.tensors import flatten, parameters_of
from lbgap.train.evaluation import loss_and_grad, loss_at

PAPER_SEARCH = "paper#0"  # the paper's protocol run beside the ascents: its key among the histories
# f(w) and ∇f(w) for a flat parameter vector w (n,)
LossAndGrad = Callable[[torch.Tensor], tuple[float, torch.Tensor]]

@dataclass(frozen=True)
class Sharpness:
    phi: float  # the metric, in percent of (1 + f(x)): a lower bound, the largest f any ascent found
    loss_at_x: float  # f(x)
    loss_max: float  # max f(x + A y) found over the box
    iterations: int  # the longest ascent's iterations
    evaluations: int  # f and ∇f evaluations, all ascents together
    message: str  # the winning ascent's stopping reason
    levelled_off: bool  # the first check of the certificate: the best f stopped rising (`levelled_off`) or the
    # winning ascent stopped at a stationary point (zero projected gradient: a local maximum in the box)
    found_by: str = ""  # the winning ascent and start, e.g. "apgd#0"
    history: tuple[float, ...] = ()  # the largest f, all ascents together, after each iteration (0: the starts)
    # φ of L-BFGS-B on f from start 0 after the paper's 10 iterations: the paper's protocol, read off the
    # ascents or run beside them (`Maximizer.paper_protocol`); None when neither
    paper_protocol_phi: float | None = None
    # "name#start" → its own `history` (and PAPER_SEARCH's, when the paper's protocol ran beside)
    ascent_histories: dict[str, list[float]] = field(default_factory=dict)
    argmax: np.ndarray | None = field(default=None, repr=False, compare=False)  # y (p,) float64 of loss_max

    def record(self) -> dict:
        """The JSON record (everything but the argmax)."""
        return {key: getattr(self, key) for key in self.__dataclass_fields__ if key != "argmax"} | {"history": list(self.history)}


def box_half_widths(x: torch.Tensor, eps: float, A: Subspace | None, offset: float = 1.0) -> np.ndarray:
    """ε (|A⁺x| + offset) as float64 (p,), with A⁺x = x in the full space. The paper's offset is 1;
    offset η → 0 makes the box scale with the weights (adaptive sharpness, see lbgap.measures.flatness)."""
    coords = x.detach().double().cpu() if A is None else A.pinv_apply(x.detach())
    return (eps * (coords.abs() + offset)).numpy()


def phi_of(loss_max: float, loss_at_x: float) -> float:
    return 100.0 * (loss_max - loss_at_x) / (1.0 + loss_at_x)


def levelled_off(history: list[float] | tuple[float, ...], loss_at_x: float, plateau: float) -> bool:
    """Did the best f stop rising? Its rise over the second half of the iterations is at most `plateau`
    of its whole gain over f(x)."""
    gain = history[-1] - loss_at_x
    return history[-1] - history[len(history) // 2] <= plateau * max(gain, 0.0)


def combined_history(runs: Iterable[Ascent], loss_at_x: float) -> list[float]:
    """The largest f of all `runs` together (and f(x), which is in the box) after each iteration."""
    runs = list(runs)
    longest = max(run.iterations for run in runs)
    return [max([loss_at_x] + [run.history[min(k, run.iterations)] for run in runs]) for k in range(longest + 1)]


def settled(runs: Iterable[Ascent], loss_at_x: float, plateau: float) -> bool:
    """The first check of the certificate: the search's best f `levelled_off`, or the ascent that found it
    stopped at a stationary point of the box problem (a local maximum)."""
    runs = list(runs)
    return max(runs, key=lambda run: run.best_f).stationary or levelled_off(combined_history(runs, loss_at_x), loss_at_x, plateau)


def start_point(half: np.ndarray, seed: int, start: int) -> np.ndarray:
    """Start `start` of a search seeded by `seed`: uniform in the box (start 0 is the paper protocol's)."""
    rng = np.random.default_rng(seed if start == 0 else [seed, start])
    return rng.uniform(-half, half)


def sharpness(
    f: LossAndGrad,
    x: torch.Tensor,
    eps: float,
    A: Subspace | torch.Tensor | None = None,
    *,
    maximizer: Maximizer = Maximizer(),
    seed: int = 0,
    on_evaluation: Callable[[], None] | None = None,
    offset: float = 1.0,
    loss_at_x: float | None = None,
) -> Sharpness:
    """φ_{x,f}(ε, A) for f given as `f(w) -> (loss, grad)` over flat parameters w (n,) float32 on any device.

    `A` is a `Subspace` operator, an explicit (n, p) tensor, or None for the full space. `maximizer`
    says how the maximum is searched (default: the paper's protocol); `seed` draws its starts.
    `on_evaluation` is called after each f evaluation (for progress bars). `offset` replaces the 1 in
    the box ε(|A⁺x| + 1); it must be > 0 or every coordinate must be non-zero (a zero-width box side
    is allowed: that coordinate is then held fixed). `loss_at_x`: f(x) when the caller has it (one
    evaluation fewer; several ε and subspaces at one solution share it).
    """
    if eps <= 0:
        raise ValueError(f"epsilon must be > 0 (got {eps})")
    if offset < 0:
        raise ValueError(f"offset must be >= 0 (got {offset})")
    if isinstance(A, torch.Tensor):
        A = DenseSubspace(A)
    x = x.detach()
    half = box_half_widths(x, eps, A, offset)
    if loss_at_x is None:
        loss_at_x, _ = f(x)
    if not (np.isfinite(half).all() and np.isfinite(loss_at_x)):  # a diverged run: no box, no maximum
        nan = float("nan")
        return Sharpness(nan, float(loss_at_x), nan, 0, 0, "not measured: non-finite weights or loss", False)

    def f_of_y(y: np.ndarray) -> tuple[float, np.ndarray]:
        y_t = torch.from_numpy(y).to(x.device, x.dtype)
        loss, grad = f(x + (y_t if A is None else A.matvec(y_t).to(x.dtype)))
        if on_evaluation is not None:
            on_evaluation()
        grad_y = grad if A is None else A.rmatvec(grad)  # chain rule: ∂f/∂y = Aᵀ ∇f
        return loss, grad_y.double().cpu().numpy()

    if A is not None:
        maximizer = maximizer.in_subspace()
    runs: dict[tuple[str, int], Ascent] = {
        (name, start): ASCENTS[name](f_of_y, half, start_point(half, seed, start), maximizer.iterations)
        for start in range(maximizer.starts)
        for name in maximizer.ascents
    }
    first_round, rounds = runs, 1  # the paper's protocol is read off the first round
    while not (done := settled(runs.values(), loss_at_x, maximizer.plateau)) and rounds < maximizer.max_rounds:
        runs = {(name, start): continued(run, ASCENTS[name](f_of_y, half, run.best_y, maximizer.iterations), rounds * maximizer.iterations + 1)
                for (name, start), run in runs.items()}
        rounds += 1
    (name, start), best = max(runs.items(), key=lambda item: item[1].best_f)
    loss_max = max(best.best_f, loss_at_x)  # f(x) itself is in the box
    history = combined_history(runs.values(), loss_at_x)
    searches = {f"{name}#{start}": run for (name, start), run in runs.items()}
    if maximizer.extra_paper_search:  # beside φ, not part of it: every stage's φ comes from the same ascents
        searches[PAPER_SEARCH] = ASCENTS["lbfgsb"](f_of_y, half, start_point(half, seed, 0), PAPER_ITERATIONS)
    paper = (searches[PAPER_SEARCH] if maximizer.extra_paper_search else first_round["lbfgsb", 0]) if maximizer.includes_paper_protocol else None
    return Sharpness(
        phi=phi_of(loss_max, loss_at_x),
        loss_at_x=loss_at_x,
        loss_max=loss_max,
        iterations=len(history) - 1,
        evaluations=sum(run.evaluations for run in searches.values()),
        message=best.message + (f" ({rounds} rounds of {maximizer.iterations}, each from the best point)" if rounds > 1 else ""),
        levelled_off=done,
        found_by=f"{name}#{start}",
        history=tuple(history),
        paper_protocol_phi=None if paper is None else phi_of(
            max(paper.history[min(PAPER_ITERATIONS, paper.iterations)], loss_at_x), loss_at_x),
        ascent_histories={key: run.history for key, run in searches.items()},
        argmax=best.best_y,
    )


def reaches_paper_protocol(found: Sharpness) -> bool:
    """The search found at least what the paper's protocol found from the same start (True when that was
    not run): a φ below it proves the search fell short."""
    return found.paper_protocol_phi is None or found.phi >= found.paper_protocol_phi * (1 - 1e-9)


def clipped_subspace_point(x: torch.Tensor, eps: float, A: Subspace, y: np.ndarray) -> torch.Tensor:
    """The subspace maximizer y (p,) mapped into the full space and clipped to the full-space box, as
    weights (n,): a feasible full-space point the full-space search did not choose, so the full-space
    maximum is at least f there (`certify`)."""
    half = torch.from_numpy(box_half_widths(x, eps, None)).to(x.device, x.dtype)
    step = A.matvec(torch.from_numpy(y).to(x.device, x.dtype)).to(x.dtype)
    return x.detach() + torch.maximum(torch.minimum(step, half), -half)


def certify(full: Sharpness, clipped_subspace_loss: float) -> bool:
    """The certificate of a full-space φ: its search levelled off, reached the paper's protocol where that
    ran beside it, and found at least the loss at the clipped subspace maximizer (a float32 loss within
    1e-6 relative of it is a tie). Passing it does not prove a maximum; failing it proves the search fell short."""
    return (full.levelled_off and reaches_paper_protocol(full)
            and clipped_subspace_loss <= full.loss_max + 1e-6 * abs(full.loss_max))


def sharpness_of_model(
    model: nn.Module,
    train: Split,
    eps: float,
    A: Subspace | torch.Tensor | None = None,
    *,
    chunk: int = 10_000,
    maximizer: Maximizer = Maximizer(),
    seed: int = 0,
    on_evaluation: Callable[[], None] | None = None,
    offset: float = 1.0,
    loss_at_x: float | None = None,
) -> Sharpness:
    """φ of `model` at its current weights, f = mean cross-entropy over the whole `train` split with
    the model in eval mode (dropout off; BatchNorm as the model was built: running statistics, or
    batch statistics of each `chunk` for networks built with batchnorm "batch"). `train` must be on
    the model's device. f(x) is `loss_at_x` when given (`model_loss`), else one forward pass."""
    model.eval()
    like = parameters_of(model)
    x = flatten(like)
    return sharpness(
        lambda w: loss_and_grad(model, w, like, train, chunk),
        x,
        eps,
        A,
        maximizer=maximizer,
        seed=seed,
        on_evaluation=on_evaluation,
        offset=offset,
        loss_at_x=loss_at(model, x, like, train, chunk) if loss_at_x is None else loss_at_x,
    )


def clipped_subspace_loss_of_model(model: nn.Module, train: Split, eps: float, A: Subspace, y: np.ndarray, *, chunk: int) -> float:
    """f, as `sharpness_of_model` defines it, at the `clipped_subspace_point` of the model's current weights."""
    model.eval()
    like = parameters_of(model)
    return loss_at(model, clipped_subspace_point(flatten(like), eps, A, y), like, train, chunk)


def model_loss(model: nn.Module, train: Split, chunk: int) -> float:
    """f at the model's current weights, as `sharpness_of_model` defines it (eval mode, whole split):
    compute it once and pass it as `loss_at_x` to every φ at the same weights."""
    model.eval()
    like = parameters_of(model)
    return loss_at(model, flatten(like), like, train, chunk)


def full_space_probe(train: Split, eps: float, *, chunk: int, maximizer: Maximizer, seed: int) -> Callable[[nn.Module], Sharpness]:
    """model ↦ φ(ε, A = I) of the model's current weights over `train` (the experiments' one number per
    solution: the batch-size sweep, warm start and sharpness along training), with its certificate."""
    return lambda model: sharpness_of_model(model, train, eps, None, chunk=chunk, maximizer=maximizer, seed=seed)


def measure_at(model: nn.Module, state: dict[str, torch.Tensor], measure: Callable[[nn.Module], Sharpness]) -> Sharpness:
    """`measure(model)` with `model` at the weights `state`; `model`'s own weights are restored afterwards."""
    own = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    try:
        return measure(model)
    finally:
        model.load_state_dict(own)
