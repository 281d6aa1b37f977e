"""Ghost batch normalization: equal to BatchNorm when the virtual batch is the batch, per-chunk statistics
otherwise, and a trained network that loads into the plain one."""

from __future__ import annotations

import torch
from torch import nn

from lbgap.remedies.ghost_bn import GhostBatchNorm, GhostBnOptions, ghost_batchnorm, ghost_bn
from lbgap.train.seeds import train_seeds


def test_a_virtual_batch_of_the_whole_batch_is_plain_batchnorm(small_mlp):
    plain, ghost = small_mlp(seed=1), ghost_batchnorm(small_mlp(seed=1), virtual_batch=32)
    assert any(isinstance(m, GhostBatchNorm) for m in ghost.modules())
    x = torch.randn(32, 6, generator=torch.Generator().manual_seed(0))
    for model in (plain, ghost):
        model.train()
    for _ in range(3):
        torch.testing.assert_close(ghost(x), plain(x), rtol=0, atol=0)
    for (name, a), b in zip(plain.state_dict().items(), ghost.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=0, atol=0, msg=name)  # running statistics and counters too


def test_each_virtual_batch_is_normalized_by_its_own_statistics():
    layer = GhostBatchNorm(nn.BatchNorm1d(5), virtual_batch=8).train()
    x = torch.randn(32, 5, generator=torch.Generator().manual_seed(0)) * 3 + torch.arange(32.0)[:, None]
    out = layer(x)
    for chunk in out.split(8):  # γ = 1, β = 0 at initialization
        torch.testing.assert_close(chunk.mean(0), torch.zeros(5), rtol=0, atol=1e-5)
        torch.testing.assert_close(chunk.var(0, unbiased=False), torch.ones(5), rtol=0, atol=1e-3)
    assert not torch.allclose(out, nn.BatchNorm1d(5).train()(x))  # not the whole batch's normalization
    assert int(layer.num_batches_tracked) == 4  # running statistics updated once per virtual batch


def test_evaluation_is_plain_batchnorm_and_the_trained_state_loads_into_the_plain_network(run, small_mlp, tiny_data, train_config):
    recipe = ghost_bn(GhostBnOptions(virtual_batch=12), run())
    ((checkpoint, _, final, _),) = list(train_seeds(
        small_mlp, tiny_data, batch_size=48, seeds=1, config=train_config(max_epochs=2), amp=False,
        recipe_for_seed=lambda seed: recipe,
    ))
    plain = small_mlp()
    plain.load_state_dict(checkpoint.final)  # same names and shapes
    ghost = ghost_batchnorm(small_mlp(), 12)
    ghost.load_state_dict(checkpoint.final)
    plain.eval(), ghost.eval()
    torch.testing.assert_close(ghost(tiny_data.test.x), plain(tiny_data.test.x), rtol=0, atol=0)


def test_running_statistics_follow_each_virtual_batch_in_order():
    """32 samples, virtual batch 12: chunks of 11, 11, 10; the running mean is updated once per chunk with
    momentum 0.1, in order — by hand with torch.var(unbiased) as BatchNorm's running variance."""
    layer = GhostBatchNorm(nn.BatchNorm1d(3), virtual_batch=12).train()
    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(2)) + 5
    layer(x)
    mean, var = torch.zeros(3), torch.ones(3)
    for chunk in (x[:11], x[11:22], x[22:]):
        mean = 0.9 * mean + 0.1 * chunk.mean(0)
        var = 0.9 * var + 0.1 * chunk.var(0, unbiased=True)
    torch.testing.assert_close(layer.running_mean, mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(layer.running_var, var, rtol=1e-5, atol=1e-6)
