"""The repository stands alone: nothing that runs or documents it names a file outside it.

``.ci/run`` proves it by running ``make test`` in a clone with nothing beside it; this catches
a reference sooner (in ``make test-fast``), including one in a comment or docstring.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Spelled in pieces so that this file does not name them itself.
FORBIDDEN = ("../" + "shared", "DESIGN" + ".md", "/work/" + "shared")
CHECKED = ["app", "web", "tests", "bench", "scripts", "deploy", "docs", ".ci"]
CHECKED_FILES = ["Makefile", "README.md", "pyproject.toml", "Dockerfile", "docker-compose.yml"]
SKIPPED_DIRS = {"node_modules", "__pycache__", ".venv", "test-artifacts", "results"}


def checked_files() -> list[Path]:
    files = [ROOT / name for name in CHECKED_FILES if (ROOT / name).is_file()]
    for folder in CHECKED:
        for path in sorted((ROOT / folder).rglob("*")):
            parts = set(path.relative_to(ROOT).parts)
            if path.is_file() and not parts & SKIPPED_DIRS:
                files.append(path)
    return files


def test_no_file_names_anything_outside_the_repository() -> None:
    found = []
    for path in checked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # images and other binary files
        found += [
            f"{path.relative_to(ROOT)}:{number}: {needle}"
            for number, line in enumerate(text.splitlines(), start=1)
            for needle in FORBIDDEN
            if needle in line
        ]
    assert found == []


def test_the_fixtures_live_in_the_repository() -> None:
    assert (ROOT / "tests" / "fixtures" / "liveblog-fr.txt").is_file()
    assert len(checked_files()) > 100  # the scan really reads the tree
