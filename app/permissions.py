"""The permission policy, one owner: who may do what, on which feed.

Contracts:

* :class:`Action` names every right the service checks (``feed.create`` … ``team.view``);
  routes ask for one with ``app.deps.require(Action.X)``, never by testing roles themselves.
* :data:`POLICY` is the whole table, role × action → :class:`Decision`: ``allow``, ``own``
  (only on the principal's own entries, e.g. a contributor's drafts) or ``deny``. Nothing
  else grants a right. :func:`policy_markdown` renders it; the README's table is that output
  (``tests/unit/test_permissions.py`` fails when they differ).
* A :class:`Principal` is who a request acts for, however it authenticated: the admin token
  (role ``admin``), a feed's reporter token (``editor`` of that feed, as before accounts
  existed), or an account (global role, plus a role per feed it is a member of).
* Roles on a feed: an ``admin`` account is admin everywhere. Any other account has, on a feed,
  the role of its membership there, capped by its global role (an ``editor`` account may be a
  ``contributor`` of one feed; a ``contributor`` account is a contributor wherever it is a
  member); on a feed it is not a member of it has no role and no right.
* Global actions (:data:`GLOBAL_ACTIONS`: creating feeds, managing people and tokens) are
  decided by the global role; every other action needs the feed it applies to.

Pure: no I/O, no app state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    CONTRIBUTOR = "contributor"


#: Roles an account may hold on one feed (admin is global only).
FEED_ROLES = (Role.EDITOR, Role.CONTRIBUTOR)
_RANK = {Role.CONTRIBUTOR: 0, Role.EDITOR: 1, Role.ADMIN: 2}


class Action(StrEnum):
    FEED_CREATE = "feed.create"
    #: Title, description, allowed origins, end / reopen.
    FEED_UPDATE = "feed.update"
    #: Accounts and feed memberships.
    PEOPLE_MANAGE = "people.manage"
    #: Bearer tokens: create, list, revoke.
    TOKEN_MANAGE = "token.manage"
    #: Create a draft and edit one's own unpublished entry.
    ENTRY_WRITE_DRAFT = "entry.write_draft"
    #: Submit a draft for review.
    ENTRY_SUBMIT = "entry.submit"
    #: Edit anyone's draft or submission.
    ENTRY_EDIT_UNPUBLISHED_ANY = "entry.edit_unpublished_any"
    #: Publish, schedule, unpublish.
    ENTRY_PUBLISH = "entry.publish"
    ENTRY_EDIT_PUBLISHED = "entry.edit_published"
    ENTRY_DELETE = "entry.delete"
    ENTRY_PIN = "entry.pin"
    #: Restore an earlier revision, or a deleted entry.
    ENTRY_RESTORE = "entry.restore"
    #: Upload images, resolve link cards.
    MEDIA_UPLOAD = "media.upload"
    #: See the feed's drafts and submissions, and its team channel.
    TEAM_VIEW = "team.view"


class Decision(StrEnum):
    ALLOW = "allow"
    #: Allowed on the principal's own entries only.
    OWN = "own"
    DENY = "deny"


#: Decided by the global role alone; every other action applies to one feed.
GLOBAL_ACTIONS = frozenset({Action.FEED_CREATE, Action.PEOPLE_MANAGE, Action.TOKEN_MANAGE})

_A, _O, _D = Decision.ALLOW, Decision.OWN, Decision.DENY

#: The policy. Rows: roles; columns: actions. Every (role, action) pair is present.
POLICY: Mapping[Role, Mapping[Action, Decision]] = {
    Role.ADMIN: dict.fromkeys(Action, _A),
    Role.EDITOR: {
        **dict.fromkeys(Action, _A),
        Action.FEED_CREATE: _D,
        Action.PEOPLE_MANAGE: _D,
        Action.TOKEN_MANAGE: _D,
    },
    Role.CONTRIBUTOR: {
        **dict.fromkeys(Action, _D),
        Action.ENTRY_WRITE_DRAFT: _O,
        Action.ENTRY_SUBMIT: _O,
        Action.MEDIA_UPLOAD: _A,
        Action.TEAM_VIEW: _A,
    },
}


def decide(role: Role | None, action: Action) -> Decision:
    """The table's answer for ``role`` (None: no role on that feed → deny)."""
    if role is None:
        return Decision.DENY
    return POLICY[role][action]


def cap(global_role: Role, feed_role: Role) -> Role:
    """The role an account holds on a feed: its membership's role, at most its global role."""
    return feed_role if _RANK[feed_role] <= _RANK[global_role] else global_role


class PrincipalKind(StrEnum):
    ADMIN_TOKEN = "admin_token"
    FEED_TOKEN = "feed_token"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for. Immutable; built per request (see ``app.deps``)."""

    kind: PrincipalKind
    #: Display name of the account, or the token's name.
    name: str
    #: The global role: admin for the admin token, editor for a reporter token.
    role: Role
    #: Explicit roles per feed slug (accounts: memberships; a reporter token: its feed).
    feed_roles: Mapping[str, Role] = field(default_factory=dict)
    #: The account's id (None for a bearer token).
    user_id: int | None = None
    email: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def feed(self) -> str | None:
        """The one feed a reporter token writes to (None for anyone else)."""
        if self.kind is PrincipalKind.FEED_TOKEN:
            return next(iter(self.feed_roles), None)
        return None

    def role_on(self, feed: str) -> Role | None:
        """This principal's role on ``feed`` (None: none, so no right there)."""
        if self.is_admin:
            return Role.ADMIN
        explicit = self.feed_roles.get(feed)
        return None if explicit is None else cap(self.role, explicit)

    def decision(self, action: Action, feed: str | None = None) -> Decision:
        """The policy's answer for this principal; ``feed`` is required for feed actions
        (without one, a feed action is decided as on a feed the principal has no role on)."""
        if action in GLOBAL_ACTIONS:
            return decide(self.role, action)
        if feed is None:
            return decide(Role.ADMIN, action) if self.is_admin else Decision.DENY
        return decide(self.role_on(feed), action)

    def may(self, action: Action, feed: str | None = None, *, owner_id: int | None = None) -> bool:
        """Whether the action is allowed. For an ``own`` decision, ``owner_id`` is the account
        owning the entry acted on (``entries.author_id``; None: no account owns it); when
        creating an entry pass the principal's own ``user_id``. Tokens own nothing."""
        decision = self.decision(action, feed)
        if decision is Decision.ALLOW:
            return True
        if decision is Decision.DENY or self.user_id is None:
            return False
        return owner_id == self.user_id

    def rights(self, feed: str) -> dict[str, Decision]:
        """Every feed action not denied to this principal on ``feed`` (for the studio)."""
        found = {a.value: self.decision(a, feed) for a in Action if a not in GLOBAL_ACTIONS}
        return {name: d for name, d in found.items() if d is not Decision.DENY}


def denial(action: Action, feed: str | None = None) -> str:
    """The 403 message naming the missing right."""
    where = f" on feed {feed!r}" if feed is not None and action not in GLOBAL_ACTIONS else ""
    return f"missing the right {action.value}{where}"


def policy_markdown() -> str:
    """The README's roles × actions table (Markdown), generated from :data:`POLICY`."""
    roles = list(Role)
    words = {Decision.ALLOW: "yes", Decision.OWN: "own only", Decision.DENY: "—"}
    lines = [
        "| action | " + " | ".join(role.value for role in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for action in Action:
        cells = [words[POLICY[role][action]] for role in roles]
        lines.append(f"| `{action.value}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
