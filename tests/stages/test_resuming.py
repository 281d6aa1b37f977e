"""stages.resuming: a training stage killed with SIGKILL mid-run resumes when re-run and gives the
uninterrupted result; what decides whether it may resume is its key."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from typer.testing import CliRunner

from lbgap.data import make_data_set, to_arrays
from lbgap.train.checkpoint import Checkpoint, Iterates
from lbgap.train.seeds import SeedPlan
from stages.params import load_params
from stages import train
from stages.resuming import resume_folder, resume_path

REPO = Path(__file__).resolve().parents[2]


def _command(out: Path, data: Path, params: Path) -> list[str]:
    return [sys.executable, "-m", "stages.train", "sb", "--data", str(data), "--models", str(out / "models/sb"),
            "--iterates", str(out / "models/sb_iterates"), "--metrics", str(out / "train_sb.json"),
            "--curves", str(out / "train_sb.csv"), "--params", str(params)]


@pytest.fixture
def slow_run(tmp_path, make_tiny_params):
    """Params and data for a train@sb that lasts a few seconds: 2 seeds × 25 epochs of 100 steps."""
    params = make_tiny_params()
    params["data"].update(num_train=1500, num_test=200)
    params["runtime"]["models"]["mlp"].update(width=32)
    params["train"].update(max_epochs=25, patience=25)
    params["trajectory"].update(at=[0, 1, 2, 4, 8, 16])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    data = tmp_path / "dataset.npz"
    np.savez(data, **to_arrays(make_data_set("mnist1d", num_train=1500, num_test=200, seed=0)))
    return path, data


def test_a_killed_training_stage_resumes_and_equals_the_uninterrupted_run(tmp_path, slow_run):
    params, data = slow_run
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    whole = tmp_path / "whole"
    subprocess.run(_command(whole, data, params), cwd=REPO, env=env, check=True, capture_output=True)

    killed = tmp_path / "killed"
    snapshot = killed / "models/sb.resume/seed_1.epoch.pt"
    process = subprocess.Popen(_command(killed, data, params), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not snapshot.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # a few epochs into seed 1
    assert process.poll() is None, "the run ended before it could be killed (make it longer)"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "models/sb").exists() and not (killed / "train_sb.json").exists()  # no half outputs

    resumed = subprocess.run(_command(killed, data, params), cwd=REPO, env=env, check=True, capture_output=True, text=True)
    found = re.search(r"resuming from \S+: seed\(s\) 0 finished; seed 1 from epoch (\d+)", resumed.stderr)
    assert found, resumed.stderr[-2000:]
    # the progress bar counts the epochs this run trained: seed 1's after the snapshot, none of seed 0's
    trained = int(re.findall(r"(\d+)/50 \[", resumed.stderr)[-1])
    assert trained == 25 - int(found.group(1)) < 25
    assert not (killed / "models/sb.resume").exists()  # removed once the outputs are written
    for seed in (0, 1):
        a, b = Checkpoint.load(whole / "models/sb", seed), Checkpoint.load(killed / "models/sb", seed)
        assert all(torch.equal(a.final[k], b.final[k]) and torch.equal(a.x0[k], b.x0[k]) for k in a.final)
        ia, ib = Iterates.load(whole / "models/sb_iterates", seed), Iterates.load(killed / "models/sb_iterates", seed)
        assert sorted(ia.states) == sorted(ib.states) and ia.stopped_at == ib.stopped_at == 25
        assert all(torch.equal(ia.states[e][k], ib.states[e][k]) for e in ia.states for k in ia.states[e])
    pd.testing.assert_frame_equal(pd.read_csv(whole / "train_sb.csv"), pd.read_csv(killed / "train_sb.csv"))
    drop = lambda m: {**m, "per_seed": [{k: v for k, v in s.items() if k != "seconds"} for s in m["per_seed"]],
                      "summary": {k: v for k, v in m["summary"].items() if k != "seconds"}}
    assert drop(json.loads((whole / "train_sb.json").read_text())) == drop(json.loads((killed / "train_sb.json").read_text()))


def test_a_resume_key_is_plain_settings_data_code_and_device(tmp_path, params_file, mnist1d_file):
    settings = lambda: (load_params(params_file).mitigation["sam"], load_params(params_file).runtime)
    folder = lambda config, device="cpu": resume_folder(tmp_path / "models", list(config), mnist1d_file, torch.device(device))
    folder(settings()).path.joinpath("mark").write_text("kept")
    assert (folder(settings()).path / "mark").exists()  # read again: the same key
    assert not (folder(settings(), "meta").path / "mark").exists()  # another device: emptied
    with pytest.raises(TypeError, match="plain settings, not function"):  # whose repr would change every run
        resume_folder(tmp_path / "models", [lambda: 0], mnist1d_file, torch.device("cpu"))


def test_a_leftover_resume_folder_is_removed_also_when_this_run_does_not_resume(tmp_path, params_file, mnist1d_file, monkeypatch):
    """An interrupted run trained seed by seed; the re-run trains them together (more GPU memory free), opens no
    resume folder, and must still remove the old one with its outputs."""
    leftover = resume_path(tmp_path / "models/sb")
    leftover.mkdir(parents=True)
    (leftover / "seed_0.epoch.pt").write_bytes(b"a snapshot of another run")
    monkeypatch.setattr(train, "plan_seeds", lambda *args: SeedPlan(together=True, resumable=False))
    result = CliRunner().invoke(train.app, _command(tmp_path, mnist1d_file, params_file)[3:])  # after `python -m stages.train`
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "train_sb.json").read_text())["seeds_together"] is True
    assert "resuming" not in result.output and not leftover.exists()
