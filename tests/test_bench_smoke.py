"""The fan-out benchmark runs end to end in smoke mode (no timing assertions, by design).

Runs ``python -m bench.run --smoke`` on the floor and one livefeed process: 50 readers offering
permessage-deflate, 10 messages. Checks the run completed, every reader got every message
exactly once, and the results were written.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_smoke_run_delivers_everything_and_writes_results(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--smoke",
            "--systems",
            "floor,livefeed-1",
            "--results",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    raw = json.loads((tmp_path / "latest-smoke.json").read_text())
    rows = {r["system"]: r for r in raw["systems"]}
    assert set(rows) == {"floor", "livefeed-1"}
    for name, r in rows.items():
        assert r["ok"], (name, r.get("error"), r.get("server_log"))
        assert r["connected"] == r["readers"] == 50, name
        assert r["expected"] == 50 * 10, name
        assert r["lost"] == 0, (name, r["per_reader_counts"])
        assert r["duplicates"] == 0, name
        assert r["received"] == r["expected"], name

    md = (tmp_path / "latest-smoke.md").read_text()
    assert "| floor |" in md
    assert "| livefeed-1 |" in md
    assert list(tmp_path.glob("2*-smoke.json")), "no timestamped result written"


def test_storm_smoke_every_reader_resumes_without_gap_dup_or_1011(tmp_path: Path) -> None:
    """``python -m bench.storm --smoke``: a restarted process's readers all reconnect with
    ``since`` and end holding the last post, each rev once, none closed with 1011, on
    SQLite, PostgreSQL and two processes behind Redis (figures unchecked: no timing)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.storm", "--smoke", "--results", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    raw = json.loads((tmp_path / "storm-latest-smoke.json").read_text())
    rows = {r["setup"]: r for r in raw["setups"]}
    assert set(rows) == {"sqlite", "postgresql", "redis-2"}
    for name, r in rows.items():
        assert r["ok"], (name, r.get("error"))
        assert r["connected"] == r["readers"] == 60, name
        assert r["holding_last"] == r["readers"], (name, r["final_revs"])
        assert (r["gaps"], r["duplicates"], r["resets"]) == (0, 0, 0), name
        assert r["closed_1011"] == 0, (name, r["closes"])
        assert r["closes"].get("1012", 0) >= r["victim_readers"], (name, r["closes"])
        assert r["traceback_in_logs"] == 0, name
        assert r["post_errors"] == [], name
        assert r["last_rev"] == 5 + 5, name  # 5 posts before the storm, 5 during
        # The like-for-like baseline: 5 more posts reached every reader, each once.
        assert r["calm_holding_last"] == r["readers"], name
        assert (r["calm_gaps"], r["calm_duplicates"]) == (0, 0), name
        assert r["calm_post_errors"] == [], name
        assert r["cpu_ratio_like_for_like"] > 0, name
    assert "| sqlite | 60 |" in (tmp_path / "storm-latest-smoke.md").read_text()
