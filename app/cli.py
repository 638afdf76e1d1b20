"""The ``livefeed`` command: serve, migrate, feeds, tokens, users, members, post, import."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.config import Settings, SettingsError, load_settings
from app.passwords import hash_password, new_password
from app.permissions import Role
from app.schemas import EntryCreate, FeedCreate, TokenCreate, UserCreate, is_valid_slug
from app.store import NotFound, Store, StoreError
from app.store.accounts import Account, AccountStore
from app.store.engine import make_engine
from app.store.migrate import current_revision, head_revision, upgrade


class CliError(Exception):
    """Printed as ``livefeed: error: …`` with exit status 2."""


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise CliError(str(exc)) from None


def _run(work: Callable[[Store], Awaitable[Any]], settings: Settings | None = None) -> Any:
    settings = settings or _settings()

    async def main() -> Any:
        store = Store(make_engine(settings.database_url, pool_size=2))
        try:
            await _require_schema(store, settings)
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(main())


async def _require_schema(store: Store, settings: Settings) -> None:
    current = await current_revision(store.engine)
    if current == head_revision():
        return
    if settings.is_sqlite and current is None:
        await upgrade(store.engine)
        return
    raise CliError(
        f"the database schema is at {current or 'nothing'}, not {head_revision()}: "
        "run `livefeed migrate` first"
    )


# -- serve ----------------------------------------------------------------------------------


DEMO_ENTRIES = [
    "Welcome to **livefeed**. This demo feed was created on first start; post to it from "
    'the console at /studio or with `livefeed post demo "Hello"`.',
    "Every reader of this page sees new entries at the top within a blink, without "
    "reloading — over WebSocket, with SSE and polling as fallbacks.",
    "Edits and deletions are pushed too. Try editing this entry from the console.",
]


@dataclass(frozen=True, slots=True)
class FirstStart:
    """What a start created, to print once."""

    admin_token: str | None
    demo: bool
    #: (email, password) of the admin account created because there was none.
    admin_account: tuple[str, str] | None


async def _first_start(store: Store, settings: Settings, fresh: bool) -> FirstStart:
    """Create the admin token (unless configured), the first admin account (when there is no
    account) and, on a fresh database, the demo feed."""
    token = None
    if not settings.admin_token and not await store.has_admin_token():
        token = await store.create_token(None, "admin (generated on first start)", admin=True)
    admin_account = None
    accounts = AccountStore(store)
    if not await accounts.list_users():
        password = new_password()
        await accounts.create_user(
            settings.first_admin_email, "Admin", Role.ADMIN, await hash_password(password)
        )
        admin_account = (settings.first_admin_email, password)
    created_demo = False
    if fresh and await store.count_feeds() == 0:
        await store.create_feed(
            FeedCreate(
                slug="demo",
                title="livefeed demo",
                description="A sample live blog created on first start.",
                locale="en-GB",
                timezone="Europe/London",
            )
        )
        for body in DEMO_ENTRIES:
            await store.create_entry("demo", EntryCreate(body=body, author="livefeed"))
        created_demo = True
    return FirstStart(token, created_demo, admin_account)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.live.uvicorn_bridge import LivefeedServer
    from app.server import uvicorn_config

    settings = _settings()
    if args.workers > 1 and not settings.redis_url:
        raise CliError(
            f"--workers {args.workers} needs LIVEFEED_REDIS_URL: processes share live "
            "updates through Redis (the in-process broker only reaches one process)"
        )
    if args.workers > 1 and settings.is_sqlite:
        print(
            "livefeed: note: several workers on SQLite work, but use PostgreSQL in production",
            file=sys.stderr,
        )

    async def prepare() -> FirstStart:
        store = Store(make_engine(settings.database_url, pool_size=2))
        try:
            fresh = await current_revision(store.engine) is None
            await _require_schema(store, settings)
            return await _first_start(store, settings, fresh)
        finally:
            await store.close()

    started = asyncio.run(prepare())
    token, demo = started.admin_token, started.demo
    base = f"http://{args.host}:{args.port}"
    public = settings.public_url
    if settings.log_format == "json":
        _announce_json(settings, base, started)
    else:
        lines = [f"livefeed serving on {base}"]
        if demo:
            lines.append(f"  reader page:      {public}/feeds/demo")
        lines.append(f"  feeds:            {public}/")
        lines.append(f"  reporter console: {public}/studio")
        if token:
            lines.append(f"  admin token:      {token}   (shown once; keep it safe)")
        elif settings.admin_token:
            lines.append("  admin token:      from LIVEFEED_ADMIN_TOKEN")
        else:
            lines.append(
                "  admin token:      printed on first start;"
                " `livefeed tokens admin` makes a new one"
            )
        if started.admin_account:
            email, password = started.admin_account
            lines.append(
                f"  admin sign-in:    {public}/login  {email} / {password}"
                "   (shown once; change it with `livefeed users reset-link`)"
            )
        print("\n".join(lines), flush=True)
    config = uvicorn_config(settings, host=args.host, port=args.port, workers=args.workers)
    if args.workers > 1:
        sock = config.bind_socket()
        uvicorn.supervisors.Multiprocess(config, sockets=[sock]).run()
    else:
        LivefeedServer(config).run()
    return 0


def _announce_json(settings: Settings, base: str, started: FirstStart) -> None:
    """Start-up facts as one JSON log line. Secrets never go to logs: a generated admin
    token (or first admin password) is written to a 0600 file instead, and the line says
    where."""
    demo, token = started.demo, started.admin_token
    import logging

    from app.logging import configure

    configure("json", settings.log_level, [settings.admin_token or ""])
    facts: dict[str, Any] = {
        "listen": base,
        "feeds": f"{settings.public_url}/",
        "studio": f"{settings.public_url}/studio",
    }
    if demo:
        facts["reader"] = f"{settings.public_url}/feeds/demo"
    if token:
        path = Path("livefeed-admin-token").resolve()
        path.touch(mode=0o600)
        path.write_text(token + "\n")
        facts["admin_token_file"] = str(path)
    if started.admin_account:
        email, password = started.admin_account
        path = Path("livefeed-admin-password").resolve()
        path.touch(mode=0o600)
        path.write_text(password + "\n")
        facts["admin_account"] = email
        facts["admin_password_file"] = str(path)
    logging.getLogger("livefeed.cli").info("starting", extra=facts)


# -- migrate, feeds, tokens -------------------------------------------------------------------


def cmd_migrate(_args: argparse.Namespace) -> int:
    settings = _settings()

    async def main() -> tuple[str | None, str | None]:
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            return await upgrade(engine)
        finally:
            await engine.dispose()

    before, after = asyncio.run(main())
    if before == after:
        print(f"database already at {after}")
    else:
        print(f"database migrated from {before or 'empty'} to {after}")
    return 0


def cmd_feeds_create(args: argparse.Namespace) -> int:
    try:
        data = FeedCreate(
            slug=args.slug,
            title=args.title,
            description=args.description,
            locale=args.locale,
            timezone=args.timezone,
        )
    except ValueError as exc:
        raise CliError(_validation_message(exc)) from None
    feed = _run(lambda store: store.create_feed(data))
    print(f"created feed {feed.slug!r} ({feed.locale}, {feed.timezone})")
    print(f"  reader page: {_settings().public_url}/feeds/{feed.slug}")
    return 0


def cmd_feeds_list(_args: argparse.Namespace) -> int:
    for feed in _run(lambda store: store.list_feeds()):
        print(f"{feed.slug}\t{feed.status}\trev {feed.rev}\t{feed.title}")
    return 0


def cmd_tokens_create(args: argparse.Namespace) -> int:
    try:
        data = TokenCreate(name=args.name, expires_at=args.expires_at)
    except ValueError as exc:
        raise CliError(_validation_message(exc)) from None
    token = _run(lambda store: store.create_token(args.slug, data.name, expires_at=data.expires_at))
    print(token)
    print(
        f"reporter token for {args.slug!r} (shown once; only its hash is stored)", file=sys.stderr
    )
    return 0


def cmd_tokens_admin(args: argparse.Namespace) -> int:
    token = _run(lambda store: store.create_token(None, args.name, admin=True))
    print(token)
    print("admin token (shown once; only its hash is stored)", file=sys.stderr)
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    """One line per stored token: id, state, scope, name, created, expires (never secrets)."""
    for info in _run(lambda store: store.list_tokens(args.feed)):
        state = "revoked" if info.revoked_at else ("active" if info.active else "expired")
        scope = "admin" if info.is_admin else f"feed:{info.feed}"
        expires = info.expires_at.isoformat(timespec="seconds") if info.expires_at else "never"
        created = info.created_at.isoformat(timespec="seconds")
        print(f"{info.id}\t{state}\t{scope}\t{info.name}\t{created}\texpires {expires}")
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    info = _run(lambda store: store.revoke_token(args.id))
    scope = "admin" if info.is_admin else f"feed {info.feed!r}"
    print(f"revoked token {info.id} ({info.name!r}, {scope}): it gets 401 from now on")
    return 0


def cmd_media_prune(args: argparse.Namespace) -> int:

    from app.media.library import MediaLibrary
    from app.media.storage import make_storage

    settings = _settings()

    async def work(store: Store) -> Any:
        library = MediaLibrary(settings, store, make_storage(settings))
        return await library.prune(timedelta(hours=args.older_than_hours))

    result = _run(work, settings)
    print(
        f"removed {result.media_removed} unused media and {result.files_removed} files",
    )
    return 0


# -- users and members ----------------------------------------------------------------------


async def _account_of(accounts: AccountStore, email: str) -> Account:
    account = await accounts.find_user(email)
    if account is None:
        raise NotFound(f"no account with the address {email!r}")
    return account


async def _reset_link(accounts: AccountStore, settings: Settings, account: Account) -> str:
    from app.auth import new_reset_link

    return (await new_reset_link(accounts, settings, account.id))[0]


def cmd_users_create(args: argparse.Namespace) -> int:
    """Create an account; print a one-time reset link (or, asked, a generated password)."""
    settings = _settings()
    try:
        data = UserCreate(email=args.email, display_name=args.name, role=args.role)
    except ValueError as exc:
        raise CliError(_validation_message(exc)) from None
    password = new_password() if args.generate_password else None

    async def work(store: Store) -> tuple[Account, str]:
        accounts = AccountStore(store)
        password_hash = None if password is None else await hash_password(password)
        name = data.display_name or data.email.split("@", 1)[0]
        account = await accounts.create_user(data.email, name, Role(data.role), password_hash)
        for slug in args.feed or ():
            role = Role.CONTRIBUTOR if account.role is Role.CONTRIBUTOR else Role.EDITOR
            await accounts.set_membership(slug, account.id, role)
        secret = password or await _reset_link(accounts, settings, account)
        return account, secret

    account, secret = _run(work, settings)
    print(secret)
    what = "password" if password else "link to set a password (works once)"
    feeds = ", ".join(args.feed or ()) or "no feed yet"
    print(
        f"created {account.role.value} account {account.email!r} ({feeds}); "
        f"its {what} is shown once",
        file=sys.stderr,
    )
    return 0


def cmd_users_list(_args: argparse.Namespace) -> int:
    """One line per account: id, state, role, email, name, feed roles (never passwords)."""
    for account in _run(lambda store: AccountStore(store).list_users()):
        state = "disabled" if account.disabled_at else "active"
        feeds = ",".join(f"{slug}:{role.value}" for slug, role in account.feeds.items()) or "-"
        print(
            f"{account.id}\t{state}\t{account.role.value}\t{account.email}\t"
            f"{account.display_name}\t{feeds}"
        )
    return 0


def _set_disabled(args: argparse.Namespace, disabled: bool) -> int:
    async def work(store: Store) -> Account:
        accounts = AccountStore(store)
        account = await _account_of(accounts, args.email)
        return await accounts.update_user(account.id, disabled=disabled)

    account = _run(work)
    if disabled:
        print(f"disabled {account.email!r}: its sessions ended, everywhere, at once")
    else:
        print(f"enabled {account.email!r}: it may sign in again")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    return _set_disabled(args, True)


def cmd_users_enable(args: argparse.Namespace) -> int:
    return _set_disabled(args, False)


def cmd_users_reset_link(args: argparse.Namespace) -> int:
    settings = _settings()

    async def work(store: Store) -> str:
        accounts = AccountStore(store)
        return await _reset_link(accounts, settings, await _account_of(accounts, args.email))

    print(_run(work, settings))
    hours = settings.reset_link_max_age_seconds / 3600
    print(
        f"one-time link to set a new password (valid {hours:g} h; using it ends every "
        "session of the account)",
        file=sys.stderr,
    )
    return 0


def cmd_members_add(args: argparse.Namespace) -> int:
    async def work(store: Store) -> str:
        accounts = AccountStore(store)
        account = await _account_of(accounts, args.email)
        member = await accounts.set_membership(args.slug, account.id, Role(args.role))
        return member.role.value

    role = _run(work)
    print(f"{args.email} is {role} of feed {args.slug!r}")
    return 0


def cmd_members_remove(args: argparse.Namespace) -> int:
    async def work(store: Store) -> None:
        accounts = AccountStore(store)
        account = await _account_of(accounts, args.email)
        await accounts.remove_membership(args.slug, account.id)

    _run(work)
    print(f"{args.email} is no longer a member of feed {args.slug!r}")
    return 0


def cmd_members_list(args: argparse.Namespace) -> int:
    for member in _run(lambda store: AccountStore(store).list_members(args.slug)):
        state = "disabled" if member.disabled else "active"
        print(
            f"{member.user_id}\t{member.role.value}\t{state}\t{member.email}\t{member.display_name}"
        )
    return 0


# -- post -----------------------------------------------------------------------------------


def cmd_post(args: argparse.Namespace) -> int:
    import httpx

    token = args.token or os.environ.get("LIVEFEED_TOKEN") or os.environ.get("LIVEFEED_ADMIN_TOKEN")
    if not token:
        raise CliError("a token is needed: --token T, or LIVEFEED_TOKEN in the environment")
    text = sys.stdin.read() if args.text == "-" else args.text
    base = (args.url or os.environ.get("LIVEFEED_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip(
        "/"
    )
    body: dict[str, Any] = {"body": text}
    if args.author:
        body["author"] = args.author
    if args.pinned:
        body["pinned"] = True
    if args.key_event:
        body["key_event"] = True
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    url = f"{base}/api/feeds/{args.slug}/entries"
    last_error: Exception | None = None
    # Same Idempotency-Key on every attempt: a retry after a lost response never posts twice.
    for _attempt in range(3):
        try:
            response = httpx.post(url, json=body, headers=headers, timeout=10)
            break
        except httpx.TransportError as exc:
            last_error = exc
    else:
        raise CliError(f"cannot reach {base}: {last_error}")
    if response.status_code != 201:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise CliError(f"{response.status_code}: {detail}")
    entry = response.json()
    print(f"posted entry {entry['id']} to {args.slug!r} at rev {entry['rev']}")
    return 0


# -- import ---------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from app.importer import ImportFormatError, plan

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None
    settings = _settings()

    async def work(store: Store) -> tuple[int, int]:
        feed = await store.get_feed(args.slug)
        if feed is None:
            raise CliError(f"feed {args.slug!r} not found; create it with `livefeed feeds create`")
        try:
            items = plan(
                text, locale=feed.locale, timezone=args.timezone or feed.timezone, year=args.year
            )
        except ImportFormatError as exc:
            raise CliError(f"{path}: {exc}") from None
        changes = await store.import_entries(args.slug, items)
        await _announce(settings, changes)
        return len(items), len(changes)

    total, added = _run(work, settings)
    skipped = total - added
    print(
        f"imported {added} entries into {args.slug!r}"
        + (f" ({skipped} already there)" if skipped else "")
    )
    return 0


async def _announce(settings: Settings, changes: Sequence[Any]) -> None:
    """Tell running servers about changes made from the command line (through Redis when
    configured; without it, servers pick them up on their next store re-read)."""
    if not changes or not settings.redis_url:
        return
    from app.brokers import BrokerUnavailable
    from app.brokers.redis import RedisBroker

    broker = RedisBroker(settings.redis_url)
    try:
        await broker.publish(changes[-1])
    except BrokerUnavailable:
        pass
    finally:
        await broker.stop()


# -- plumbing -------------------------------------------------------------------------------


def _validation_message(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors())
    return str(exc)


def _slug(value: str) -> str:
    if not is_valid_slug(value):
        raise argparse.ArgumentTypeError(
            f"invalid slug {value!r}: use lowercase letters, digits and hyphens"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livefeed", description="Self-hosted live blogs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the web server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="processes (more than 1 needs Redis)")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(func=cmd_migrate)

    feeds = sub.add_parser("feeds", help="manage feeds").add_subparsers(
        dest="action", required=True
    )
    create = feeds.add_parser("create", help="create a feed")
    create.add_argument("slug", type=_slug)
    create.add_argument("--title", required=True)
    create.add_argument("--description", default="")
    create.add_argument("--locale", default="en-GB", help="e.g. fr-FR (day headings, dates)")
    create.add_argument("--timezone", default="UTC", help="IANA name, e.g. Europe/Paris")
    create.set_defaults(func=cmd_feeds_create)
    feeds.add_parser("list", help="list feeds").set_defaults(func=cmd_feeds_list)

    tokens = sub.add_parser("tokens", help="manage tokens").add_subparsers(
        dest="action", required=True
    )
    token = tokens.add_parser("create", help="create a reporter token for a feed (printed once)")
    token.add_argument("slug", type=_slug)
    token.add_argument("--name", default="reporter")
    token.add_argument(
        "--expires-at", help="ISO 8601 moment with offset after which it gets 401 (default: never)"
    )
    token.set_defaults(func=cmd_tokens_create)
    listing = tokens.add_parser("list", help="list stored tokens (never their secrets)")
    listing.add_argument("--feed", type=_slug, help="only this feed's reporter tokens")
    listing.set_defaults(func=cmd_tokens_list)
    revoke = tokens.add_parser("revoke", help="revoke a token by id: 401 at once, everywhere")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_tokens_revoke)
    admin = tokens.add_parser("admin", help="create another admin token (printed once)")
    admin.add_argument("--name", default="admin")
    admin.set_defaults(func=cmd_tokens_admin)

    users = sub.add_parser("users", help="manage accounts").add_subparsers(
        dest="action", required=True
    )
    user = users.add_parser(
        "create", help="create an account (prints a one-time link to set its password)"
    )
    user.add_argument("email")
    user.add_argument("--role", choices=[r.value for r in Role], required=True)
    user.add_argument("--name", help="display name, the byline (default: the address's user)")
    user.add_argument(
        "--feed",
        type=_slug,
        action="append",
        help="make it a member of this feed, with its role (repeatable)",
    )
    user.add_argument(
        "--generate-password",
        action="store_true",
        help="print a generated password instead of a reset link",
    )
    user.set_defaults(func=cmd_users_create)
    users.add_parser("list", help="list accounts (never passwords)").set_defaults(
        func=cmd_users_list
    )
    for name, func, text in (
        ("disable", cmd_users_disable, "disable an account: its sessions end at once, everywhere"),
        ("enable", cmd_users_enable, "enable a disabled account"),
        ("reset-link", cmd_users_reset_link, "print a one-time link to set a new password"),
    ):
        command = users.add_parser(name, help=text)
        command.add_argument("email")
        command.set_defaults(func=func)

    members = sub.add_parser("members", help="manage feed memberships").add_subparsers(
        dest="action", required=True
    )
    add = members.add_parser("add", help="make an account a member of a feed (or change its role)")
    add.add_argument("slug", type=_slug)
    add.add_argument("email")
    add.add_argument("--role", choices=["editor", "contributor"], required=True)
    add.set_defaults(func=cmd_members_add)
    remove = members.add_parser("remove", help="remove an account from a feed")
    remove.add_argument("slug", type=_slug)
    remove.add_argument("email")
    remove.set_defaults(func=cmd_members_remove)
    team = members.add_parser("list", help="list a feed's members")
    team.add_argument("slug", type=_slug)
    team.set_defaults(func=cmd_members_list)

    post = sub.add_parser("post", help="post an entry through the HTTP API")
    post.add_argument("slug", type=_slug)
    post.add_argument("text", help="Markdown body, or - to read stdin")
    post.add_argument("--url", help="server base URL (default LIVEFEED_PUBLIC_URL)")
    post.add_argument("--token", help="reporter or admin token (default LIVEFEED_TOKEN)")
    post.add_argument("--author")
    post.add_argument("--pinned", action="store_true")
    post.add_argument("--key-event", action="store_true")
    post.set_defaults(func=cmd_post)

    imp = sub.add_parser("import", help="import a plain-text live blog export")
    imp.add_argument("slug", type=_slug)
    imp.add_argument("file")
    imp.add_argument("--year", type=int, help="year of the entries (default: inferred)")
    imp.add_argument("--timezone", help="IANA time zone (default: the feed's)")
    imp.set_defaults(func=cmd_import)

    media = sub.add_parser("media", help="manage uploaded media").add_subparsers(
        dest="media_command", required=True, metavar="ACTION"
    )
    prune = media.add_parser("prune", help="delete media no entry uses (and files no media owns)")
    prune.add_argument(
        "--older-than-hours",
        type=float,
        default=24.0,
        help="keep unused uploads younger than this, about to be attached (default 24)",
    )
    prune.set_defaults(func=cmd_media_prune)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
        return result
    except CliError as exc:
        print(f"livefeed: error: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"livefeed: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
