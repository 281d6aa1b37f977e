"""Bad input, for every stage of dvc.yaml: one `error:` line, exit code 2, every existing output left
exactly as it was, no temporary files left behind."""

from __future__ import annotations

import dataclasses
import importlib
import io
import shlex
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from dvc.repo import Repo
from typer.testing import CliRunner

from lbgap.data import make_data_set, to_arrays
from lbgap.models import build_model
from lbgap.params import ParamsError
from lbgap.train.checkpoint import Checkpoint
from stages.params import InputError, load_params

REPO = Path(__file__).resolve().parents[2]  # the repository root

runner = CliRunner()
SENTINEL = b"an earlier run's output\n"


def _stages() -> list[tuple[str, str, list[str], list[str], list[str]]]:
    """(name, module, args, input paths, output paths) of every stage in dvc.yaml."""
    with Repo(str(REPO)) as repo:
        found = []
        for stage in repo.index.stages:
            words = shlex.split(stage.cmd)
            inputs = [d.def_path for d in stage.deps if type(d).__name__ != "ParamsDependency" and not d.def_path.endswith(".py")]
            found.append((stage.name, words[2], words[3:], inputs, [o.def_path for o in stage.outs]))
        return found


STAGES = _stages()
# name → text of params.yaml (built from the tiny params): what the file reader adds to lbgap.params's own
# checks (tests/params/test_params.py holds the typos, ranges and NaNs of single keys)
BAD_PARAMS = {
    "malformed YAML": lambda p: "seeds: [1, 2\nbatch: 4\n",
    "empty file": lambda p: "",
    "runtime.models: abc": lambda p: {**p, "runtime": {**p["runtime"], "models": "abc"}},
    "runtime.models.mlp: [1, 2]": lambda p: {**p, "runtime": {**p["runtime"], "models": {"mlp": [1, 2]}}},
    "mitigation: [sam]": lambda p: {**p, "mitigation": ["sam"]},
    "unknown remedy": lambda p: {**p, "mitigation": {**p["mitigation"], "sma": {"rho": 0.1}}},
    "train.betas: [a, b]": lambda p: {**p, "train": {**p["train"], "betas": ["a", "b"]}},
    "epsilons: [.inf]": lambda p: {**p, "sharpness": {**p["sharpness"], "epsilons": [float("inf")]}},
    "alpha_max: .inf": lambda p: {**p, "interpolate": {**p["interpolate"], "alpha_max": float("inf")}},
    "lr: .inf": lambda p: {**p, "train": {**p["train"], "lr": float("inf")}},
    "unknown section": lambda p: {**p, "sharpnes": {}},
}
EXPECTED = {"malformed YAML": "not valid YAML", "unknown remedy": "did you mean 'mitigation.sam'"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, make_tiny_params) -> Path:
    """Tiny data and SB/LB checkpoints at the paths dvc.yaml names, the tiny params, and every stage
    output pre-filled with a sentinel (folders hold one sentinel file)."""
    root = tmp_path_factory.mktemp("workspace")
    params = make_tiny_params()
    committed = yaml.safe_load((REPO / "params.yaml").read_text())
    params["sweep"]["batches"] = committed["sweep"]["batches"]  # dvc.yaml's matrices
    params["grid"].update(optimizers=committed["grid"]["optimizers"], batches=committed["grid"]["batches"])
    params["study"]["batch_sizes"] = committed["study"]["batch_sizes"]
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    d = params["data"]
    data = make_data_set("mnist1d", num_train=d["num_train"], num_test=d["num_test"], seed=d["seed"], validation=d["validation"])
    (root / "data").mkdir()
    np.savez(root / "data/dataset.npz", **to_arrays(data))
    for regime in ("sb", "lb"):
        folder = root / "models" / regime
        folder.mkdir(parents=True)
        for seed in range(params["seeds"]):
            model = build_model("mlp", input_shape=(40,), num_classes=10, seed=seed, options=params["runtime"]["models"]["mlp"])
            Checkpoint(model.state_dict(), model.state_dict(), batch_size=20, seed=seed).save(folder)
    for _, _, _, _, outs in STAGES:
        for out in outs:
            path = root / out
            if path.exists():
                continue
            if path.suffix:  # a file
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(SENTINEL)
            else:
                path.mkdir(parents=True, exist_ok=True)
                (path / "sentinel").write_bytes(SENTINEL)
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _invoke(root: Path, module_name: str, args: list[str], monkeypatch):
    monkeypatch.chdir(root)
    return runner.invoke(importlib.import_module(module_name).app, args)


def _assert_refused(result, before: dict[str, bytes], root: Path, fragment: str = "") -> None:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert fragment in lines[0]
    assert "weights_only" not in lines[0] and "Traceback" not in result.output
    assert _snapshot(root) == before  # nothing written, nothing removed, no temporary file left


@pytest.mark.parametrize("bad", BAD_PARAMS)
def test_every_kind_of_bad_params_file_is_one_clear_error(tmp_path, bad, tiny_params):
    """The one reader every stage starts with (stages.params.load_params) refuses each kind of bad file."""
    made = BAD_PARAMS[bad](tiny_params)
    (tmp_path / "params.yaml").write_text(made if isinstance(made, str) else yaml.safe_dump(made, sort_keys=False))
    with pytest.raises((ParamsError, InputError)) as error:
        load_params(tmp_path / "params.yaml")
    assert EXPECTED.get(bad, "") in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("stage", [name for name, *_ in STAGES])
