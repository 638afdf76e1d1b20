"""The reader-count fan-out benchmark (``bench.readers``) runs end to end on a few readers (no
timing assertions, by design): the count changes at every tick of the churn phase and every
reader is told each change, every entry reaches every reader, and the results are written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_reader_count_bench_smoke_run(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.readers",
            *("--readers", "50", "--seconds", "3", "--messages", "3", "--interval", "0.5"),
            *("--clients", "1", "--results", str(tmp_path)),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    raw = json.loads((tmp_path / "readers-latest.json").read_text())
    assert raw["ok"] and raw["connected"] == 50
    assert raw["updates"] >= 2 and raw["changes"] >= 2
    assert raw["update_deliveries"] == raw["updates"] * 51
    assert raw["entry_deliveries"] == 50 * 3 and raw["lost"] == 0
    assert "a count update costs" in (tmp_path / "readers-latest.md").read_text()
