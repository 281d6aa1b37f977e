"""The pipeline end to end through the real dvc client, on tiny params in a temporary git repository."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from torchvision import datasets

REPO = Path(__file__).resolve().parents[2]  # the repository root


pytestmark = pytest.mark.pipeline
STRATEGIES = ["sam", "sgd"]  # the remedies of tests/conftest.py's tiny params
MITIGATE = [f"mitigate@{s}" for s in STRATEGIES]
TUNE = [f"tune@{s}" for s in STRATEGIES]
EXPERIMENTS = ["sweep@20", "sweep@100", "warm_start", "trajectory@sb", "trajectory@lb"]  # tiny_params' sweep
BEYOND = ["curvature@sb", "curvature@lb", "rescaling", "surface"]
GRID = ["grid@adam-20", "grid@adam-100", "grid_summary"]  # tiny_params' grid: Adam at batch sizes 20 and 100
STUDY = ["study@20", "study@100", "study_summary"]  # tiny_params' study: batch sizes 20 and 100
# the README's `dvc exp show` filter: every column dropped but the experiment, the headline and the batch sizes
EXP_SHOW_COLUMNS = ["--drop", ".*", "--keep", "Experiment|test_acc|gap|phi|target|^batch$"]
STAGES = ["prepare", "train@sb", "train@lb", "sharpness@sb", "sharpness@lb", "interpolate", *TUNE, *MITIGATE, *EXPERIMENTS, *BEYOND,
          "predictors", *GRID, *STUDY, "report"]


def run(cwd: Path, *args: str) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def dvc(cwd: Path, *args: str) -> str:
    return run(cwd, sys.executable, "-m", "dvc", *args)


def ran(output: str) -> list[str]:
    """The stages dvc ran, in its order."""
    return re.findall(r"Running stage '([^']+)'", output)


def make_project(root: Path, params: dict) -> Path:
    """A git + DVC project in `root` with the repository's code and pipeline and these params, committed."""
    for name in ("lbgap", "stages"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    templates = [str(p.relative_to(REPO)) for p in (REPO / ".dvc/plots").glob("*.json")]
    for name in ("dvc.yaml", ".dvcignore", ".gitignore", ".dvc/config", ".dvc/.gitignore", ".dvc/plots/offline.html", *templates):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, root / name)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(root, "git", "init", "-q")
    run(root, "git", "config", "user.name", "lbgap tests")
    run(root, "git", "config", "user.email", "tests@lbgap.invalid")
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "tiny project")
    return root


@pytest.fixture(scope="session")
def project(tmp_path_factory, make_tiny_params) -> Path:
    return make_project(tmp_path_factory.mktemp("project"), make_tiny_params())


TOY_REMEDY = '''"""A toy remedy: plain Adam steps on the loss scaled by `factor`."""

from dataclasses import dataclass

from torch.nn import functional as F

from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import Recipe


@dataclass(frozen=True)
class ToyOptions:
    factor: float


@register_strategy("toy", ToyOptions)
def toy(options: ToyOptions, run: Run) -> Recipe:
    def step(model, optimizer, x, y):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        (options.factor * loss).backward()
        optimizer.step()
        return loss.detach()

    return Recipe(step=step)
'''


