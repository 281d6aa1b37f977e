"""How Metric 2.1's inner maximum is searched: the settings of lbgap.measures.sharpness, kept apart from
the ascents themselves (lbgap.measures.ascent) so that reading them does not import scipy's optimizers."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import get_args

from lbgap.params.sections import Ascent, Sharpness

ASCENT_NAMES = get_args(Ascent)  # the registry lbgap.measures.ascent.ASCENTS, by name
PAPER_ITERATIONS = 10  # the paper's L-BFGS-B budget


@dataclass(frozen=True)
class Maximizer:
    """How max_{y ∈ C_ε} f(x + A y) is searched: each of `ascents` (in a random subspace: of
    `subspace_ascents`, when given) from each of `starts` seeded random points of the box, `iterations`
    iterations each; the largest f found wins. A search that has not levelled off continues, every
    ascent from its best point, for another `iterations`, up to `max_rounds` rounds in all. The default
    is the paper's protocol: one start, 10 iterations of L-BFGS-B on f, one round."""

    ascents: tuple[str, ...] = ("lbfgsb",)
    starts: int = 1
    iterations: int = PAPER_ITERATIONS
    plateau: float = 0.05  # levelled off: the best f rose by ≤ this fraction of its gain over the second half
    max_rounds: int = 1
    subspace_ascents: tuple[str, ...] | None = None  # None: `ascents` in both spaces
    # also the paper's protocol (start 0, PAPER_ITERATIONS of L-BFGS-B on f) as a search of its own when the
    # ascents do not contain it: reported beside φ, never part of it; a φ below it fails the certificate
    paper_protocol: bool = False

    def __post_init__(self) -> None:
        if unknown := [name for name in self.ascents + (self.subspace_ascents or ()) if name not in ASCENT_NAMES]:
            raise ValueError(f"unknown ascent {unknown[0]!r}; known: {', '.join(ASCENT_NAMES)}")
        if (not self.ascents or self.subspace_ascents == () or self.starts < 1 or self.iterations < 1 or self.plateau < 0
                or self.max_rounds < 1):
            raise ValueError(f"a maximizer needs ascents, starts >= 1, iterations >= 1, plateau >= 0 and max_rounds >= 1 (got {self})")

    def in_subspace(self) -> Maximizer:
        """The search a random subspace gets: `subspace_ascents` in place of `ascents`."""
        return self if self.subspace_ascents is None else replace(self, ascents=self.subspace_ascents, subspace_ascents=None)

    @property
    def includes_paper_protocol(self) -> bool:
        """L-BFGS-B on f from start 0 for at least the paper's 10 iterations: its value then is the paper's."""
        return self.paper_protocol or self.ascents_contain_paper_protocol

    @property
    def ascents_contain_paper_protocol(self) -> bool:
        """Start 0 of L-BFGS-B on f runs for at least the paper's 10 iterations among the ascents."""
        return "lbfgsb" in self.ascents and self.iterations >= PAPER_ITERATIONS

    @property
    def extra_paper_search(self) -> bool:
        """The paper's protocol runs as a search of its own: asked for, and not among the ascents."""
        return self.paper_protocol and not self.ascents_contain_paper_protocol


def maximizer_of(sharpness: Sharpness, *, paper_protocol: bool = False, subspace: bool = False) -> Maximizer:
    """The `sharpness` section's maximizer: method paper is one start of L-BFGS-B on f for one round,
    validated every one of `ascents` (`subspace_ascents` in the subspace) from each of `starts`, in up to
    `max_rounds` rounds; `max_iter` iterations each and `plateau` for the certificate of both.
    `paper_protocol`: validated also runs the paper's protocol, to report it beside (the SB/LB stages).
    `subspace`: the stage also measures in a random subspace (without it `subspace_ascents` is not read, so
    stages measuring the full space only do not depend on it)."""
    if sharpness.method == "paper":
        return Maximizer(("lbfgsb",), 1, sharpness.max_iter, sharpness.plateau)
    return Maximizer(
        tuple(dict.fromkeys(sharpness.ascents)), sharpness.starts, sharpness.max_iter, sharpness.plateau,
        sharpness.max_rounds, tuple(dict.fromkeys(sharpness.subspace_ascents)) if subspace else None, paper_protocol,
    )
