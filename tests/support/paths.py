"""Where the test data lives: every fixture file is in ``tests/fixtures/`` inside the repository,
so a plain clone runs the whole suite with nothing beside it."""

from __future__ import annotations

from pathlib import Path

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"

# A French live blog in the plain-text export shape the importer reads (day headings, newest
# entry first, no clock times).
LIVEBLOG_FR = FIXTURES_DIR / "liveblog-fr.txt"
