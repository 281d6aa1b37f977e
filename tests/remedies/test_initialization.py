"""The initialization remedies: orthogonal weight matrices (seeded) and default weights scaled down."""

from __future__ import annotations

import torch
from torch import nn

from lbgap.remedies.orthogonal_init import OrthogonalInitOptions, orthogonal_init
from lbgap.remedies.scaled_init import ScaledInitOptions, scaled_init
from lbgap.train.seeds import train_seeds


def _linears(model):
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def test_orthogonal_weights_have_orthonormal_rows_or_columns_times_the_gain(run, small_mlp):
    model = orthogonal_init(OrthogonalInitOptions(gain=2.0), run()).prepare(small_mlp(width=8))
    for layer in _linears(model):
        w = layer.weight.detach().double()
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        torch.testing.assert_close(gram, 4.0 * torch.eye(gram.shape[0], dtype=torch.float64), rtol=0, atol=1e-5)


def test_orthogonal_draws_follow_the_run_seed(run, small_mlp):
    draw = lambda seed: orthogonal_init(OrthogonalInitOptions(gain=1.0), run(seed=seed)).prepare(small_mlp()).state_dict()  # noqa: E731
    a, b, c = draw(0), draw(0), draw(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["net.1.weight"], c["net.1.weight"])


def test_the_scaled_init_is_the_default_times_scale_and_is_the_runs_x0(run, small_mlp, tiny_data, train_config):
    recipe = scaled_init(ScaledInitOptions(scale=0.25), run())
    default = small_mlp().state_dict()
    ((checkpoint, _, _, _),) = list(train_seeds(
        small_mlp, tiny_data, batch_size=48, seeds=1, config=train_config(max_epochs=1), amp=False, recipe_for_seed=lambda s: recipe,
    ))
    for name, value in default.items():
        expected = 0.25 * value if name.endswith("weight") and value.dim() > 1 else value
        torch.testing.assert_close(checkpoint.x0[name], expected, rtol=0, atol=0, msg=name)
