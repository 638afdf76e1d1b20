"""The entry lifecycle's rules (app/workflow.py): every status pair, allowed or refused."""

from __future__ import annotations

import itertools

import pytest

from app.workflow import STATUSES, IllegalTransition, check_transition

ALLOWED = {
    ("draft", "draft"),
    ("draft", "submitted"),
    ("draft", "scheduled"),
    ("draft", "published"),
    ("submitted", "draft"),
    ("submitted", "submitted"),
    ("submitted", "scheduled"),
    ("submitted", "published"),
    ("scheduled", "draft"),
    ("scheduled", "submitted"),
    ("scheduled", "scheduled"),
    ("scheduled", "published"),
    ("published", "published"),
    ("published", "draft"),
}


def test_statuses() -> None:
    assert set(STATUSES) == {"draft", "submitted", "scheduled", "published"}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATUSES, repeat=2)))
def test_every_transition(current: str, target: str) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition, match=f"from {current} to {target}"):
            check_transition(current, target)
