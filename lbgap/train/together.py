"""The seeds of a regime trained at once: one vmapped forward/backward over stacked weights.

`torch.func.stack_module_state` stacks the seeds' parameters and BatchNorm buffers along a new leading
dimension (S, …); `vmap` over `functional_call` runs every seed's own batch through its own weights in
one call per layer (batched matmuls instead of S small ones). Adam is elementwise, so one Adam over
the stacked tensors is S independent Adams. Each seed keeps what makes it a separate run: its sample
order (its own generator, as in `lbgap.train.loop.train`), its optimizer state, its records and its
stopping epoch — a seed whose stopping rule fired is frozen (its slice is written back after every
later step) while the others go on. In float64 the result equals one-by-one training to ~1e-9
(tests/train/test_together.py). In float32 it does not, bit for bit or to a fixed tolerance: batched
and single matmuls round differently, and Adam turns that rounding into O(lr) steps for biases in front
of BatchNorm (their true gradient is 0), so the two paths are two equally valid runs of the same seed,
as a CPU and a GPU run are. The train stages record which path ran (`seeds_together` in their metrics).

Only plain Adam steps on networks without dropout (dropout masks come from one global stream, which
vmap cannot split the way one-by-one runs draw it). Whether this pays depends on the device: on a GPU
small per-seed kernels are launch-bound and stacking them helps; on this project's 2-core CPU a
vmapped step measured slower than the seeds one after the other (benchmarks/seeds.py,
benchmarks/results/seeds.json), so `fits_together` also takes the device into account. The memory
estimate covers training; evaluation runs seeds × `eval_chunk` samples per pass on top of it, which
the half-of-free-memory margin absorbs for the paper's networks.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import Callable, Collection, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F

from lbgap.data import DataSet, Split
from lbgap.devices import autocast
from lbgap.train.evaluation import Evaluation
from lbgap.train.loop import EpochRecord, TrainConfig, checked_updates, diverged, near_target, should_stop
from lbgap.train.recipe import adam

State = dict[str, torch.Tensor]


def training_bytes(model: nn.Module, input_shape: tuple[int, ...], batch_size: int, seeds: int) -> int:
    """Estimated peak bytes of training `seeds` copies of `model` together on batches of `batch_size`
    inputs of `input_shape`: per seed, weights, gradients and Adam's two moments (4 × parameters), plus
    every leaf module's output for the batch, kept for the backward pass and once more for its gradient
    (2 ×); float32. The outputs are counted on a forward pass of two zero inputs."""
    outputs: list[int] = []
    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(lambda module, inputs, output: outputs.append(output.numel())) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((2, *input_shape), device=next(model.parameters()).device))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    per_sample = sum(outputs) // 2
    parameters = sum(p.numel() for p in model.parameters())
    return 4 * seeds * (4 * parameters + 2 * batch_size * per_sample)


def fits_together(model: nn.Module, input_shape: tuple[int, ...], batch_size: int, seeds: int, free_bytes: int | None) -> bool:
    """Whether to train the seeds together: more than one seed, no dropout, the model on an accelerator
    (on the CPU it measured slower, see the module docstring) and the estimate within half of
    `free_bytes`, the device's free memory (None: unknown, then no)."""
    device = next(model.parameters()).device
    if seeds < 2 or device.type == "cpu" or free_bytes is None:
        return False
    if any(isinstance(m, nn.modules.dropout._DropoutNd) for m in model.modules()):
        return False
    return training_bytes(model, input_shape, batch_size, seeds) <= free_bytes // 2


def _slice(tensors: dict[str, torch.Tensor], index: int) -> State:
    return {name: t[index].detach().clone() for name, t in tensors.items()}


@torch.no_grad()
def evaluate_together(base: nn.Module, params: dict, buffers: dict, split: Split, chunk: int) -> list[Evaluation]:
    """`lbgap.train.evaluation.evaluate` for every seed at once (eval mode): per seed, mean cross-entropy
    and accuracy over `split`, `chunk` samples per vmapped forward pass."""
    base.eval()
    logits_of = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)), in_dims=(0, 0, None))
    seeds = next(iter(params.values())).shape[0]
    losses, correct = [0.0] * seeds, [0] * seeds
    for start in range(0, len(split), chunk):
        x, y = split.x[start : start + chunk], split.y[start : start + chunk]
        logits = logits_of(params, buffers, x)  # (S, chunk, classes)
        for s in range(seeds):
            losses[s] += F.cross_entropy(logits[s], y, reduction="sum").item()
            correct[s] += (logits[s].argmax(dim=1) == y).sum().item()
    return [Evaluation(losses[s] / len(split), correct[s] / len(split)) for s in range(seeds)]


