"""The scripts refuse what they cannot run before they run anything: scripts/paper_configurations.sh,
scripts/study_grid.sh, and scripts/gather_cells.py with a shard folder that is not one (the gathering itself
runs through the real dvc client in tests/stages/test_pipeline.py, TestSplitGrid)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts/paper_configurations.sh"


def _run(*names: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *names], capture_output=True, text=True, timeout=120)


def test_an_unknown_configuration_is_refused_naming_the_known_ones():
    result = _run("C9")
    assert result.returncode == 2 and "unknown configuration: C9" in result.stderr and "C1 C2 C3 C4" in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without a GPU")
def test_the_cifar_networks_are_refused_without_a_gpu():
    result = _run("C1")
    assert result.returncode == 1 and "torch sees no CUDA GPU" in result.stderr


@pytest.mark.parametrize("args", [[], ["cells"], ["gathr"]])
def test_the_study_grid_script_says_how_it_is_called(args):
    result = subprocess.run(["bash", str(REPO / "scripts/study_grid.sh"), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and ("usage:" in result.stderr or "name the cells" in result.stderr), result.stderr


def test_a_shard_folder_without_a_lock_or_its_outputs_is_refused_and_nothing_changes(tmp_path):
    gather = [sys.executable, str(REPO / "scripts/gather_cells.py")]
    (tmp_path / "empty").mkdir()
    result = subprocess.run([*gather, "empty", "study@64"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "holds no dvc.lock" in result.stderr
    shard = tmp_path / "shard"
    shard.mkdir()
    (shard / "dvc.lock").write_text("schema: '2.0'\nstages:\n  study@64:\n    outs:\n    - path: metrics/study/b64.json\n")
    (tmp_path / "dvc.lock").write_text("ours\n")
    result = subprocess.run([*gather, "shard", "study@64"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "metrics/study/b64.json are not in shard: the folder lacks them" in result.stderr
    assert (tmp_path / "dvc.lock").read_text() == "ours\n" and not (tmp_path / "metrics").exists()


def test_a_gathering_that_fails_midway_puts_the_checkout_back(tmp_path):
    """`dvc commit` fails here (no DVC project): the shard's output it had copied in is removed again and
    dvc.lock is as it was."""
    shard = tmp_path / "shard"
    (shard / "metrics/study").mkdir(parents=True)
    (shard / "dvc.lock").write_text("schema: '2.0'\nstages:\n  study@64:\n    outs:\n    - path: metrics/study/b64.json\n")
    (shard / "metrics/study/b64.json").write_text("{}")
    (tmp_path / "dvc.lock").write_text("ours\n")
    result = subprocess.run([sys.executable, str(REPO / "scripts/gather_cells.py"), "shard", "study@64"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "dvc commit" in result.stderr, result.stderr
    assert (tmp_path / "dvc.lock").read_text() == "ours\n" and not (tmp_path / "metrics/study/b64.json").exists()