class TestOneProject:
    """One tiny project, built once per worker (session fixture `project`), through DVC's workflow. A
    class, so pytest-xdist (--dist loadscope) runs these tests on one worker, in order."""

    def test_repro_then_an_lb_experiment_reruns_only_the_lb_side(self, project):
        output = dvc(project, "repro")
        assert ran(output) == STAGES
        summary = json.loads((project / "metrics/summary.json").read_text())
        assert summary["batch"] == {"sb": 20, "lb": 100}
        assert "Data and pipelines are up to date" in dvc(project, "status")
        run(project, "git", "add", "-A")
        run(project, "git", "commit", "-qm", "baseline results")

        output = dvc(project, "exp", "run", "-S", "batch=50")
        assert ran(output) == [
            "train@lb", "sharpness@lb", "interpolate", *TUNE, *MITIGATE, "warm_start", "trajectory@lb", "curvature@lb", "rescaling", "surface",
            "predictors", "report",
        ]
        assert "Stage 'prepare' didn't change" in output and "Stage 'train@sb' didn't change" in output
        assert json.loads((project / "metrics/summary.json").read_text())["batch"]["lb"] == 50

        shown = json.loads(dvc(project, "exp", "show", "--json"))
        batches = set()
        for commit in shown:
            runs = [commit] + [exp for group in (commit.get("experiments") or []) for exp in group["revs"]]
            for entry in runs:
                data = (entry.get("data") or {})
                headline = data.get("metrics", {}).get("metrics/headline.json", {}).get("data")
                if headline:
                    assert set(data["metrics"]) == {"metrics/headline.json"}  # only the headline is a DVC metric
                    batches.add(data["params"]["params.yaml"]["data"]["batch"])
        assert batches == {100, 50}
        # the README's narrowed table fits a 200-column terminal: the headline of the baseline and the experiment
        drop, keep = EXP_SHOW_COLUMNS[1], EXP_SHOW_COLUMNS[3]
        assert f"dvc exp show --drop '{drop}' --keep '{keep}'" in (REPO / "README.md").read_text(), "the README's filter"
        table = run(project, "env", "COLUMNS=200", sys.executable, "-m", "dvc", "exp", "show", "--no-pager", *EXP_SHOW_COLUMNS)
        lines = [line for line in table.splitlines() if line.strip()]
        assert max(len(line) for line in lines) <= 200, table
        header = lines[1].split()
        assert header[:6] == ["Experiment", "test_acc_sb", "test_acc_lb", "gap", "phi_sb", "phi_lb"] and "phi_ratio" in header, table
        values = [line.split() for line in lines[2:] if not line.lstrip().startswith("─")]
        by_batch = {row[header.index("batch") - len(header)]: row for row in values if len(row) >= len(header)}
        assert set(by_batch) >= {"100", "50"}, table
        assert all(float(by_batch[b][header.index("gap") - len(header)]) for b in ("100", "50")), table

        plots = json.loads(dvc(project, "plots", "diff", "--json"))
        assert not plots.get("errors"), plots.get("errors")
        rendered = plots["data"]
        params = yaml.safe_load((project / "params.yaml").read_text())
        curves, sweep_accuracy = "Test accuracy during training, SB and LB, per seed", "Test accuracy against batch size, mean over seeds"
        warm_sharpness = "Warm start, sharpness of the LB solution against SB epochs before LB"
        trajectory = "Sharpness against training loss along training, SB and LB"
        for name in (curves, "plots/interpolation.png", "plots/interpolation_curvilinear.png", "plots/figures/sharpness.png",
                     "plots/figures/mitigation.png", "plots/mitigation/sam.png", sweep_accuracy, "Sharpness against batch size, mean over seeds",
                     "plots/figures/sweep.png",
                     "Warm start, test accuracy of the SB iterate and the LB solution from it, against SB epochs before LB",
                     warm_sharpness, "plots/warm_start.png", trajectory, "plots/figures/trajectory.png",
                     "Sharpness against epsilon, full space, mean over seeds, SB and LB", "plots/figures/hessian_density.png",
                     "plots/figures/epsilon_sensitivity.png", "plots/surface.png"):
            assert name in rendered, sorted(rendered)
        # a plot's id stays fixed across revisions; its title says the seeds it draws, from params.yaml
        titles = {name: rendered[name][0]["content"]["title"]["text"] for name in (curves, sweep_accuracy, warm_sharpness)}
        assert titles == {curves: f"Test accuracy during training, SB and LB, one line per seed ({params['seeds']} each)",
                          sweep_accuracy: f"Test accuracy against batch size, mean over {params['sweep']['seeds']} seeds",
                          warm_sharpness: f"{warm_sharpness}, seed {params['warm_start']['seed']}"}
        for name in (curves, sweep_accuracy, warm_sharpness, trajectory):
            revisions = {rev for item in rendered[name] for rev in item["revisions"]}
            assert revisions == {"HEAD", "workspace"}, name


    def test_a_strategys_param_a_new_remedy_a_sweep_batch_and_trajectory_epochs_rerun_only_what_they_touch(self, project):
        """Four changes, one repro (every stage start costs seconds), each with the stages it must and must not run:
        - SAM's grid changed: tune@sam, then mitigate@sam with the new choice; not tune@sgd or mitigate@sgd;
        - a new remedy — a module dropped into lbgap/remedies/, `mitigation.toy`, its grid, its name in `remedies`:
          dvc.yaml's foreach makes its stages;
        - a new batch size in the sweep: that point only, not the others;
        - other trajectory epochs: the train stages re-run (they may keep other iterates) and reproduce their
          checkpoints bit for bit, so DVC skips every stage that reads only those (sharpness, curvature, the warm
          start), and the trajectory stages run;
        then the predictors and the report."""
        dvc(project, "repro")  # no-op when the test above ran first
        (project / "lbgap/remedies/toy.py").write_text(TOY_REMEDY)
        params = yaml.safe_load((project / "params.yaml").read_text())
        params["mitigation"]["sam"]["rho"] = 0.1  # the declared value is one of the grid's
        params["tuning"]["grids"]["sam"] = {"rho": [0.1, 0.2]}
        params["mitigation"]["toy"] = {"factor": 2.0}
        params["tuning"]["grids"]["toy"] = {"factor": [1.0, 2.0]}
        params["remedies"].append("toy")
        params["sweep"]["batches"] = [20, 50, 100]
        params["trajectory"]["at"] = [0, 2]
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        output = dvc(project, "repro")
        # the warm start's epochs (1, 2 in tiny params) keep epoch 2 kept, so its iterates come out the same too
        assert sorted(ran(output)) == sorted(["train@sb", "train@lb", "tune@sam", "mitigate@sam", "tune@toy", "mitigate@toy", "sweep@50",
                                              "trajectory@sb", "trajectory@lb", "predictors", "report"])
        for skipped in ("sharpness@sb", "tune@sgd", "mitigate@sgd", "curvature@lb", "warm_start", "sweep@20", "grid@adam-20"):
            assert f"Stage '{skipped}' didn't change" in output
        summary = json.loads((project / "metrics/summary.json").read_text())
        assert set(summary["mitigation"]) == {*STRATEGIES, "toy"}
        report = (project / "report.md").read_text()
        assert all(f"LB + {s}" in report for s in [*STRATEGIES, "toy"])
        chosen = json.loads((project / "metrics/tuning/sam.json").read_text())["chosen"]
        assert chosen["rho"] in (0.1, 0.2) and json.loads((project / "metrics/mitigation/sam.json").read_text())["options"]["rho"] == chosen["rho"]
        sweep = (project / "plots/sweep.csv").read_text().splitlines()
        assert [line.split(",")[0] for line in sweep[1:]] == ["20", "50", "100"]
        along = (project / "plots/trajectory_sb.csv").read_text().splitlines()
        assert [line.split(",")[2] for line in along[1:]] == ["0", "2"]