def test_every_stage_refuses_bad_params_before_it_writes(workspace, monkeypatch, stage, tiny_params):
    """A value no stage but the remedies' reads (a remedy's option) stops every stage, outputs untouched."""
    good = (workspace / "params.yaml").read_text()
    bad = {**tiny_params, "mitigation": {**tiny_params["mitigation"], "sam": {**tiny_params["mitigation"]["sam"], "rho": -1.0}}}
    bad["sweep"]["batches"] = yaml.safe_load(good)["sweep"]["batches"]
    (workspace / "params.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
    try:
        before = _snapshot(workspace)
        (_, module, args, _, _), = [s for s in STAGES if s[0] == stage]
        _assert_refused(_invoke(workspace, module, args, monkeypatch), before, workspace, "'mitigation.sam.rho' must be >= 0")
    finally:
        (workspace / "params.yaml").write_text(good)


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _bit_flipped(data: bytes) -> bytes:
    flipped = bytearray(data)
    for i in range(len(flipped) // 3, len(flipped), max(1, len(flipped) // 50)):
        flipped[i] ^= 0x10
    return bytes(flipped)


def _one_weight_flipped(data: bytes) -> bytes:
    """One bit flipped in the middle of the largest tensor's stored bytes (payload, not zip structure):
    torch.load reads such a file without complaint; an npz's CRC catches it."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    tensors = [info for info in archive.infolist() if "/data/" in info.filename]  # a checkpoint's tensor payloads
    largest = max(tensors or archive.infolist(), key=lambda info: info.file_size)
    name_length, extra_length = struct.unpack("<HH", data[largest.header_offset + 26 : largest.header_offset + 30])
    flipped = bytearray(data)
    flipped[largest.header_offset + 30 + name_length + extra_length + largest.file_size // 2] ^= 0x04
    return bytes(flipped)


CORRUPTIONS = {"truncated": _truncated, "empty": lambda data: b"", "bit-flipped": _bit_flipped,
               "one weight flipped": _one_weight_flipped}


@pytest.mark.parametrize("corruption", [*CORRUPTIONS, "wrong shape"])
@pytest.mark.parametrize("target", ["data/dataset.npz", "models/sb/seed_0.pt", "models/lb/seed_0.pt"])
def test_corrupt_inputs_name_the_file_and_the_fix(workspace, monkeypatch, target, corruption):
    path = workspace / target
    good = path.read_bytes()
    if corruption == "wrong shape" and target.endswith(".npz"):
        arrays = dict(np.load(path))
        arrays["y_train"] = arrays["y_train"][:-3]  # labels no longer pair with the inputs
        with path.open("wb") as handle:
            np.savez(handle, **arrays)
    elif corruption == "wrong shape":  # a checkpoint of another width
        model = build_model("mlp", input_shape=(40,), num_classes=10, seed=0, options={"width": 7, "depth": 2})
        Checkpoint(model.state_dict(), model.state_dict(), batch_size=20, seed=0).save(path.parent)
    else:
        path.write_bytes(CORRUPTIONS[corruption](good))
    readers = [(n, m, a) for n, m, a, inputs, _ in STAGES if any(target == i or target.startswith(i + "/") for i in inputs)]
    assert readers, f"no stage reads {target}"
    try:
        before = _snapshot(workspace)
        for name, module, args in readers:
            if name.startswith("mitigate") and target.startswith("models/lb"):
                continue
            result = _invoke(workspace, module, args, monkeypatch)
            _assert_refused(result, before, workspace, str(Path(target).parent if target.endswith(".pt") else target))
            assert "dvc checkout" in result.output and "dvc repro -f" in result.output, (name, result.output)
    finally:
        path.write_bytes(good)


def test_the_report_refuses_unreadable_inputs(workspace, monkeypatch):
    """The report reads other stages' JSON and CSV: here they hold the sentinel text, which is neither."""
    (name, module, args, _, _), = [s for s in STAGES if s[0] == "report"]
    before = _snapshot(workspace)
    result = _invoke(workspace, module, args, monkeypatch)
    _assert_refused(result, before, workspace, "is not valid JSON")


def test_report_inputs_missing_fields_are_one_error(workspace, monkeypatch):
    """Inputs that parse but lack a field the report reads (a stage of another version, a hand edit)."""
    from lbgap.params import as_yaml
    from lbgap.report.run import RunResults
    from stages import report

    (name, module, args, _, _), = [s for s in STAGES if s[0] == "report"]
    monkeypatch.setattr(report, "read_run", lambda settings, inputs: RunResults(as_yaml(settings), *({} for _ in range(len(dataclasses.fields(RunResults)) - 1))))
    before = _snapshot(workspace)
    _assert_refused(_invoke(workspace, module, args, monkeypatch), before, workspace, "lacks an expected field")


def test_every_stage_command_commits_its_outputs_all_or_nothing():
    """Each stage's command is wrapped by `stages.outputs.stage` (deferred, all-together renames)."""
    for name, module, _, _, _ in STAGES:
        assert getattr(importlib.import_module(module).main, "is_stage", False), name
