"""The README's set-up commands are the ones CI and the pipeline really use, and pyproject.toml declares
every package the code imports (a package that happens to be installed must not hide a missing one)."""

from __future__ import annotations

from pathlib import Path

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

REPO = Path(__file__).resolve().parents[1]  # the repository root


LOCAL = {"lbgap", "stages", "tests", "benchmarks"}
SCANNED = ("lbgap", "stages", "tests", "benchmarks")


def test_ci_runs_the_readme_test_command():
    command = (REPO / ".ci/run").read_text().strip().splitlines()[-1]
    assert command == 'pip install -q -e ".[test]" && python -m pytest'
    assert command in (REPO / "README.md").read_text()


def test_ci_runs_in_a_fresh_virtual_environment():
    script = (REPO / ".ci/run").read_text()
    assert re.search(r"python3? -m venv", script) and "activate" in script and "mktemp -d" in script


def test_readme_run_command_reproduces_the_pipeline():
    assert "pip install -q -e . && dvc repro" in (REPO / "README.md").read_text()


def _top_level_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _declared_distributions() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {_normalize(re.split(r"[ <>=!~;\[]", r, maxsplit=1)[0]) for r in requirements}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_packages() -> dict[str, set[str]]:
    """Third-party top-level import name → the files that import it, over lbgap/, stages/, tests/, benchmarks/."""
    found: dict[str, set[str]] = {}
    for folder in SCANNED:
        for path in (REPO / folder).rglob("*.py"):
            for name in _top_level_imports(path.read_text()) - LOCAL - set(sys.stdlib_module_names):
                found.setdefault(name, set()).add(str(path.relative_to(REPO)))
    return found


# import name → distribution of packages in an extra the test command does not install (so importlib cannot map them)
OPTIONAL_ONLY = {"vl_convert": "vl-convert-python"}  # the `plots` extra: python -m stages.offline_plots


def test_every_import_is_declared_in_pyproject():
    declared = _declared_distributions()
    distributions = packages_distributions()  # import name → distributions that provide it
    missing = {}
    for name, files in imported_packages().items():
        providers = {_normalize(d) for d in distributions.get(name, [])} or {_normalize(OPTIONAL_ONLY.get(name, name))}
        if not providers & declared:
            missing[name] = sorted(files)
    assert not missing, f"imported but not declared in pyproject.toml (dependencies or the test extra): {missing}"


def test_the_import_scan_sees_the_packages_we_use():
    """Guard against a scan that finds nothing (and so passes vacuously)."""
    found = imported_packages()
    assert {"torch", "torchvision", "numpy", "scipy", "typer", "pytest", "yaml", "pandas"} <= set(found)
