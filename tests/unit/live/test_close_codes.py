"""The close-code table: one source for the README, the browser and the transports."""

from __future__ import annotations

import json
from pathlib import Path

from app.live import close_codes

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_close_code_table_is_the_module_table() -> None:
    # The README indents the table under its list item; compare line by line.
    readme_lines = [line.strip() for line in README.read_text().splitlines()]
    table = close_codes.readme_table().splitlines()
    start = readme_lines.index(table[0])
    assert readme_lines[start : start + len(table)] == table
    assert readme_lines[start + len(table)] == "", "README lists a code the module lacks"


def test_every_code_has_the_fields_its_policy_needs() -> None:
    codes = [entry.code for entry in close_codes.CLOSE_CODES]
    assert len(codes) == len(set(codes))
    for entry in close_codes.CLOSE_CODES:
        assert 1000 <= entry.code < 5000 and entry.code not in (1004, 1005, 1006, 1015)
        # A close reason must fit a control frame (123 bytes) as ASCII.
        assert entry.reason.isascii() and len(entry.reason) <= 123
        if entry.policy == "stop":
            assert entry.message, entry
        if entry.policy == "retry_after":
            assert entry.retry_after and entry.retry_after > 0, entry


def test_client_table_is_json_and_keyed_by_code() -> None:
    table = json.loads(json.dumps(close_codes.client_table()))
    assert table["4008"]["policy"] == "reconnect" and table["4008"]["delay_ms"] == [0, 0]
    assert table["1012"]["delay_ms"] == [250, 2000]
    assert table["1013"] == {
        "name": "try_again_later",
        "reason": close_codes.TRY_AGAIN_LATER.reason,
        "policy": "retry_after",
        "delay_ms": None,
        "retry_after": close_codes.OVERLOAD_RETRY_AFTER_SECONDS,
        "message": None,
    }
    assert table["4404"]["policy"] == "stop" and table["4404"]["message"]
    assert set(table) == {str(entry.code) for entry in close_codes.CLOSE_CODES}


def test_sse_refusals_have_http_statuses() -> None:
    by_code = close_codes.BY_CODE
    assert by_code[close_codes.CLOSE_UNKNOWN_FEED].http_status == 404
    assert by_code[close_codes.CLOSE_ORIGIN_REFUSED].http_status == 403
    assert by_code[close_codes.CLOSE_SERVICE_RESTART].http_status == 503
    assert by_code[close_codes.CLOSE_TRY_AGAIN_LATER].http_status == 503
    # The per-address cap is no longer a session refusal: 429 at the handshake instead
    # (app.live.access.reserve), so 1008 is only the flood limit of an open stream.
    assert by_code[close_codes.CLOSE_POLICY].http_status is None
