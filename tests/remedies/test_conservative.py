"""lbgap.remedies.conservative: proximal steps."""

from __future__ import annotations

import torch

from lbgap.remedies.conservative import (
    conservative_step,
)
from lbgap.train.recipe import plain_step


def test_conservative_with_zero_lambda_and_one_inner_step_is_a_plain_adam_step(model_pair, assert_same_state):
    (m1, m2), (o1, o2), x, y = model_pair()
    for _ in range(3):  # a few steps, so Adam's moment estimates matter too
        plain_step(m1, o1, x, y)
        conservative_step(lam=0.0, inner_steps=1)(m2, o2, x, y)
    assert_same_state(m1, m2)


def test_conservative_proximal_term_pulls_towards_the_anchor(model_pair):
    (m1, m2), _, x, y = model_pair()
    sgd = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (m1, m2)]
    start = [p.detach().clone() for p in m1.parameters()]
    conservative_step(lam=0.0, inner_steps=3)(m1, sgd[0], x, y)
    conservative_step(lam=5.0, inner_steps=3)(m2, sgd[1], x, y)
    moved = [sum(((p - s) ** 2).sum() for p, s in zip(m.parameters(), start)).item() for m in (m1, m2)]
    assert moved[1] < moved[0]


