"""The design notes in docs/ are cited where the code applies them: every citation resolves.

- every ``docs/<page>.md`` named anywhere in the repository exists;
- every relative link of every Markdown file resolves to a file or folder;
- the app, its tests, the benchmark and the infrastructure cite no Markdown file by a bare name
  that the repository does not hold.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS_CITATION = re.compile(r"\bdocs/([\w.-]+\.md)\b")
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# A file name cited in prose (a quoted string is data, such as a test's list of names to refuse).
BARE_NOTE = re.compile(r"(?<![\w/.'\"-])([\w-]+\.md)\b")
# The catalog's data names the providers' own pages by their file names: its own test
# (test_catalog_loader.py) refuses the design notes this repository does not hold.
APP_AREAS = ("handlers/", "function_app.py", "tests/", "bench/", "infra/")


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode().split("\0")
    suffixes = {".py", ".md", ".bicep", ".json", ".toml", ".sh", ".ps1", ".yaml", ".txt"}
    return [REPO_ROOT / name for name in listed if name and Path(name).suffix in suffixes]


def test_every_docs_page_cited_exists() -> None:
    missing = {
        f"{path.relative_to(REPO_ROOT)}: docs/{page}"
        for path in tracked_text_files()
        if path.is_file()
        for page in DOCS_CITATION.findall(path.read_text(encoding="utf-8", errors="replace"))
        if not (REPO_ROOT / "docs" / page).is_file()
    }
    assert missing == set()


def test_every_relative_markdown_link_resolves() -> None:
    broken = {
        f"{path.relative_to(REPO_ROOT)}: {target}"
        for path in tracked_text_files()
        if path.suffix == ".md" and path.is_file()
        for target in MARKDOWN_LINK.findall(path.read_text(encoding="utf-8"))
        if "://" not in target and not (path.parent / target).exists()
    }
    assert broken == set()


def test_the_app_cites_no_design_note_the_repository_lacks() -> None:
    held = {path.name for path in tracked_text_files() if path.suffix == ".md"}
    cited = {
        f"{path.relative_to(REPO_ROOT)}: {name}"
        for path in tracked_text_files()
        if path.is_file() and str(path.relative_to(REPO_ROOT)).startswith(APP_AREAS)
        and path.suffix != ".md"
        for name in BARE_NOTE.findall(path.read_text(encoding="utf-8", errors="replace"))
        if name not in held
    }
    assert cited == set()
