"""scripts/paper_configurations.sh refuses what it cannot run before it runs anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "scripts/paper_configurations.sh"


def _run(*names: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *names], capture_output=True, text=True, timeout=120)


def test_an_unknown_configuration_is_refused_naming_the_known_ones():
    result = _run("C9")
    assert result.returncode == 2 and "unknown configuration: C9" in result.stderr and "C1 C2 C3 C4" in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without a GPU")
def test_the_cifar_networks_are_refused_without_a_gpu():
    result = _run("C1")
    assert result.returncode == 1 and "torch sees no CUDA GPU" in result.stderr
