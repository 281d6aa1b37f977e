"""dvc.yaml tells DVC the truth: every stage's deps cover every project module its command imports
(transitively), and its params are exactly the keys it reads — else DVC would serve stale results
after a code or parameter change, or re-run stages for nothing."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import shlex
import shutil
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from dvc.repo import Repo
from typer.testing import CliRunner

from lbgap.remedies.registry import list_strategies

from stages.params import load_params as load_whole_params

REPO = Path(__file__).resolve().parents[2]  # the repository root


runner = CliRunner()


def _module_file(name: str) -> Path | None:
    for candidate in (REPO / (name.replace(".", "/") + ".py"), REPO / name.replace(".", "/") / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def project_imports(path: Path) -> set[Path]:
    """Files of `lbgap` and `stages` that `path` imports, directly or through each other."""
    seen: set[Path] = set()
    todo = [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for node in ast.walk(ast.parse(current.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            # importing lbgap.report.figures also runs lbgap/__init__.py and lbgap/report/__init__.py
            packages = {".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 1)}
            todo += [f for n in {*names, *packages} if n.split(".")[0] in ("lbgap", "stages") and (f := _module_file(n))]
    return {p for p in seen if p.stat().st_size}  # empty __init__.py files carry no code


@pytest.fixture(scope="module")
def stages() -> list:
    with Repo(str(REPO)) as repo:
        return list(repo.index.stages)


def _command(stage) -> tuple[str, list[str]]:
    words = shlex.split(stage.cmd)
    assert words[:2] == ["python", "-m"] and words[2].startswith("stages."), stage.cmd
    return words[2], words[3:]


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


def test_every_stage_declares_the_modules_it_imports(stages):
    missing = {}
    for stage in stages:
        module, _ = _command(stage)
        deps = [d.def_path for d in stage.deps]
        needed = {str(p.relative_to(REPO)) for p in project_imports(_module_file(module))}
        if lacking := sorted(p for p in needed if not _covered(p, deps)):
            missing[stage.name] = lacking
    assert not missing, f"stages whose deps miss modules they import: {missing}"


def test_every_declared_code_dep_is_imported(stages):
    """The other direction: a code dep no import reaches would re-run the stage for nothing. (A remedy's
    module is imported by name at run time; the next test holds those to their own stage.)"""
    extra = {}
    for stage in stages:
        module, _ = _command(stage)
        needed = {str(p.relative_to(REPO)) for p in project_imports(_module_file(module))}
        code = [d.def_path for d in stage.deps if d.def_path.startswith(("lbgap", "stages")) and "${" not in d.def_path]
        unused = [d for d in code if not any(_covered(n, [d]) for n in needed)]
        if unused := [d for d in unused if not (stage.name.startswith(("mitigate@", "tune@")) and d.startswith("lbgap/remedies/"))]:
            extra[stage.name] = unused
    assert not extra, f"stages declaring code they never import: {extra}"


def test_the_import_scan_follows_imports_transitively():
    """stages/train.py imports lbgap.data.sources only through lbgap.data: a scan that stopped at direct
    imports would not see it (and the coverage test above could not fail for it)."""
    assert not any("lbgap.data.sources" in line for line in (REPO / "stages/train.py").read_text().splitlines())
    assert REPO / "lbgap/data/sources.py" in project_imports(REPO / "stages/train.py")


def test_each_remedy_stage_declares_its_own_module_and_the_shared_ones(stages):
    """The registry imports lbgap/remedies/<name>.py by name at run time, which no static scan sees: each
    mitigate@<name> and tune@<name> must declare that module, plus the remedy modules that other remedies
    build on (a combined recipe, a variant), which every such stage declares since dvc.yaml's foreach
    cannot list them per remedy; no other remedy's module, so editing one remedy re-runs only its stages."""
    folder = REPO / "lbgap/remedies"
    own = {folder / f"{name}.py" for name in list_strategies()}
    shared = {f for module in own for f in project_imports(module) if f in own and f != module}
    shared_deps = sorted(str(f.relative_to(REPO)) for f in shared)
    remedy_stages = {s.name: [d.def_path for d in s.deps] for s in stages if s.name.startswith(("mitigate@", "tune@"))}
    assert {name.split("@")[0] for name in remedy_stages} == {"mitigate", "tune"}, "no mitigate or tune stages"
    for stage_name, deps in remedy_stages.items():
        name = stage_name.split("@")[1]
        remedies = sorted(d for d in deps if d.startswith("lbgap/remedies"))
        expected = {"lbgap/remedies/__init__.py", "lbgap/remedies/registry.py", f"lbgap/remedies/{name}.py", *shared_deps}
        assert set(remedies) == expected, (name, remedies)  # its own module may be one of the shared ones
        assert (REPO / f"lbgap/remedies/{name}.py").is_file()


