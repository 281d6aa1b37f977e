"""Progress bars that count the work the stage really does: training epochs, with each run's unused budget
taken off the total when the stopping rule ends it early, so the bar ends at 100 % and its ETA counts
the epochs still to train."""

from __future__ import annotations

from typing import Sequence

from tqdm import tqdm


class EpochProgress:
    """`on_epoch(seed, record)` for runs trained one after another: the bar's total starts at the sum of
    `budgets` (each run's epoch budget, in training order) and loses a run's unused epochs when the next
    run begins; `close()` settles the last. A run's first record counts one epoch (so a run resumed part-way
    counts only what this process trains), later ones the epochs since the last (`evaluate_every` > 1).
    `sequential=False` (seeds trained together, their records interleaved) leaves the total alone until
    `close()`."""

    def __init__(self, bar: tqdm, budgets: Sequence[int], sequential: bool = True):
        self.bar, self.budgets, self.sequential = bar, list(budgets), sequential
        self.bar.total = sum(self.budgets)
        self.run: int | None = None
        self.epoch = 0
        self.done: dict[int, int] = {}

    def __call__(self, seed: int, record) -> None:
        if not self.sequential:
            self.bar.update(record.epoch - self.done[seed] if seed in self.done else 1)
            self.done[seed] = record.epoch
            return
        if self.run is None or seed != self.run or record.epoch <= self.epoch:  # the next run has begun
            if self.run is not None:
                self._settle()
            self.run, self.epoch = seed, 0
        self.bar.update(record.epoch - self.epoch if self.epoch else 1)
        self.epoch = record.epoch

    def _settle(self) -> None:
        budget = self.budgets.pop(0) if self.budgets else self.epoch
        self.bar.total -= max(0, budget - self.epoch)
        self.bar.refresh()

    def close(self) -> None:
        """After the last run: the total is what was trained."""
        self.bar.total = self.bar.n
        self.bar.refresh()
