"""Shared by the remedy tests: a Run on the tiny blobs (96 training samples, SB 12, LB 48)."""

from __future__ import annotations

import pytest

from lbgap.remedies.registry import Run


@pytest.fixture
def run():
    """run(**changes) → the Run of seed 0 on the blobs: batch 48 (LB), small batch 12, 96 samples, 20 epochs."""
    defaults = dict(seed=0, data_name="mnist1d", batch_size=48, regime="lb", small_batch=12, large_batch=48, train_size=96, max_epochs=20, sb_epochs=3)
    return lambda **changes: Run(**{**defaults, **changes})
