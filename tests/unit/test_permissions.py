"""``app/permissions.py``: the policy table, the Principal's role on a feed, and the README's
copy of the table (generated from the module; this test fails when they differ)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.permissions import (
    GLOBAL_ACTIONS,
    POLICY,
    Action,
    Decision,
    Principal,
    PrincipalKind,
    Role,
    policy_markdown,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def account(role: Role, feeds: dict[str, Role], user_id: int = 5) -> Principal:
    return Principal(
        kind=PrincipalKind.ACCOUNT, name="Ana", role=role, feed_roles=feeds, user_id=user_id
    )


def test_the_readme_shows_the_policy_table() -> None:
    table = policy_markdown()
    assert table in README.read_text(), "README's roles × actions table is stale: paste " + table


def test_every_role_decides_every_action() -> None:
    for role in Role:
        assert set(POLICY[role]) == set(Action), role


def test_the_action_names_other_modules_rely_on() -> None:
    names = {action.value for action in Action}
    assert {
        "feed.create", "feed.update", "people.manage", "token.manage", "entry.write_draft",
        "entry.submit", "entry.edit_unpublished_any", "entry.publish", "entry.edit_published",
        "entry.delete", "entry.pin", "entry.restore", "media.upload", "team.view",
    } <= names  # fmt: skip


def test_admin_everything_editor_all_but_global_contributor_own_work() -> None:
    assert all(d is Decision.ALLOW for d in POLICY[Role.ADMIN].values())
    for action in Action:
        expected = Decision.DENY if action in GLOBAL_ACTIONS else Decision.ALLOW
        assert POLICY[Role.EDITOR][action] is expected, action
    allowed = {a for a, d in POLICY[Role.CONTRIBUTOR].items() if d is not Decision.DENY}
    assert allowed == {
        Action.ENTRY_WRITE_DRAFT, Action.ENTRY_SUBMIT, Action.MEDIA_UPLOAD, Action.TEAM_VIEW,
    }  # fmt: skip
    assert POLICY[Role.CONTRIBUTOR][Action.ENTRY_WRITE_DRAFT] is Decision.OWN


def test_an_account_acts_on_a_feed_with_its_membership_capped_by_its_global_role() -> None:
    editor = account(Role.EDITOR, {"a": Role.EDITOR, "b": Role.CONTRIBUTOR})
    assert editor.role_on("a") is Role.EDITOR
    assert editor.role_on("b") is Role.CONTRIBUTOR
    assert editor.role_on("c") is None
    capped = account(Role.CONTRIBUTOR, {"a": Role.EDITOR})
    assert capped.role_on("a") is Role.CONTRIBUTOR
    assert account(Role.ADMIN, {}).role_on("anything") is Role.ADMIN


def test_own_only_rights_hold_on_the_accounts_own_entries() -> None:
    contributor = account(Role.CONTRIBUTOR, {"a": Role.CONTRIBUTOR}, user_id=5)
    assert contributor.may(Action.ENTRY_WRITE_DRAFT, "a", owner_id=5)  # its own (or creating)
    assert not contributor.may(Action.ENTRY_WRITE_DRAFT, "a")  # owned by no account
    assert not contributor.may(Action.ENTRY_WRITE_DRAFT, "a", owner_id=6)
    assert not contributor.may(Action.ENTRY_PUBLISH, "a", owner_id=5)
    assert not contributor.may(Action.ENTRY_WRITE_DRAFT, "b")
    assert contributor.rights("a") == {
        "entry.write_draft": Decision.OWN,
        "entry.submit": Decision.OWN,
        "media.upload": Decision.ALLOW,
        "team.view": Decision.ALLOW,
    }
    assert contributor.rights("b") == {}


@pytest.mark.parametrize("action", sorted(GLOBAL_ACTIONS))
def test_global_actions_follow_the_global_role_only(action: Action) -> None:
    editor_everywhere = account(Role.EDITOR, {"a": Role.EDITOR})
    assert not editor_everywhere.may(action, "a")
    assert account(Role.ADMIN, {}).may(action)


def test_tokens_keep_their_old_powers() -> None:
    admin = Principal(kind=PrincipalKind.ADMIN_TOKEN, name="admin", role=Role.ADMIN)
    reporter = Principal(
        kind=PrincipalKind.FEED_TOKEN, name="desk", role=Role.EDITOR, feed_roles={"a": Role.EDITOR}
    )
    assert all(admin.may(action, "a") for action in Action)
    assert reporter.feed == "a" and admin.feed is None
    assert reporter.may(Action.ENTRY_PUBLISH, "a") and not reporter.may(Action.ENTRY_PUBLISH, "b")
    assert not reporter.may(Action.TOKEN_MANAGE) and not reporter.may(Action.FEED_CREATE)
