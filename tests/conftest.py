"""Shared fixtures: tiny data, tiny networks, tiny params and tiny data files in the formats torchvision
reads, so the whole suite runs in minutes. Tests get them as fixtures, never by importing another test file.

Fake files: MNIST / Fashion-MNIST as IDX (big-endian magic 0x0803 / 0x0801, dims, then uint8 pixels /
labels), optionally gzipped as distributed; CIFAR-10/100 as the "python version" pickles (dicts with
'data' (N, 3072) uint8 in CHW order and 'labels' / 'fine_labels') plus the meta file with class names."""

from __future__ import annotations

import copy
import dataclasses
import gzip
import os
import pickle
import re
import struct
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from torchvision import datasets

from lbgap.data import DataSet, Split, make_data_set, to_arrays
from lbgap.models import build_model
from lbgap.train.loop import TrainConfig, train

REPO = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two xdist workers share the machine's cores: one thread each (and in the stages they start, which
    # inherit the variable) instead of both oversubscribing them; tiny networks gain nothing from two.
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def _blobs(n: int, seed: int, features: int = 6, classes: int = 3) -> Split:
    """Gaussian blobs around fixed class centres: easy to fit, so short training gets somewhere."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, features, generator=torch.Generator().manual_seed(1234)) * 2
    y = torch.randint(0, classes, (n,), generator=generator)
    x = centres[y] + torch.randn(n, features, generator=generator)
    return Split(x, y)


@pytest.fixture
def tiny_data() -> DataSet:
    return DataSet(_blobs(96, seed=0), _blobs(48, seed=1))


def _tiny_params() -> dict:
    """The repository's params.yaml shrunk to seconds: 300 mnist1d samples, a 16-unit net, 2 seeds."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params = copy.deepcopy(params)
    params.update(seeds=2, batch=100, small_batch=20)
    params["data"].update(num_train=200, num_test=100, validation=50)
    params["runtime"]["models"]["mlp"].update(width=16, depth=2)
    params["train"].update(max_epochs=3)
    params["sharpness"].update(subspace_dim=4, max_iter=3)
    params["interpolate"].update(points=5)
    params.update(mitigation_seeds=1)
    # two remedies keep the dvc tests short: a step (sam) and an optimizer trained at SB too (sgd)
    params.update(remedies=["sam", "sgd"])
    params["tuning"]["grids"].update(sam={"rho": [0.02, 0.05]}, sgd={"lr": [0.01, 0.05]})
    params["predictors"].update(bootstrap=50, min_train_accuracy=0.0)  # a 3-epoch run fits nothing
    params["sweep"].update(batches=[20, 100], epochs=2, seeds=2)
    params["grid"].update(optimizers=["adam"], batches=[20, 100], learning_rates={"sgd": [0.05], "adam": [0.003]}, max_epochs=2)
    params["study"].update(batch_sizes=[20, 100], learning_rates=[0.05, 0.2], widths=[8], depths=[1], weight_decays=[0.0, 0.001],
                           dropouts=[0.0], max_epochs=3, milestone=1.0)
    params["warm_start"].update(sb_epochs=2, every=1, lb_epochs=1)
    params["trajectory"].update(at=[0, 1, 2])
    params["curvature"].update(
        samples=100, lanczos={"top_k": 2, "steps": 5}, trace={"tol": 0.05, "max_probes": 4},
        density={"runs": 1, "steps": 5}, epsilons=[0.001, 0.01],
        pac_bayes={"max_drop": 0.1, "draws": 1, "steps": 4, "epsilon": 0.001},
        noise_scale={"small": 4, "big": 32, "batches": 2},
    )
    params["surface"].update(points=3)
    return params


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(_tiny_params(), sort_keys=False))
    return path


@pytest.fixture(scope="session")
def mnist1d_file(tmp_path_factory) -> Path:
    """The tiny data set as the prepare stage would write it."""
    path = tmp_path_factory.mktemp("data") / "dataset.npz"
    p = _tiny_params()["data"]
    np.savez(path, **to_arrays(make_data_set("mnist1d", num_train=p["num_train"], num_test=p["num_test"], seed=p["seed"], validation=p["validation"])))
    return path


@pytest.fixture(scope="session")
def blobs():
    """blobs(n, seed, features=6, classes=3) → a Split of Gaussian blobs around fixed class centres."""
    return _blobs


@pytest.fixture
def tiny_params() -> dict:
    """A fresh copy of the tiny params (see `_tiny_params`)."""
    return _tiny_params()


@pytest.fixture(scope="session")
def make_tiny_params():
    """For fixtures wider than one test: a function returning a fresh copy of the tiny params."""
    return _tiny_params


