"""The whole roles × actions table of ``app/permissions.py``, walked over HTTP on SQLite and
PostgreSQL: every kind of principal tries every action through a real route, and gets the
route's success status when the policy allows it, 403 naming the right when it does not, and
401 when nobody is signed in.

Each :class:`Action` has a probe: the request that exercises it (the test fails when an
action has none). Own-only rights are probed on an entry the subject's account owns; the
rights on other people's entries have their own probes (``entry.edit_unpublished_any``) and
test (a contributor cannot submit or edit someone else's draft).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from PIL import Image

from app.auth import COOKIE_NAME
from app.permissions import GLOBAL_ACTIONS, POLICY, Action, Decision, Role, cap
from app.store.tables import entries
from tests.conftest import ADMIN

PASSWORD = "correct horse battery"
OTHER = "other-feed"
_serial = itertools.count(1)


@dataclass(frozen=True)
class Subject:
    """A way of being signed in, and the role the policy should give it on the feed."""

    label: str
    #: Global role (None: nobody signed in).
    role: Role | None
    #: Role on the walked feed (None: no role there).
    feed_role: Role | None
    #: Whether it is an account (own-only rights apply to accounts).
    account: bool = False


Probe = Callable[[httpx.AsyncClient, dict[str, str], str], Awaitable[int]]


async def _entry(client: httpx.AsyncClient, feed: str) -> int:
    made = await client.post(f"/api/feeds/{feed}/entries", json={"body": "x"}, headers=ADMIN)
    assert made.status_code == 201, made.text
    entry_id: int = made.json()["id"]
    return entry_id


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


async def feed_create(http: httpx.AsyncClient, auth: dict[str, str], feed: str) -> int:
    slug = f"made-{next(_serial)}"
    response = await http.post("/api/feeds", json={"slug": slug, "title": "t"}, headers=auth)
    return response.status_code


async def feed_update(http: httpx.AsyncClient, auth: dict[str, str], feed: str) -> int:
    response = await http.patch(f"/api/feeds/{feed}", json={"title": "renamed"}, headers=auth)
    return response.status_code


async def people_manage(http: httpx.AsyncClient, auth: dict[str, str], feed: str) -> int:
    return (await http.get("/api/users", headers=auth)).status_code


async def token_manage(http: httpx.AsyncClient, auth: dict[str, str], feed: str) -> int:
    response = await http.post(f"/api/feeds/{feed}/tokens", json={"name": "t"}, headers=auth)
    return response.status_code


async def entry_publish(http: httpx.AsyncClient, auth: dict[str, str], feed: str) -> int:
    body = {"body": "new", "status": "published"}
    response = await http.post(f"/api/feeds/{feed}/entries", json=body, headers=auth)
    return response.status_code


async def entry_edit_published(http: httpx.AsyncClient, auth: dict[str, str], feed: str) -> int:
    entry_id = await _entry(http, feed)
    response = await http.patch(
        f"/api/feeds/{feed}/entries/{entry_id}", json={"body": "edited"}, headers=auth
    )
    return response.status_code


async def entry_delete(http: httpx.AsyncClient, auth: dict[str, str], feed: str) -> int:
    entry_id = await _entry(http, feed)
    return (await http.delete(f"/api/feeds/{feed}/entries/{entry_id}", headers=auth)).status_code


async def entry_pin(http: httpx.AsyncClient, auth: dict[str, str], feed: str) -> int:
    response = await http.post(
        f"/api/feeds/{feed}/entries", json={"body": "pinned", "pinned": True}, headers=auth
    )
    return response.status_code


async def media_upload(http: httpx.AsyncClient, auth: dict[str, str], feed: str) -> int:
    response = await http.post(
        f"/api/feeds/{feed}/media",
        files={"file": ("red.png", _png(), "image/png")},
        data={"alt": "a red square"},
        headers=auth,
    )
    return response.status_code


async def team_view(http: httpx.AsyncClient, auth: dict[str, str], feed: str) -> int:
    return (await http.get(f"/api/feeds/{feed}/members", headers=auth)).status_code


async def _unpublished(http: httpx.AsyncClient, feed: str, status: str, owner: int | None) -> int:
    """An entry in ``status`` made by the admin token, then owned by account ``owner``."""
    made = await http.post(
        f"/api/feeds/{feed}/entries", json={"body": "draft", "status": status}, headers=ADMIN
    )
    assert made.status_code == 201, made.text
    entry_id: int = made.json()["id"]
    if owner is not None:
        async with ENGINE[0].begin() as conn:
            await conn.execute(
                entries.update().where(entries.c.id == entry_id).values(author_id=owner)
            )
    return entry_id


def own(probe: Callable[[httpx.AsyncClient, dict[str, str], str, int], Awaitable[int]]) -> Probe:
    """A probe on an entry the subject owns (its account's; a token owns nothing)."""

    async def run(http: httpx.AsyncClient, auth: dict[str, str], feed: str) -> int:
        return await probe(http, auth, feed, await _unpublished(http, feed, "draft", OWNER[0]))

    return run


async def entry_write_draft(
    http: httpx.AsyncClient, auth: dict[str, str], feed: str, entry_id: int
) -> int:
    response = await http.patch(
        f"/api/feeds/{feed}/entries/{entry_id}", json={"body": "my draft"}, headers=auth
    )
    return response.status_code


async def entry_submit(
    http: httpx.AsyncClient, auth: dict[str, str], feed: str, entry_id: int
) -> int:
    response = await http.post(f"/api/feeds/{feed}/entries/{entry_id}/submit", headers=auth)
    return response.status_code


async def entry_edit_unpublished_any(
    http: httpx.AsyncClient, auth: dict[str, str], feed: str
) -> int:
    entry_id = await _unpublished(http, feed, "submitted", None)  # no account's
    response = await http.patch(
        f"/api/feeds/{feed}/entries/{entry_id}", json={"body": "fixed"}, headers=auth
    )
    return response.status_code


async def entry_restore(http: httpx.AsyncClient, auth: dict[str, str], feed: str) -> int:
    entry_id = await _entry(http, feed)
    deleted = await http.delete(f"/api/feeds/{feed}/entries/{entry_id}", headers=ADMIN)
    assert deleted.status_code == 204
    response = await http.post(f"/api/feeds/{feed}/entries/{entry_id}/restore", headers=auth)
    return response.status_code


#: Probe and success status per action.
PROBES: dict[Action, tuple[Probe, int]] = {
    Action.FEED_CREATE: (feed_create, 201),
    Action.FEED_UPDATE: (feed_update, 200),
    Action.PEOPLE_MANAGE: (people_manage, 200),
    Action.TOKEN_MANAGE: (token_manage, 201),
    Action.ENTRY_WRITE_DRAFT: (own(entry_write_draft), 200),
    Action.ENTRY_SUBMIT: (own(entry_submit), 200),
    Action.ENTRY_EDIT_UNPUBLISHED_ANY: (entry_edit_unpublished_any, 200),
    Action.ENTRY_PUBLISH: (entry_publish, 201),
    Action.ENTRY_EDIT_PUBLISHED: (entry_edit_published, 200),
    Action.ENTRY_DELETE: (entry_delete, 204),
    Action.ENTRY_PIN: (entry_pin, 201),
    Action.ENTRY_RESTORE: (entry_restore, 200),
    Action.MEDIA_UPLOAD: (media_upload, 201),
    Action.TEAM_VIEW: (team_view, 200),
}
#: The database of the app under test, and the account the current subject is (None: a
#: token or nobody), for the own-entry probes.
ENGINE: list[Any] = []
OWNER: list[int | None] = [None]


SUBJECTS = [
    Subject("nobody", None, None),
    Subject("admin token", Role.ADMIN, Role.ADMIN),
    Subject("admin account", Role.ADMIN, Role.ADMIN, account=True),
    Subject("editor account, editor of the feed", Role.EDITOR, Role.EDITOR, account=True),
    Subject("editor account, contributor of the feed", Role.EDITOR, Role.CONTRIBUTOR, account=True),
    Subject("editor account, member of another feed only", Role.EDITOR, None, account=True),
    Subject(
        "contributor account, contributor of the feed",
        Role.CONTRIBUTOR,
        Role.CONTRIBUTOR,
        account=True,
    ),
    Subject(
        "contributor account, made editor of the feed (capped)",
        Role.CONTRIBUTOR,
        cap(Role.CONTRIBUTOR, Role.EDITOR),
        account=True,
    ),
    Subject("reporter token of the feed", Role.EDITOR, Role.EDITOR),
    Subject("reporter token of another feed", Role.EDITOR, None),
]


def expected(subject: Subject, action: Action, success: int) -> int:
    if subject.role is None:
        return 401
    role = subject.role if action in GLOBAL_ACTIONS else subject.feed_role
    decision = Decision.DENY if role is None else POLICY[role][action]
    if decision is Decision.ALLOW or (decision is Decision.OWN and subject.account):
        return success
    return 403


async def _account(
    app: FastAPI, client: httpx.AsyncClient, role: Role, memberships: dict[str, Role]
) -> dict[str, str]:
    """A new account signed in: its auth headers (``X-User-Id`` is for the test only)."""
    email = f"user{next(_serial)}@example.org"
    made = await client.post(
        "/api/users",
        json={"email": email, "role": role.value, "password": PASSWORD},
        headers=ADMIN,
    )
    assert made.status_code == 201, made.text
    for slug, feed_role in memberships.items():
        member = await client.put(
            f"/api/feeds/{slug}/members/{made.json()['id']}",
            json={"role": feed_role.value},
            headers=ADMIN,
        )
        assert member.status_code == 200, member.text
    signed = await client.post("/api/session", json={"email": email, "password": PASSWORD})
    assert signed.status_code == 201, signed.text
    cookie = signed.cookies[COOKIE_NAME]
    client.cookies.clear()  # every subject authenticates by its own headers only
    return {
        "Cookie": f"{COOKIE_NAME}={cookie}",
        "X-CSRF-Token": signed.json()["csrf_token"],
        "X-User-Id": str(made.json()["id"]),
    }


async def _token(client: httpx.AsyncClient, feed: str) -> dict[str, str]:
    made = await client.post(f"/api/feeds/{feed}/tokens", json={"name": "desk"}, headers=ADMIN)
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['token']}"}


