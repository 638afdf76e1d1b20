"""bench.run over several rounds: each system's median round, its ratio to Nchan as the
median of per-round ratios, and losses summed over every round."""

from __future__ import annotations

from typing import Any

from bench.run import combine, table


def run(system: str, cpu: float, p99: float = 10.0, lost: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "system": system,
        "ok": True,
        "readers": 10,
        "connected": 10,
        "received": 1000 - lost,
        "lost": lost,
        "duplicates": 0,
        "closed_early": 0,
        "cpu_ms_per_1k": cpu,
        "broker_cpu_s": 0.0,
        "broker_cpu_ms_per_1k": 0.0,
        "mem_per_conn_kib": 5.0,
        "p50_ms": 1.0,
        "p99_ms": p99,
        "client_cpu_ms_per_1k": 1.0,
        "deliver_s": 1.0,
        "deflate_negotiated": 0,
        "compressed_frames": 0,
        **extra,
    }


def test_each_system_is_its_median_round_with_per_round_ratios() -> None:
    rounds = [
        [run("nchan", 8.0), run("livefeed-1", 8.8, p99=5.0)],
        [run("nchan", 6.0), run("livefeed-1", 7.5, p99=20.0, lost=2)],
        [run("nchan", 7.0), run("livefeed-1", 7.7, p99=7.0)],
    ]
    nchan, livefeed = combine(rounds)
    assert nchan["cpu_ms_per_1k"] == 7.0
    assert livefeed["cpu_ms_per_1k"] == 7.7  # the median round (7.5, 7.7, 8.8)
    assert livefeed["lost"] == 2  # summed: a loss in any round shows
    assert livefeed["cpu_ms_per_1k_rounds"] == [8.8, 7.5, 7.7]
    # Each round against its own Nchan run: 1.10, 1.25, 1.10.
    assert [round(x, 2) for x in livefeed["cpu_x_rounds"]] == [1.1, 1.25, 1.1]
    row = next(line for line in table([nchan, livefeed]).splitlines() if "livefeed-1" in line)
    assert "| 1.10× (1.10–1.25) |" in row
    assert "| 2 |" in row  # lost


def test_a_system_failing_in_any_round_is_reported_failed() -> None:
    broken = {"system": "livefeed-1", "ok": False, "error": "RuntimeError: no hello"}
    rounds = [
        [run("nchan", 8.0), run("livefeed-1", 8.8)],
        [run("nchan", 6.0), broken],
    ]
    nchan, livefeed = combine(rounds)
    assert nchan["ok"] and livefeed is broken
    assert "failed: RuntimeError: no hello" in table([nchan, livefeed])


def test_one_round_reads_as_before() -> None:
    nchan, livefeed = combine([[run("nchan", 8.0), run("livefeed-1", 9.0)]])
    row = next(line for line in table([nchan, livefeed]).splitlines() if "livefeed-1" in line)
    assert "| 1.12× |" in row


def test_connect_cpu_per_reader_is_a_column_and_absent_reads_as_a_dash() -> None:
    measured = run("livefeed-1", 9.0, connect_cpu_us_per_reader=278.4)
    older = run("nchan", 8.0)  # a result written before the figure existed
    lines = table(combine([[older, measured]])).splitlines()
    assert "| connect CPU µs/reader |" in lines[0]
    assert "| 278 | declined |" in next(line for line in lines if "livefeed-1" in line)
    assert "| – | declined |" in next(line for line in lines if "| nchan" in line)
