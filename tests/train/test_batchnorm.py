"""lbgap.train.batchnorm: BN statistics recomputed at weights training did not produce."""

from __future__ import annotations

from pathlib import Path


import torch
from torch import nn
from torch.nn import functional as F

from lbgap.train.batchnorm import recompute_statistics
from lbgap.data import Split
from lbgap.train.evaluation import evaluate
from lbgap.models import build_model

REPO = Path(__file__).resolve().parents[2]  # the repository root

OPTIONS = {"width": 8, "depth": 2}


def independent_loss(state: dict, train_split: Split, evaluated: Split, chunk: int | None = None) -> float:
    """Cross-entropy on `evaluated` of the MLP with weights `state`, each BN layer normalized (in eval) by
    running statistics recomputed from `train_split` as defined — per chunk of `chunk` samples (default:
    one chunk) a train-mode pass where every BN layer normalizes with that chunk's own mean and biased
    variance, then each layer's chunk means and unbiased variances averaged over the chunks — computed
    here by hand in float64, layer by layer, with no torch.nn module involved."""
    linears = sorted({k.rsplit(".", 1)[0] for k in state if k.endswith(".weight") and state[k].dim() == 2},
                     key=lambda name: int(name.split(".")[-1]))
    norms = sorted({k.rsplit(".", 1)[0] for k in state if k.endswith(".running_mean")}, key=lambda name: int(name.split(".")[-1]))
    s = {k: v.double() for k, v in state.items()}

    def forward(x: torch.Tensor, stats: list | None):
        h = x.double().flatten(1)
        collected = []
        for i, linear in enumerate(linears):
            h = h @ s[f"{linear}.weight"].T + s[f"{linear}.bias"]
            if i < len(norms):
                if stats is None:  # train mode: this chunk's own statistics (biased variance normalizes)
                    mean, scale = h.mean(0), h.var(0, unbiased=False)
                    collected.append((mean, h.var(0, unbiased=True)))
                else:
                    mean, scale = stats[i]
                h = (h - mean) / torch.sqrt(scale + 1e-5) * s[f"{norms[i]}.weight"] + s[f"{norms[i]}.bias"]
                h = torch.relu(h)
        return h, collected

    size = chunk or len(train_split)
    per_chunk = [forward(train_split.x[i : i + size], None)[1] for i in range(0, len(train_split), size)]
    stats = [
        (torch.stack([c[layer][0] for c in per_chunk]).mean(0), torch.stack([c[layer][1] for c in per_chunk]).mean(0))
        for layer in range(len(norms))
    ]
    logits, _ = forward(evaluated.x, stats)
    return float(F.cross_entropy(logits, evaluated.y.long()))


def test_recomputed_statistics_average_fixed_size_chunks(tiny_data, two_solutions):
    """momentum=None: each chunk's batch mean and unbiased variance count equally (first BN layer, whose
    input does not depend on any other BN layer)."""
    small, _ = two_solutions
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options=OPTIONS)
    model.load_state_dict(small)
    model.eval()
    recompute_statistics(model, tiny_data.train, chunk=32)  # 96 samples: three chunks
    assert not model.training  # mode restored
    h = tiny_data.train.x @ small["net.1.weight"].T + small["net.1.bias"]
    chunks = h.split(32)
    torch.testing.assert_close(model.net[2].running_mean, torch.stack([c.mean(0) for c in chunks]).mean(0))
    torch.testing.assert_close(model.net[2].running_var, torch.stack([c.var(0) for c in chunks]).mean(0))


def test_networks_without_running_statistics_need_no_recompute(tiny_data):
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options=OPTIONS, batchnorm="batch")
    before = evaluate(model, tiny_data.train, 1000).loss
    recompute_statistics(model, tiny_data.train, 32)
    assert evaluate(model, tiny_data.train, 1000).loss == before
    assert not any(isinstance(m, nn.BatchNorm1d) and m.running_mean is not None for m in model.modules())


COMMITTED = REPO / "plots/interpolation.csv"