def train_together(
    models: Sequence[nn.Module],
    data: DataSet,
    *,
    batch_size: int,
    config: TrainConfig,
    seeds: Sequence[int],
    on_epoch: Callable[[int, EpochRecord], None] | None = None,
    keep_epochs: Collection[int] = (),
    amp: bool = False,
) -> tuple[list[list[EpochRecord]], list[dict[int, State]], list[tuple[EpochRecord, State] | None]]:
    """Train `models[i]` with sample order `seeds[i]` as `lbgap.train.loop.train` would, all at once (`amp`:
    its bfloat16 autocast on CUDA); the
    models are left at their final weights (eval mode). Returns per seed its records (epoch 0 first) and
    its kept iterates (epoch → state_dict, CPU), for the epochs ≥ 1 of `keep_epochs` it reached, and
    (record, state_dict) of its first checked iterate whose training loss was ≤ `config.target_loss`, checked
    as `lbgap.train.loop.train` checks it (None when none was)."""
    if len(models) != len(seeds) or not models:
        raise ValueError(f"one seed per model (got {len(models)} models, {len(seeds)} seeds)")
    n = len(data.train)
    if not 0 < batch_size <= n:
        raise ValueError(f"batch size must be in [1, {n}] (got {batch_size})")
    device = data.train.x.device
    base = copy.deepcopy(models[0]).to("meta")
    params, buffers = stack_module_state(list(models))  # (S, …) each; params are leaves that require grad
    optimizer = adam(list(params.values()), config.lr, config.betas)
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]

    def batch_loss(p: dict, b: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(base, (p, b), (x,)), y)

    losses_of = vmap(batch_loss, in_dims=(0, 0, 0, 0))

    def records(epoch: int) -> list[EpochRecord]:
        train = evaluate_together(base, params, buffers, data.train, config.eval_chunk)
        test = evaluate_together(base, params, buffers, data.test, config.eval_chunk)
        updates = epoch * (n // batch_size)
        return [EpochRecord(epoch, a.loss, a.accuracy, b.loss, b.accuracy, updates, updates * batch_size, batch_size if epoch else 0) for a, b in zip(train, test)]

    histories = [[record] for record in records(0)]
    kept: list[dict[int, State]] = [{} for _ in models]
    at_target: list[tuple[EpochRecord, State] | None] = [None for _ in models]
    latest = [history[0].train_loss for history in histories]  # each seed's latest training loss (for the gate)
    frozen: dict[int, State] = {}  # seed index → its weights and buffers when its stopping rule fired
    steps = n // batch_size

    def watched() -> list[int]:
        return [s for s in range(len(models)) if s not in frozen and at_target[s] is None and config.target_loss is not None]

    def check_target(epoch: int, updates: int, seeds_now: list[int], given: list[EpochRecord] | None = None) -> None:
        """The training loss of `seeds_now` (from `given`, the epoch's records, or evaluated now); a seed at
        or below the target keeps its weights and record."""
        if not seeds_now:
            return
        if given is None:
            train = evaluate_together(base, params, buffers, data.train, config.eval_chunk)
            given = [EpochRecord(epoch, a.loss, a.accuracy, float("nan"), float("nan"), updates, updates * batch_size, batch_size) for a in train]
        test = None
        for s in seeds_now:
            latest[s] = given[s].train_loss
            if latest[s] <= config.target_loss:
                record = given[s]
                if math.isnan(record.test_loss):
                    test = test or evaluate_together(base, params, buffers, data.test, config.eval_chunk)
                    record = replace(record, test_loss=test[s].loss, test_accuracy=test[s].accuracy)
                at_target[s] = (record, {k: v.cpu() for k, v in _slice({**params, **buffers}, s).items()})

    for epoch in range(1, config.max_epochs + 1):
        base.train()
        orders = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)
        near = [s for s in watched() if near_target(latest[s], config.target_loss)]  # gated per seed, as alone
        within = checked_updates(steps) if near else set()
        for step, start in enumerate(range(0, n - batch_size + 1, batch_size), start=1):
            index = orders[:, start : start + batch_size]  # (S, batch)
            with autocast(device, amp):
                losses = losses_of(params, buffers, data.train.x[index], data.train.y[index])
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()  # seeds do not interact: each slice gets its own mean loss's gradient
            optimizer.step()
            with torch.no_grad():
                for s, state in frozen.items():  # a finished run stops changing
                    for name, t in (*params.items(), *buffers.items()):
                        t[s].copy_(state[name])
            if step in within:
                check_target(epoch, (epoch - 1) * steps + step, [s for s in near if at_target[s] is None and s not in frozen])
                base.train()  # evaluation left it in eval mode
        epoch_records = records(epoch)
        check_target(epoch, epoch * steps, watched(), epoch_records)
        for s, record in enumerate(epoch_records):
            if s in frozen:
                continue
            histories[s].append(record)
            if epoch in keep_epochs:
                kept[s][epoch] = {k: v.cpu() for k, v in _slice({**params, **buffers}, s).items()}
            if on_epoch is not None:
                on_epoch(seeds[s], record)
            if diverged(record) or should_stop([r.train_loss for r in histories[s][1:]], config.patience, config.min_delta):
                frozen[s] = _slice({**params, **buffers}, s)
        if len(frozen) == len(models):
            break
    for s, model in enumerate(models):
        model.load_state_dict(frozen.get(s) or _slice({**params, **buffers}, s))
        model.eval()
    return histories, kept, at_target
