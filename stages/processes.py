"""What a stage runs on: the device (`runtime.device`), torch's CPU threads (`runtime.threads`) and, for
train@sb / train@lb, the data-parallel workers started under torchrun (`runtime.workers`)."""

from __future__ import annotations

import os
import sys

import torch

from lbgap.devices import resolve_device
from lbgap.params import ParamsError
from lbgap.params.sections import Runtime
from lbgap.train.parallel import Workers, join, launched_workers, local_workers


def device_for(runtime: Runtime) -> torch.device:
    """The torch.device named by `runtime.device` (auto: a GPU when there is one); a missing one is a ParamsError."""
    try:
        return resolve_device(runtime.device)
    except ValueError as error:
        raise ParamsError(f"params: 'runtime.device': {error}") from None


def threads_for(runtime: Runtime) -> int | None:
    """torch's CPU threads for this process: `runtime.threads`; when null, the cores ÷ the data-parallel
    workers on this machine, or None (torch's own default: OMP_NUM_THREADS when set, else the cores)."""
    if runtime.threads is not None:
        return runtime.threads
    return max(1, (os.cpu_count() or 1) // local_workers()) if local_workers() > 1 else None


def start_workers(runtime: Runtime) -> Workers | None:
    """None for one process (`runtime.workers` 1). With more, a process started by plain `python -m` starts
    them again under torchrun on this machine (it does not return); one started by torchrun joins the
    others and returns which worker it is. torchrun's world size must equal `runtime.workers`, which
    the stage's results depend on (BN normalizes per worker)."""
    workers = launched_workers()
    if workers is None and runtime.workers == 1:
        return None
    device = device_for(runtime)
    if runtime.sync_batchnorm and device.type != "cuda":
        raise ParamsError("params: 'runtime.sync_batchnorm' needs CUDA (PyTorch's SyncBatchNorm does not run on the CPU)")
    if workers is None:
        module = sys.modules["__main__"].__spec__.name  # e.g. stages.train
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={runtime.workers}",
                   "-m", module, *sys.argv[1:]]
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, command)
    if workers.world_size != runtime.workers:
        raise ParamsError(f"params: 'runtime.workers' is {runtime.workers} but torchrun started {workers.world_size} "
                          "processes; set it to nodes × processes per node")
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    join(workers, device)
    return workers