def _repeated_prose(markdown: str) -> set[str]:
    """The headings and prose sentences (over 40 characters) a markdown report holds more than once; tables,
    figure links and code blocks are not prose."""
    headings = re.findall(r"^#+ .*$", markdown, flags=re.M)
    prose = re.sub(r"```.*?```", "", markdown, flags=re.S)
    lines = [line for line in prose.splitlines() if line and not line.startswith(("|", "![", "#"))]
    sentences = [s.strip() for s in re.split(r"(?<=\.)\s+", " ".join(lines)) if len(s.strip()) > 40]
    return {h for h in headings if headings.count(h) > 1} | {s for s in sentences if sentences.count(s) > 1}


@pytest.fixture(scope="session")
def repeated_prose():
    """repeated_prose(markdown) → the headings and prose sentences it holds more than once."""
    return _repeated_prose


@pytest.fixture
def curvature_settings(tiny_params):
    """curvature_settings(**lanczos) → the curvature measures' settings from the tiny params, with
    `curvature.lanczos` keys replaced as given."""
    from lbgap.experiments.curvature import CurvatureSettings
    from lbgap.params import read_params

    def make(**lanczos):
        params = read_params(tiny_params)
        curvature = dataclasses.replace(params.curvature, lanczos=dataclasses.replace(params.curvature.lanczos, **lanczos))
        return CurvatureSettings.of(curvature, params.sharpness, params.runtime.eval_chunk)

    return make


def _set_key(params: dict, dotted: str, value) -> dict:
    node = params
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    return params


@pytest.fixture(scope="session")
def set_key():
    """set_key(params, "a.b.c", value) → params with that key set (in place)."""
    return _set_key


TEST_TRAINING = {"max_epochs": 3, "patience": 20, "min_delta": 1e-3, "lr": 1e-3, "betas": (0.9, 0.999), "eval_chunk": 10_000}


@pytest.fixture(scope="session")
def train_config():
    """train_config(**changes) → a TrainConfig for tests (3 epochs of Adam at 1e-3 unless changed)."""
    return lambda **changes: TrainConfig(**{**TEST_TRAINING, **changes})


@pytest.fixture
def trained_mlp(tiny_data, train_config):
    """trained_mlp(seed=0, depth=2) → an 8-unit MLP trained 5 epochs on the blobs, in eval mode."""

    def make(seed: int = 0, depth: int = 2):
        model = build_model("mlp", input_shape=(6,), num_classes=3, seed=seed, options={"width": 8, "depth": depth})
        train(model, tiny_data, batch_size=16, config=train_config(max_epochs=5, lr=1e-2), seed=seed)
        return model.eval()

    return make


@pytest.fixture
def two_solutions(tiny_data, train_config) -> list[dict]:
    """The state_dicts of one x0 trained 3 epochs with batch 8 and with batch 48 (width 8, depth 2)."""
    states = []
    for batch_size in (8, 48):
        model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options={"width": 8, "depth": 2})
        train(model, tiny_data, batch_size=batch_size, config=train_config(max_epochs=3), seed=0)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
    return states


def idx_images(images: np.ndarray) -> bytes:
    """(N, H, W) uint8 → IDX3 bytes."""
    n, h, w = images.shape
    return struct.pack(">IIII", 0x0803, n, h, w) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x0801, len(labels)) + labels.astype(np.uint8).tobytes()


def fake_mnist_arrays(n_train: int, n_test: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }


def write_fake_mnist(folder: Path, arrays: dict[str, np.ndarray], gzipped: bool) -> None:
    """The four IDX files named as distributed, in `folder` (gzipped like the downloads or Debian's)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        payload = idx_images(array) if array.ndim == 3 else idx_labels(array)
        if gzipped:
            with gzip.open(folder / f"{name}.gz", "wb") as handle:
                handle.write(payload)
        else:
            (folder / name).write_bytes(payload)


def write_fake_cifar(root: Path, cls: type[datasets.CIFAR10], per_batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Every file `cls` expects under root/<base_folder>; returns the images (N, 32, 32, 3) and labels."""
    rng = np.random.default_rng(seed)
    folder = root / cls.base_folder
    folder.mkdir(parents=True, exist_ok=True)
    classes = 100 if cls is datasets.CIFAR100 else 10
    label_key = "fine_labels" if classes == 100 else "labels"
    written = {"train_x": [], "train_y": [], "test_x": [], "test_y": []}
    for split, files in (("train", cls.train_list), ("test", cls.test_list)):
        for name, _ in files:
            chw = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
            labels = rng.integers(0, classes, per_batch).tolist()
            with (folder / name).open("wb") as handle:
                pickle.dump({"data": chw.reshape(per_batch, 3072), label_key: labels}, handle)
            written[f"{split}_x"].append(chw.transpose(0, 2, 3, 1))
            written[f"{split}_y"].append(np.asarray(labels))
    with (folder / cls.meta["filename"]).open("wb") as handle:
        pickle.dump({cls.meta["key"]: [f"class{i}" for i in range(classes)]}, handle)
    return {key: np.concatenate(parts) for key, parts in written.items()}