class TestC1:
    """C1 on its own project: a scope of its own, so xdist runs it on the other worker, beside the above."""

    def test_c1_on_fake_cifar10_one_epoch_end_to_end(self, tmp_path, tiny_params, fakes):
        """The paper's C1 through every stage where the network's structure matters, on tiny CIFAR-10 pickles
        read by torchvision's own parser (checksums off: the fake files cannot match torchvision's MD5s):
        data, training, φ in the full space and a subspace, the paths (BN statistics of conv layers), image
        augmentation, Hessian products through convolutions, the conv rescaling, filter-normalized surfaces.
        The other stages (sweep, warm start, trajectory, the other remedies, the report) train and measure
        with the same code for any network and run in the tests above; with C1's 1.76 M weights each of their
        sharpness maximizations would cost seconds of scipy's per-variable set-up alone."""
        fakes.write_cifar(tmp_path / "datasets", datasets.CIFAR10, per_batch=20)  # 100 train, 20 test images
        params = tiny_params
        params.update(batch=50, small_batch=25, seeds=1)
        params["runtime"].update(model="C1", eval_chunk=60)
        params["data"].update(name="cifar10", num_train=None, num_test=None, standardize=False, root="datasets",
                              checksums=False, download=False, validation=0)  # all 100 images train: 2 LB updates an epoch
        params["train"].update(max_epochs=1)
        params["warm_start"].update(sb_epochs=1, every=1)  # within the one epoch (the whole file is validated)
        params["trajectory"].update(at=[0, 1])
        # the paper's protocol alone: the maximizer's ascents are the same code for any network (tests above)
        params["sharpness"].update(subspace_dim=2, max_iter=1, epsilons=[0.001], method="paper")
        params["interpolate"].update(points=3)
        params["curvature"].update(
            samples=40, epsilons=[0.001], adaptive_eta=[0.0], lanczos={"top_k": 1, "steps": 2}, trace={"tol": 0.5, "max_probes": 2},
            density={"runs": 1, "steps": 2}, pac_bayes={"max_drop": 0.1, "draws": 1, "steps": 2, "epsilon": 0.001},
            noise_scale={"small": 2, "big": 8, "batches": 1},
        )
        params["surface"].update(points=2)
        params.update(remedies=["augmentation", "ghost_bn"])  # image augmentation; ghost BN over BatchNorm2d
        params["mitigation"]["ghost_bn"].update(virtual_batch=20)
        params["tuning"]["grids"].update(augmentation={}, ghost_bn={})  # as declared: the tuning search is tested above
        project = make_project(tmp_path, params)
        # φ through C1 in both spaces: the remedies' sharpness surveys (the sharpness stages' own code)
        output = dvc(project, "repro", "interpolate", "mitigate@augmentation", "mitigate@ghost_bn", "curvature@lb", "rescaling", "surface")
        assert sorted(ran(output)) == sorted([  # dvc orders several targets' stages its own way
            "prepare", "train@sb", "train@lb", "interpolate", "tune@augmentation", "tune@ghost_bn", "mitigate@augmentation",
            "mitigate@ghost_bn", "curvature@lb", "rescaling", "surface",
        ])
        ghost = json.loads((project / "metrics/mitigation/ghost_bn.json").read_text())
        assert ghost["train"]["per_seed"][0]["updates"] == 2 and ghost["sharpness"]["parameters"] == 1_757_834
        assert set(ghost["sharpness"]["summary"]) == {"full", "subspace"}
        train = json.loads((project / "metrics/train_sb.json").read_text())
        assert train["per_seed"][0]["epoch"] == 1
        augmented = json.loads((project / "metrics/mitigation/augmentation.json").read_text())
        assert augmented["train"]["per_seed"][0]["epoch"] == 1
        assert (project / "plots/surface.png").read_bytes()[:4] == b"\x89PNG"
        rescaled = json.loads((project / "metrics/rescaling.json").read_text())
        assert rescaled["lb"]["max_relative_logit_change"] < 1e-4  # BN → ReLU → max-pool → conv keeps the function


