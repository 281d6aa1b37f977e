"""What a remedy's stage (mitigate@<name>) does after training (lbgap.experiments.remedy.train_remedy): every
solution's sharpness surveyed as plain training's is, and the parametric plot from an SB solution to the
remedy's, gathered in one result the stage writes out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from torch import nn

from lbgap.data import DataSet
from lbgap.experiments.remedy import Remedy, path_endpoints, remedy_epsilons
from lbgap.experiments.survey import survey_of_runs, survey_size
from lbgap.measures.landscape import PathPoint, linear_path
from lbgap.measures.maximizer import Maximizer
from lbgap.params import Interpolate, Sharpness
from lbgap.train.checkpoint import Checkpoint

Trained = Mapping[str, tuple[dict, list[Checkpoint]]]  # train_remedy's: regime → (training results, checkpoints)


def epoch_budgets(remedy: Remedy, train_size: int, sb_epochs: Mapping[int, int]) -> list[int]:
    """Every run's epoch budget, regime by regime and seed by seed: its recipe's, else the cap (for a progress bar)."""
    return [remedy.recipe(seed, regime, train_size=train_size, sb_epochs=sb_epochs.get(seed)).max_epochs or remedy.config.max_epochs
            for regime in remedy.batches for seed in range(remedy.seeds)]


@dataclass(frozen=True)
class RemedyResult:
    """What `measure_remedy` found: per regime ("lb", and "sb" for the own control) its batch size, training
    results and sharpness survey; the parametric plot's points and its title."""

    regimes: dict[str, dict]
    path: list[PathPoint]
    title: str

    def document(self) -> dict:
        """The LB runs' {batch_size, train, sharpness} at the top, the SB control's under "small_batch"."""
        return {**self.regimes["lb"], **({"small_batch": self.regimes["sb"]} if "sb" in self.regimes else {})}


def measure_size(trained: Trained, epsilons: Sequence[float]) -> int:
    """How many maximizations `measure_remedy` makes (for a progress bar)."""
    return sum(survey_size(solutions, remedy_epsilons(epsilons)) for _, solutions in trained.values())


def measure_remedy(
    remedy: Remedy, name: str, trained: Trained, plain_sb: Checkpoint, model: nn.Module, data: DataSet, *,
    sharpness: Sharpness, maximizer: Maximizer, path: Interpolate, bn_statistics: str, chunk: int,
    on_maximization: Callable[[str], None] | None = None,
) -> RemedyResult:
    """Every solution of `trained` surveyed at the remedy's ε as plain training's are (full space and subspace,
    final and at the target loss; `on_maximization(text)` after each), and loss and accuracy on the line from
    an SB solution (the remedy's own when it has one, else `plain_sb`) to run `path.seed`'s."""
    regimes = {}
    for regime, (training, solutions) in trained.items():
        survey = survey_of_runs(model, solutions, data.train, remedy_epsilons(sharpness.epsilons), subspace_dim=sharpness.subspace_dim,
                                maximizer=maximizer, seed=sharpness.seed, chunk=chunk, on_run=on_maximization)
        regimes[regime] = {"batch_size": remedy.batches[regime], "train": training, "sharpness": survey}
    small, large, label = path_endpoints(trained, plain_sb, path.seed, name)
    points = linear_path(model, small, large, path.alphas, data, chunk=chunk, bn_statistics=bn_statistics)
    title = f"{label} (batch {remedy.small_batch}) → LB {name} (batch {remedy.large_batch}), seed {path.seed}"
    return RemedyResult(regimes, points, title)
