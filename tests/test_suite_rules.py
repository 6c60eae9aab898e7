"""The suite's own rules: one environment fixture, the soak behind its marker, bench apart.

Read from the source, like the layering test: a rule broken by a new file fails here.
"""

from __future__ import annotations

import ast
import shlex
import subprocess
import tomllib
from pathlib import Path

from tests.test_layering import imports_of

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTS = REPO_ROOT / "tests"


def fixtures_defined_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(
            "fixture" in ast.unparse(decorator) for decorator in node.decorator_list
        ):
            names.add(node.name)
    return names


def test_no_test_module_shadows_a_conftest_fixture() -> None:
    """A module fixture with a conftest fixture's name replaces it for that whole module: an
    autouse one (the environment wipe) silently stops running there."""
    shared = fixtures_defined_in(TESTS / "conftest.py")
    shadowing = {
        path.name: sorted(fixtures_defined_in(path) & shared)
        for path in sorted(TESTS.glob("test_*.py"))
        if fixtures_defined_in(path) & shared
    }
    assert shadowing == {}


def test_the_soak_is_left_out_by_default_and_ci_runs_it() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    addopts = shlex.split(pyproject["tool"]["pytest"]["ini_options"]["addopts"])
    assert addopts[addopts.index("-m") + 1] == "not soak"
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    soak_recipe = makefile.split("\nsoak:", 1)[1].split("\n\n", 1)[0]
    assert "pytest -m soak" in soak_recipe
    ci_commands = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci_commands.index("make test") < ci_commands.index("make soak")


def test_bench_never_imports_the_tests() -> None:
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(
            name for name in imports_of(path) if name.split(".")[0] == "tests"
        )
        for path in sorted((REPO_ROOT / "bench").rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_what_the_readme_examples_write_is_ignored_by_git() -> None:
    """``catalog export > catalog.json`` and the alert file ``serve`` and ``replay`` write."""
    for name in ("catalog.json", "alerts.jsonl"):
        ignored = subprocess.run(
            ["git", "check-ignore", "--quiet", name], cwd=REPO_ROOT, check=False
        )
        assert ignored.returncode == 0, f"{name} is not ignored by git"


def test_no_test_reads_a_private_attribute() -> None:
    """Tests assert behaviour: what an object does, not what it keeps (``store._table``)."""
    private_reads = [
        f"{path.name}:{node.lineno}: {ast.unparse(node)}"
        for path in sorted(TESTS.glob("test_*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert private_reads == []
