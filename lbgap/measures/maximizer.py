"""How Metric 2.1's inner maximum is searched: the settings of lbgap.measures.sharpness, kept apart from
the ascents themselves (lbgap.measures.ascent) so that reading them does not import scipy's optimizers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from lbgap.params.sections import Ascent, Sharpness

ASCENT_NAMES = get_args(Ascent)  # the registry lbgap.measures.ascent.ASCENTS, by name
PAPER_ITERATIONS = 10  # the paper's L-BFGS-B budget


@dataclass(frozen=True)
class Maximizer:
    """How max_{y ∈ C_ε} f(x + A y) is searched: each of `ascents` from each of `starts` seeded random
    points of the box, `iterations` iterations each; the largest f found wins. The default is the
    paper's protocol: one start, 10 iterations of L-BFGS-B on f."""

    ascents: tuple[str, ...] = ("lbfgsb",)
    starts: int = 1
    iterations: int = PAPER_ITERATIONS
    plateau: float = 0.05  # levelled off: the best f rose by ≤ this fraction of its gain over the second half
    # also the paper's protocol (start 0, PAPER_ITERATIONS of L-BFGS-B on f) as a search of its own when the
    # ascents do not contain it: reported beside φ, never part of it; a φ below it fails the certificate
    paper_protocol: bool = False

    def __post_init__(self) -> None:
        if unknown := [name for name in self.ascents if name not in ASCENT_NAMES]:
            raise ValueError(f"unknown ascent {unknown[0]!r}; known: {', '.join(ASCENT_NAMES)}")
        if not self.ascents or self.starts < 1 or self.iterations < 1 or self.plateau < 0:
            raise ValueError(f"a maximizer needs ascents, starts >= 1, iterations >= 1 and plateau >= 0 (got {self})")

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


def maximizer_of(sharpness: Sharpness, paper_protocol: bool = False) -> Maximizer:
    """The `sharpness` section's maximizer: method paper is one start of L-BFGS-B on f, validated every one
    of `ascents` from each of `starts`; `max_iter` iterations each and `plateau` for the certificate of both.
    `paper_protocol`: validated also runs the paper's protocol, to report it beside (the SB/LB stages)."""
    if sharpness.method == "paper":
        return Maximizer(("lbfgsb",), 1, sharpness.max_iter, sharpness.plateau)
    return Maximizer(tuple(dict.fromkeys(sharpness.ascents)), sharpness.starts, sharpness.max_iter, sharpness.plateau, paper_protocol)
