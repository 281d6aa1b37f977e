"""lbgap.devices: naming a device, and mixed precision only where it is meant to apply."""

from __future__ import annotations

import contextlib

import pytest
import torch

from lbgap.devices import autocast, resolve_device


@pytest.mark.parametrize(("cuda", "mps", "expected"), [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_the_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto") == torch.device(expected)
    assert resolve_device("cpu") == torch.device("cpu")  # always there


def test_unknown_or_absent_devices_are_value_errors():
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda, mps"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device cuda requested but torch finds none"):
            resolve_device("cuda")


@pytest.mark.filterwarnings("ignore:CUDA is not available")  # building the CUDA context on a CPU machine warns
def test_autocast_is_a_no_op_off_cuda_and_bfloat16_on_it():
    assert isinstance(autocast(torch.device("cpu"), True), contextlib.nullcontext)
    assert isinstance(autocast(torch.device("cuda"), False), contextlib.nullcontext)
    with autocast(torch.device("cpu"), True):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32  # the CPU keeps float32
    context = autocast(torch.device("cuda"), True)
    assert isinstance(context, torch.autocast) and context.fast_dtype == torch.bfloat16