@pytest.fixture(scope="session")
def fakes() -> SimpleNamespace:
    """Writers of tiny data files in torchvision's on-disk formats: mnist_arrays(n_train, n_test),
    write_mnist(folder, arrays, gzipped), write_cifar(root, cls, per_batch) (see the module docstring)."""
    return SimpleNamespace(mnist_arrays=fake_mnist_arrays, write_mnist=write_fake_mnist, write_cifar=write_fake_cifar)


@pytest.fixture
def data64(tiny_data) -> DataSet:
    """The blobs in float64. In float32 the batched and single matmuls round differently, and Adam turns
    that rounding into visible steps for the biases in front of BatchNorm (their true gradient is 0, so
    m/√v of pure rounding noise is O(1)); in float64 the noise sits far below Adam's ε and the two
    ways of training must agree to ~1e-9 — any real difference (sample order, state, stopping) would not."""
    return DataSet(Split(tiny_data.train.x.double(), tiny_data.train.y), Split(tiny_data.test.x.double(), tiny_data.test.y))


@pytest.fixture(scope="session")
def budget(train_config) -> TrainConfig:
    """Adam at 1e-2 with patience 1, which would stop at once: fixed budgets must override it."""
    return train_config(max_epochs=50, patience=1, min_delta=0.0, lr=1e-2)


@pytest.fixture(scope="session")
def model_pair():
    """model_pair(seed=0) → two identical 8-unit MLPs, their Adam optimizers (lr 1e-2) and one batch (x, y)."""

    def make(seed: int = 0):
        models = [build_model("mlp", input_shape=(6,), num_classes=3, seed=seed, options={"width": 8, "depth": 2}) for _ in range(2)]
        optimizers = [torch.optim.Adam(m.parameters(), lr=1e-2) for m in models]
        generator = torch.Generator().manual_seed(seed)
        x, y = torch.randn(16, 6, generator=generator), torch.randint(0, 3, (16,), generator=generator)
        return models, optimizers, x, y

    return make


@pytest.fixture(scope="session")
def committed_run():
    """The default run's results as committed (metrics/ and plots/ are in git), read as the report stage
    reads them, with params.yaml."""
    from stages.params import load_params
    from stages.report import read_run

    return read_run(load_params(REPO / "params.yaml"), report_inputs(REPO))


def report_arguments(root: Path) -> list:
    """dvc.yaml's `report` command's arguments, every path under `root` (its one reading of that command)."""
    import shlex

    words = shlex.split(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["report"]["cmd"])[3:]
    return [word if word.startswith("--") else root / word for word in words]


@pytest.fixture(scope="session")
def report_args():
    """report_args(root) → the report command's arguments as dvc.yaml gives them, paths under `root`."""
    return report_arguments


def report_inputs(root: Path):
    """The report stage's inputs as dvc.yaml's `report` command names them, under `root`."""
    import dataclasses

    from stages.report import Inputs

    words = report_arguments(root)
    given = {words[i].removeprefix("--").replace("-", "_"): words[i + 1] for i in range(0, len(words) - 1, 2)}
    return Inputs(**{f.name: given[f.name] for f in dataclasses.fields(Inputs)})


@pytest.fixture(scope="session")
def small_mlp():
    """small_mlp(seed=0, width=8, depth=1) → an untrained MLP for the 6-feature, 3-class blobs."""
    return lambda seed=0, width=8, depth=1: build_model("mlp", input_shape=(6,), num_classes=3, seed=seed, options={"width": width, "depth": depth})


@pytest.fixture(scope="session")
def states_equal():
    """states_equal(a, b) → whether two state_dicts hold bit-identical tensors (a's keys)."""
    return lambda a, b: all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="session")
def assert_same_state():
    """assert_same_state(model_a, model_b): every tensor of their state_dicts bit-identical."""

    def check(a, b) -> None:
        sa, sb = a.state_dict(), b.state_dict()
        for name in sa:
            assert torch.equal(sa[name], sb[name]), name

    return check


@pytest.fixture(scope="session")
def evaluate_recomputed():
    """evaluate_recomputed(model, split) → loss and accuracy over `split` after recomputing the model's BN
    statistics on it (how the measures evaluate weights training did not produce)."""
    from lbgap.train.batchnorm import recompute_statistics
    from lbgap.train.evaluation import evaluate

    def run(model, split):
        recompute_statistics(model, split, 1000)
        return evaluate(model, split, 1000)

    return run


@pytest.fixture(autouse=True)
def close_figures():
    """Figures a test built are closed after it (the stages close theirs when they save them)."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
