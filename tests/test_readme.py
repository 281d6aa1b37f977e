"""The README's set-up commands are the ones CI and the pipeline really use."""

from __future__ import annotations

from tests.conftest import REPO


def test_ci_runs_the_readme_test_command():
    command = (REPO / ".ci/run").read_text().strip().splitlines()[-1]
    assert command in (REPO / "README.md").read_text()


def test_readme_run_command_reproduces_the_pipeline():
    assert 'pip install -q -e . && dvc repro' in (REPO / "README.md").read_text()
