"""The rooms of ``handlers`` import only what their ``__init__`` docstring allows.

Every import is read from the source (module level and inside functions alike), so a lazy
import cannot slip past the rule. The table below is the rule; ``handlers/__init__.py`` says it
in words.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
HANDLERS = REPO_ROOT / "handlers"

SHARED = ("handlers.errors", "handlers.logs", "handlers.masking", "handlers.deadlines")
# What each part of the app may import from this project (besides itself and the shared
# modules); a part not listed as importable by another is out of bounds for it.
ALLOWED: dict[str, frozenset[str]] = {
    "settings": frozenset(),
    "errors": frozenset(),
    "logs": frozenset(),
    "masking": frozenset(),
    "deadlines": frozenset(),
    "inbound": frozenset({"handlers.settings"}),
    "events": frozenset(
        {
            "handlers.inbound.envelope",
            "handlers.inbound.handshake",
            "handlers.settings",
            "catalog.models",
        }
    ),
    "alerting": frozenset({"handlers.events", "handlers.settings", "catalog"}),
    "state": frozenset(),
    "records": frozenset({"handlers.events", "handlers.alerting", "catalog"}),
    "oncall": frozenset({"handlers.alerting", "handlers.settings"}),
    "notify": frozenset({"handlers.alerting", "handlers.state", "handlers.settings"}),
    # Between notify and oncall, which may not import each other: the one adapter, the
    # receivers as destinations, the status page's source.
    "board": frozenset({"handlers.alerting", "handlers.notify", "handlers.oncall"}),
    "flusher": frozenset({"handlers.alerting", "handlers.state", "handlers.notify"}),
    "pipeline": frozenset(
        {
            "handlers.inbound",
            "handlers.events",
            "handlers.alerting",
            "handlers.state",
            "handlers.records",
            "handlers.flusher",
            "handlers.notify",
            "catalog",
        }
    ),
    "fast": frozenset(
        {
            "handlers.inbound",
            "handlers.events",
            "handlers.alerting",
            "handlers.records",
            "handlers.pipeline",
            "catalog",
        }
    ),
    "runtime": frozenset(
        {
            "handlers.settings",
            "handlers.inbound",
            "handlers.events",
            "handlers.alerting",
            "handlers.state",
            "handlers.records",
            "handlers.pipeline",
            "handlers.fast",
            "handlers.oncall",
            "handlers.flusher",
            "handlers.notify",
            "handlers.board",
            "catalog",
        }
    ),
    "http": frozenset(
        {
            "handlers.settings",
            "handlers.inbound",
            "handlers.events",
            "handlers.alerting",
            "handlers.state",
            "handlers.records",
            "handlers.pipeline",
            "handlers.flusher",
            "handlers.notify",
            "handlers.runtime",
            "handlers.oncall",
            "catalog",
        }
    ),
}
PROJECT_ROOTS = ("handlers", "catalog", "function_app", "tests", "bench")


def part_of(path: Path) -> str:
    relative = path.relative_to(HANDLERS)
    return relative.parts[0].removesuffix(".py")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PROJECT_ROOTS}


def allowed(importer_part: str, imported: str) -> bool:
    own = f"handlers.{importer_part}"
    if imported == own or imported.startswith(own + "."):
        return True
    if any(imported == shared or imported.startswith(shared + ".") for shared in SHARED):
        return True
    if imported in ("handlers", "handlers.__version__"):
        return True
    return any(
        imported == rule or imported.startswith(rule + ".") for rule in ALLOWED[importer_part]
    )


APP_MODULES = sorted(
    path
    for path in HANDLERS.rglob("*.py")
    if part_of(path) not in ("tools", "__init__", "__main__")
)


@pytest.mark.parametrize("path", APP_MODULES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_each_room_imports_only_what_it_may(path: Path) -> None:
    part = part_of(path)
    assert part in ALLOWED, f"{part}: a new room needs its rule in this test and its docstring"
    refused = sorted(name for name in imports_of(path) if not allowed(part, name))
    assert refused == [], f"{path.relative_to(REPO_ROOT)} imports {refused}"


def test_nothing_in_the_app_imports_the_tools_room() -> None:
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in [*APP_MODULES, REPO_ROOT / "function_app.py"]
        if any(name.startswith("handlers.tools") for name in imports_of(path))
    ]
    assert offenders == []


def test_every_room_says_what_it_holds_and_may_import() -> None:
    for room in sorted(p for p in HANDLERS.iterdir() if (p / "__init__.py").exists()):
        doc = ast.get_docstring(ast.parse((room / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "import" in doc, f"{room.name}/__init__.py must say what it may import"


def test_the_rule_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself: a state module importing the HTTP room is refused."""
    module = tmp_path / "bad.py"
    module.write_text("from handlers.http.messages import Response\n", encoding="utf-8")
    assert not allowed("state", "handlers.http.messages")
    assert "handlers.http.messages" in imports_of(module)