class TestSharing:
    """DVC's own engines for parallel experiments and sharing results, on a project of its own (a scope of its
    own: xdist runs it beside the others). Only `prepare` and `train@lb` are reproduced: queueing, pushing
    and pulling do not depend on which stages there are, and every stage start costs seconds."""

    def test_queue_two_experiments_run_them_in_parallel_and_share_them(self, tmp_path, tiny_params):
        project = make_project(tmp_path / "project", tiny_params)
        dvc(project, "repro", "train@lb")
        # a DVC remote (a local folder) holds the data and checkpoints; a bare git repository the code and experiments
        storage, origin = tmp_path / "storage", tmp_path / "origin.git"
        dvc(project, "remote", "add", "-d", "shared", str(storage))
        run(tmp_path, "git", "init", "-q", "--bare", str(origin))
        run(project, "git", "remote", "add", "origin", str(origin))
        run(project, "git", "add", "-A")
        run(project, "git", "commit", "-qm", "baseline: train@lb")
        run(project, "git", "push", "-q", "origin", "HEAD:main")
        dvc(project, "push")

        # a fresh clone gets the baseline from the remote instead of recomputing it
        clone = tmp_path / "clone"
        run(tmp_path, "git", "clone", "-q", "-b", "main", str(origin), str(clone))
        dvc(clone, "pull", "prepare", "train@lb")  # the stages dvc.lock records here
        assert (clone / "models/lb/seed_0.pt").read_bytes() == (project / "models/lb/seed_0.pt").read_bytes()
        assert "Data and pipelines are up to date" in dvc(clone, "status", "train@lb")

        # two queued experiments, two workers, one thread each (README: runtime.threads = cores ÷ workers)
        for name, batch in (("lb50", 50), ("lb40", 40)):
            dvc(project, "exp", "run", "--queue", "-n", name, "-S", f"batch={batch}", "-S", "runtime.threads=1", "train@lb")
        dvc(project, "queue", "start", "-j", "2")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status = dvc(project, "queue", "status")
            if "Queued" not in status and "Running" not in status:
                break
            time.sleep(2)
        assert status.count("Success") == 2, status
        shown = json.loads(dvc(project, "exp", "show", "--json"))
        names = {exp["name"] for commit in shown for group in (commit.get("experiments") or []) for exp in group["revs"]}
        assert {"lb50", "lb40"} <= names

        # share one: push it (code to git, outputs to the DVC remote), pull it into the clone
        dvc(project, "exp", "push", "origin", "lb50")
        dvc(clone, "exp", "pull", "origin", "lb50")
        pulled = json.loads(dvc(clone, "exp", "show", "--json"))
        assert "lb50" in {exp["name"] for commit in pulled for group in (commit.get("experiments") or []) for exp in group["revs"]}
        (ref,) = run(clone, "git", "for-each-ref", "--format=%(refname)", "refs/exps").split()
        assert ref.endswith("/lb50")
        assert json.loads(run(clone, "git", "show", f"{ref}:metrics/train_lb.json"))["batch_size"] == 50
        # the experiment's checkpoints came along from the DVC remote: their directory manifest is in the clone's cache
        lock = yaml.safe_load(run(clone, "git", "show", f"{ref}:dvc.lock"))
        (models,) = [o for o in lock["stages"]["train@lb"]["outs"] if o["path"] == "models/lb"]
        md5 = models["md5"]
        assert (clone / ".dvc/cache/files/md5" / md5[:2] / md5[2:]).is_file()