async def _credentials(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> dict[str, dict[str, str]]:
    labels = [subject.label for subject in SUBJECTS]
    return dict(
        zip(
            labels,
            [
                {},
                ADMIN,
                await _account(app, client, Role.ADMIN, {}),
                await _account(app, client, Role.EDITOR, {feed: Role.EDITOR}),
                await _account(app, client, Role.EDITOR, {feed: Role.CONTRIBUTOR}),
                await _account(app, client, Role.EDITOR, {OTHER: Role.EDITOR}),
                await _account(app, client, Role.CONTRIBUTOR, {feed: Role.CONTRIBUTOR}),
                await _account(app, client, Role.CONTRIBUTOR, {feed: Role.EDITOR}),
                await _token(client, feed),
                await _token(client, OTHER),
            ],
            strict=True,
        )
    )


def test_every_action_has_a_probe() -> None:
    assert set(PROBES) == set(Action)


async def test_the_whole_policy_table_over_http(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    other = await client.post("/api/feeds", json={"slug": OTHER, "title": "o"}, headers=ADMIN)
    assert other.status_code == 201
    credentials = await _credentials(app, client, feed)
    ENGINE[:] = [app.state.livefeed.store.engine]
    outcomes: list[tuple[str, str, int, int]] = []
    for subject in SUBJECTS:
        user_id = credentials[subject.label].get("X-User-Id")
        OWNER[0] = None if user_id is None else int(user_id)
        for action in Action:
            probe, success = PROBES[action]
            got = await probe(client, credentials[subject.label], feed)
            want = expected(subject, action, success)
            outcomes.append((subject.label, action.value, want, got))
    wrong = [o for o in outcomes if o[2] != o[3]]
    assert not wrong, "\n".join(f"{s} × {a}: expected {w}, got {g}" for s, a, w, g in wrong)
    # The walk saw every kind of answer (a table where everything passes proves nothing).
    assert {o[3] for o in outcomes} >= {200, 201, 204, 401, 403}
    assert len(outcomes) == len(SUBJECTS) * len(Action)


async def test_own_only_rights_stop_at_other_peoples_entries(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    ENGINE[:] = [app.state.livefeed.store.engine]
    auth = await _account(app, client, Role.CONTRIBUTOR, {feed: Role.CONTRIBUTOR})
    theirs = await _unpublished(client, feed, "draft", None)
    for response in (
        await client.post(f"/api/feeds/{feed}/entries/{theirs}/submit", headers=auth),
        await client.patch(f"/api/feeds/{feed}/entries/{theirs}", json={"body": "x"}, headers=auth),
    ):
        assert response.status_code == 403, response.text
    mine = await client.post(
        f"/api/feeds/{feed}/entries", json={"body": "mine", "status": "submitted"}, headers=auth
    )
    assert mine.status_code == 201 and mine.json()["status"] == "submitted"
    default = await client.post(f"/api/feeds/{feed}/entries", json={"body": "d"}, headers=auth)
    assert default.status_code == 201 and default.json()["status"] == "draft"
    publish = await client.post(
        f"/api/feeds/{feed}/entries/{mine.json()['id']}/publish", headers=auth
    )
    assert publish.json() == {"detail": f"missing the right entry.publish on feed {feed!r}"}


async def test_a_refusal_names_the_missing_right(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    auth = await _account(app, client, Role.CONTRIBUTOR, {feed: Role.CONTRIBUTOR})
    body = {"body": "x", "status": "published"}
    refused = await client.post(f"/api/feeds/{feed}/entries", json=body, headers=auth)
    assert refused.status_code == 403
    assert refused.json() == {"detail": f"missing the right entry.publish on feed {feed!r}"}
    nobody = await client.post(f"/api/feeds/{feed}/entries", json={"body": "x"})
    assert nobody.status_code == 401 and nobody.headers["www-authenticate"] == "Bearer"