class Recorder:
    """Notes the dotted keys a stage reads from its Params: a leaf when it is read, and a section (a
    dataclass or a mapping) taken but never looked into before the stage stops, which is a section handed
    on whole (each access makes a fresh view, so a section read leaf by leaf is not counted whole)."""

    def __init__(self):
        self.leaves: set[str] = set()
        self.views: list = []

    def view(self, value: Any, path: str) -> Any:
        if dataclasses.is_dataclass(value) or isinstance(value, Mapping):
            view = (SectionView if dataclasses.is_dataclass(value) else MappingView)(value, self, path)
            self.views.append(view)
            return view
        self.leaves.add(path)
        return value

    @property
    def read(self) -> set[str]:
        return self.leaves | {view._path for view in self.views if not view._looked_into and view._path}


class SectionView:
    """A read-only view of a params dataclass that reports what is read through it to a Recorder; its
    properties and methods run on the view, so the keys they read are noted too."""

    def __init__(self, section: Any, recorder: Recorder, path: str):
        object.__setattr__(self, "_section", section)
        object.__setattr__(self, "_recorder", recorder)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_looked_into", False)

    def __getattr__(self, name: str) -> Any:
        object.__setattr__(self, "_looked_into", True)
        attribute = getattr(type(self._section), name, None)
        if isinstance(attribute, property):
            return attribute.fget(self)
        if callable(attribute):
            return types.MethodType(attribute, self)
        return self._recorder.view(getattr(self._section, name), f"{self._path}.{name}".lstrip("."))


class MappingView(Mapping):
    def __init__(self, data: Mapping, recorder: Recorder, path: str):
        self._data, self._recorder, self._path, self._looked_into = data, recorder, path, False

    def __getitem__(self, key: str) -> Any:
        self._looked_into = True
        return self._recorder.view(self._data[key], f"{self._path}.{key}")

    def __iter__(self) -> Iterator[str]:
        self._looked_into = True
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _keys_read(stage, tmp_path: Path, monkeypatch) -> set[str]:
    """Run the stage's command where none of its inputs exist: it reads every param it needs, then stops
    at the first missing input (exit 2). The params it read on the way are recorded. This relies on the
    stages' rule of taking all their params before reading any input file; a key first read after the
    inputs load would go unseen here."""
    module_name, args = _command(stage)
    module = importlib.import_module(module_name)
    recorder = Recorder()
    monkeypatch.setattr(module, "load_params", lambda path: recorder.view(load_whole_params(path), ""))
    if hasattr(module, "make_data_set"):  # prepare has no input file: stop it before it generates data
        def refuse(*args, **kwargs):
            raise module.InputError("stopped by the test")
        monkeypatch.setattr(module, "make_data_set", refuse)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(module.app, args)
    assert result.exit_code == 2, f"{stage.name}: {result.output}"
    return recorder.read


def test_the_recorder_counts_a_section_handed_on_whole_and_one_read_leaf_by_leaf_by_its_leaves(tiny_params):
    from lbgap.params import read_params

    recorder = Recorder()
    params = recorder.view(read_params(tiny_params), "")
    assert params.curvature is not None  # taken and handed on whole
    runtime = params.runtime
    assert runtime.eval_chunk == 10000 and params.sharpness.epsilon == 0.001 and params.batch_of("lb") == 100
    assert params.mitigation["sam"] is not None
    assert recorder.read == {"curvature", "runtime.eval_chunk", "sharpness.epsilons", "batch", "mitigation.sam"}


def _declared(stage) -> list[str]:
    return [key for d in stage.deps if type(d).__name__ == "ParamsDependency" for key in d.params]


def test_every_stage_declares_exactly_the_params_it_reads(stages, tmp_path, monkeypatch):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    all_keys = set(yaml.safe_load((REPO / "params.yaml").read_text()))
    problems = {}
    for stage in stages:
        declared = _declared(stage)
        if stage.name == "report":  # it lists the whole params file in the report, so depends on all of it
            if set(declared) != all_keys:
                problems["report"] = {"should declare every top-level key": sorted(all_keys ^ set(declared))}
            continue
        read = _keys_read(stage, tmp_path, monkeypatch)
        assert read, f"{stage.name} read no params: the recording is broken"
        undeclared = sorted(k for k in read if not any(k == d or k.startswith(d + ".") for d in declared))
        unread = sorted(d for d in declared if not any(k == d or k.startswith(d + ".") or d.startswith(k + ".") for k in read))
        if undeclared or unread:
            problems[stage.name] = {"read but not declared": undeclared, "declared but not read": unread}
    assert not problems, "\n".join(f"{name}: {found}" for name, found in problems.items())
