"""lbgap.train.together: the seeds trained at once equal the seeds trained one by one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lbgap.train.loop import fixed_budget, train
from lbgap.train.together import evaluate_together, fits_together, train_together, training_bytes
from lbgap.train.evaluation import evaluate

SEEDS = [0, 1, 2]


@pytest.fixture
def stopping(train_config):
    """A budget whose stopping rule fires at different epochs for different seeds on the blobs."""
    return train_config(max_epochs=12, patience=1, min_delta=0.1, lr=1e-2)  # stops after 6, 4, 7 epochs


def test_training_together_equals_one_by_one_with_each_seeds_own_stopping_epoch(data64, small_mlp, stopping):
    alone = [small_mlp(seed, width=8, depth=2).double() for seed in SEEDS]
    alone_histories = [train(m, data64, batch_size=16, config=stopping, seed=s) for m, s in zip(alone, SEEDS)]
    stopped_at = [h[-1].epoch for h in alone_histories]
    assert len(set(stopped_at)) > 1 and max(stopped_at) < stopping.max_epochs, stopped_at  # the case under test

    together = [small_mlp(seed, width=8, depth=2).double() for seed in SEEDS]
    seen = []
    histories, kept, _ = train_together(
        together, data64, batch_size=16, config=stopping, seeds=SEEDS, keep_epochs={1, 3},
        on_epoch=lambda seed, record: seen.append((seed, record.epoch)),
    )
    for a, b, alone_history, history in zip(alone, together, alone_histories, histories):
        assert [r.epoch for r in history] == [r.epoch for r in alone_history]  # same stopping epoch
        for x, y in zip(alone_history, history):
            assert y.train_loss == pytest.approx(x.train_loss, rel=1e-8) and y.test_loss == pytest.approx(x.test_loss, rel=1e-8)
            assert y.test_accuracy == x.test_accuracy
        for name, value in a.state_dict().items():  # a finished seed stopped changing: its own last iterate
            torch.testing.assert_close(b.state_dict()[name], value, rtol=1e-7, atol=1e-8)
    assert sorted(seen) == sorted((s, r.epoch) for s, h in zip(SEEDS, histories) for r in h[1:])
    reference = small_mlp(1, width=8, depth=2).double()  # seed 1 stopped after 4 epochs: epoch 3 was kept
    train(reference, data64, batch_size=16, config=fixed_budget(stopping, 3), seed=1)
    assert sorted(kept[1]) == [1, 3]
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(kept[1][3][name], value, rtol=1e-7, atol=1e-8)


def test_evaluating_together_equals_evaluate(tiny_data, small_mlp):
    from torch.func import stack_module_state

    models = [small_mlp(seed) for seed in SEEDS]
    params, buffers = stack_module_state(models)
    base = small_mlp(0).to("meta")
    for model, result in zip(models, evaluate_together(base, params, buffers, tiny_data.test, chunk=20)):
        expected = evaluate(model, tiny_data.test, chunk=20)
        assert result.loss == pytest.approx(expected.loss, rel=1e-6) and result.accuracy == expected.accuracy


def test_the_memory_estimate_counts_weights_moments_and_activations(small_mlp):
    model = small_mlp(0, width=8, depth=1)  # 6 → 8 (BN, ReLU) → 3: 56 + 16 + 27 parameters
    parameters = sum(p.numel() for p in model.parameters())
    # per sample: flatten 6, linear 8, BN 8, ReLU 8, linear 3 = 33 outputs
    assert training_bytes(model, (6,), batch_size=10, seeds=3) == 4 * 3 * (4 * parameters + 2 * 10 * 33)


def test_together_only_off_the_cpu_without_dropout_and_within_half_the_free_memory(small_mlp):
    model = small_mlp(0)
    assert not fits_together(model, (6,), 16, 3, free_bytes=10**12)  # on the CPU: measured slower
    meta = small_mlp(0).to("meta")  # stands in for an accelerator: the rule looks at the device type
    need = training_bytes(meta, (6,), 16, 3)
    assert need == training_bytes(model, (6,), 16, 3)  # shapes are all the estimate needs
    assert fits_together(meta, (6,), 16, 3, free_bytes=2 * need)
    assert not fits_together(meta, (6,), 16, 3, free_bytes=2 * need - 2)
    assert not fits_together(meta, (6,), 16, 3, free_bytes=None)  # unknown free memory
    assert not fits_together(meta, (6,), 16, 1, free_bytes=10**12)  # one seed: nothing to stack
    dropout = nn.Sequential(nn.Linear(6, 4), nn.Dropout(0.5)).to("meta")
    assert not fits_together(dropout, (6,), 16, 3, free_bytes=10**12)
