"""stages.progress: the training bars end at 100 % whatever the stopping rule did."""

from __future__ import annotations

import io
from types import SimpleNamespace

from tqdm import tqdm

from stages.progress import EpochProgress


def _records(progress: EpochProgress, runs: list[tuple[int, list[int]]]) -> None:
    for seed, epochs in runs:
        for epoch in epochs:
            progress(seed, SimpleNamespace(epoch=epoch))


def test_a_run_stopped_early_takes_its_unused_epochs_off_the_total():
    with tqdm(file=io.StringIO()) as bar:
        progress = EpochProgress(bar, [100, 100, 100])
        _records(progress, [(0, [1, 2, 3])])
        assert (bar.n, bar.total) == (3, 300)
        _records(progress, [(1, [1, 2])])  # seed 0 stopped at epoch 3: 97 epochs it will not train
        assert (bar.n, bar.total) == (5, 203)
        _records(progress, [(2, [4, 8])])  # a first record counts one epoch, the next the epochs since
        assert (bar.n, bar.total) == (10, 105)
        progress.close()
        assert bar.n == bar.total == 10


def test_the_same_seed_again_is_the_next_run_and_budgets_follow_the_training_order():
    """A remedy trains its LB seeds, then its SB control's: seed 0 again, its epochs starting over."""
    with tqdm(file=io.StringIO()) as bar:
        progress = EpochProgress(bar, [10, 50])
        _records(progress, [(0, [1, 2]), (0, [1])])
        assert (bar.n, bar.total) == (3, 52)


def test_interleaved_seeds_trained_together_settle_at_the_end():
    with tqdm(file=io.StringIO()) as bar:
        progress = EpochProgress(bar, [10, 10], sequential=False)
        _records(progress, [(0, [1]), (1, [1]), (0, [2]), (1, [2])])
        assert (bar.n, bar.total) == (4, 20)
        progress.close()
        assert bar.n == bar.total == 4