class TestSplitGrid:
    """The grid split across machines with DVC's own tools (docs/scaling.md), on local clones: the data
    prepared once and shared through a DVC remote, each clone reproducing its share of the cells, one of
    them gathering the other's (scripts/gather_cells.py: its outputs recorded with `dvc commit`, refused
    where the params or the code differ, the code allowed to differ for scoring again) and fitting the aggregate, which is the one machine's, byte for byte."""

    def test_two_clones_each_run_half_the_cells_and_the_aggregate_is_the_one_machines(self, tmp_path, tiny_params):
        machine = make_project(tmp_path / "one_machine", tiny_params)
        storage, origin = tmp_path / "storage", tmp_path / "origin.git"
        dvc(machine, "remote", "add", "-d", "shared", str(storage))
        dvc(machine, "repro", "prepare")
        dvc(machine, "push")
        run(tmp_path, "git", "init", "-q", "--bare", str(origin))
        run(machine, "git", "remote", "add", "origin", str(origin))
        run(machine, "git", "add", "-A")
        run(machine, "git", "commit", "-qm", "data prepared")
        run(machine, "git", "push", "-q", "origin", "HEAD:main")

        first, second = "grid@adam-20", "grid@adam-100"  # tiny_params' two cells
        clones = {}
        for name, cell in (("a", first), ("b", second)):
            clone = clones[name] = tmp_path / f"clone_{name}"
            run(tmp_path, "git", "clone", "-q", "-b", "main", str(origin), str(clone))
            dvc(clone, "pull", "prepare")  # the data from the remote, not prepared again
            assert ran(dvc(clone, "repro", cell)) == [cell]
        run(clones["a"], "git", "add", "-A")
        run(clones["a"], "git", "commit", "-qm", f"shard {first}")
        run(clones["a"], "git", "push", "-q", "origin", "HEAD:shard-a")

        aggregate, gather = clones["b"], [sys.executable, str(REPO / "scripts/gather_cells.py")]
        run(aggregate, "git", "fetch", "-q", "origin", "shard-a")
        # the shard ran other params than the gathering checkout has (here: the gatherer's are changed)
        params = (aggregate / "params.yaml").read_text()
        changed = yaml.safe_load(params)
        changed["grid"]["max_epochs"] = 1
        (aggregate / "params.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))
        lock_before = (aggregate / "dvc.lock").read_text()
        refused = subprocess.run([*gather, "FETCH_HEAD", first], cwd=aggregate, capture_output=True, text=True)
        assert refused.returncode == 1 and "params grid.max_epochs" in refused.stderr, refused.stderr
        assert (aggregate / "dvc.lock").read_text() == lock_before and not (aggregate / "metrics/grid/adam_20.json").exists()
        (aggregate / "params.yaml").write_text(params)
        # the gatherer's code moved on since the shard ran (a line added to a module the cell depends on): refused,
        # unless the code may differ (scoring again), which puts the outputs in place, names the code, keeps dvc.lock
        module = aggregate / "lbgap/experiments/grid.py"
        source = module.read_text()
        module.write_text(source + "\n# moved on\n")
        refused = subprocess.run([*gather, "FETCH_HEAD", first], cwd=aggregate, capture_output=True, text=True)
        assert refused.returncode == 1 and "deps lbgap/experiments/grid.py" in refused.stderr, refused.stderr
        assert "its code differs: lbgap/experiments/grid.py" in run(aggregate, *gather, "--code-may-differ", "FETCH_HEAD", first)
        assert (aggregate / "dvc.lock").read_text() == lock_before
        output = aggregate / "metrics/grid/adam_20.json"
        assert output.read_bytes() == (clones["a"] / "metrics/grid/adam_20.json").read_bytes()
        module.write_text(source)
        output.unlink()

        assert f"gathered {first}" in run(aggregate, *gather, "FETCH_HEAD", first)
        # the same shard kept as a folder (its dvc.lock and outputs at their paths) gathers to the same lock
        gathered_lock, cell_output = (aggregate / "dvc.lock").read_text(), "metrics/grid/adam_20.json"
        folder = tmp_path / "shard_folder"
        (folder / cell_output).parent.mkdir(parents=True)
        (folder / "dvc.lock").write_bytes((clones["a"] / "dvc.lock").read_bytes())
        (folder / cell_output).write_bytes((clones["a"] / cell_output).read_bytes())
        (aggregate / "dvc.lock").write_text(lock_before)
        (aggregate / cell_output).unlink()
        assert f"gathered {first}" in run(aggregate, *gather, str(folder), first)
        assert (aggregate / "dvc.lock").read_text() == gathered_lock
        assert ran(dvc(aggregate, "repro", "grid_summary")) == ["grid_summary"]
        assert "Data and pipelines are up to date" in dvc(aggregate, "status", "grid_summary")
        shard_lock = yaml.safe_load(run(aggregate, "git", "show", "FETCH_HEAD:dvc.lock"))["stages"][first]
        assert yaml.safe_load((aggregate / "dvc.lock").read_text())["stages"][first] == shard_lock

        # the two cells are independent: DVC may run them in either order, the summary always last
        *cells, summary = ran(dvc(machine, "repro", "grid_summary"))
        assert sorted(cells) == sorted([first, second]) and summary == "grid_summary"
        for path in ("metrics/grid/adam_20.json", "metrics/grid/adam_100.json", "plots/grid.csv", "metrics/grid_summary.json"):
            assert (aggregate / path).read_bytes() == (machine / path).read_bytes(), path
