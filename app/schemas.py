"""Wire models: what the HTTP API and the live transports speak (kept apart from tables)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

from app.text import check_text

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_SLUG_RE = re.compile(SLUG_PATTERN)


#: Entry ids are 32-bit (INTEGER on SQLite and PostgreSQL); revs are 64-bit.
MAX_ID = 2**31 - 1
MAX_REV = 2**63 - 1

# Any feed time zone can show a moment in this range (UTC ± 14 h stays within years 1–9999).
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)


def _check_aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("datetime must include a UTC offset, e.g. 2024-06-24T09:30:00+02:00")
    try:
        in_range = EARLIEST <= value.astimezone(UTC) < LATEST
    except OverflowError:
        in_range = False
    if not in_range:
        raise ValueError("datetime out of range: use a moment between 0001-01-02 and 9999-12-30")
    return value


def _check_locale(value: str) -> str:
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(value, sep="-" if "-" in value else "_")
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"unknown locale {value!r}; use a tag like fr-FR or en-GB") from None
    return value


def _check_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name like Europe/Paris"
        ) from None
    return value


def _check_origin(value: str) -> str:
    if value == "*" or re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", value):
        return value
    raise ValueError(f"{value!r} is not an origin like https://news.example")


Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=SLUG_PATTERN),
]


def _require_iso_string(value: object) -> object:
    if isinstance(value, str | datetime):
        return value
    raise ValueError("must be an ISO 8601 string like 2024-06-24T09:30:00+02:00, not a number")


# An ISO 8601 string only, never a number read as a Unix time.
AwareDatetime = Annotated[
    datetime, BeforeValidator(_require_iso_string), AfterValidator(_check_aware)
]
StrictBool = Annotated[bool, Strict()]
CleanText = AfterValidator(check_text)
CleanStr = Annotated[str, CleanText]
LocaleTag = Annotated[
    str, StringConstraints(min_length=2, max_length=35), AfterValidator(_check_locale)
]
TimeZoneName = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_check_timezone)
]
Origin = Annotated[str, AfterValidator(_check_origin)]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), CleanText
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), CleanText]
Author = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), CleanText]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), CleanText]
TokenName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), CleanText
]
FeedStatus = Literal["live", "ended"]


def is_valid_slug(value: str) -> bool:
    return len(value) <= 64 and _SLUG_RE.match(value) is not None


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedCreate(_Input):
    slug: Slug
    title: Title
    description: Description = ""
    locale: LocaleTag = "en-GB"
    timezone: TimeZoneName = "UTC"
    allowed_origins: list[Origin] = Field(default_factory=list, max_length=50)


class FeedUpdate(_Input):
    title: Title | None = None
    description: Description | None = None
    status: FeedStatus | None = None
    locale: LocaleTag | None = None
    timezone: TimeZoneName | None = None
    allowed_origins: list[Origin] | None = Field(default=None, max_length=50)


class Feed(BaseModel):
    slug: str
    title: str
    description: str
    locale: str
    timezone: str
    status: FeedStatus
    rev: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    allowed_origins: list[str]


MediaText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), CleanText]
Credit = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), CleanText]


class MediaVariant(BaseModel):
    url: str
    width: int
    height: int
    content_type: str


class LinkCard(BaseModel):
    """A video or social post resolved once, at write time (oEmbed)."""

    url: str = Field(description="The link the reporter pasted.")
    title: str | None = None
    author_name: str | None = None
    provider_name: str | None = None
    #: False when the provider could not be reached or described nothing playable: the
    #: card is then a plain link.
    playable: bool = False
    #: The click-to-load frame readers see (unguessable: unpublished cards stay private).
    frame_url: str | None = None


class MediaItem(BaseModel):
    """An uploaded image (``kind: image``) or a link card (``kind: card``)."""

    id: int
    kind: Literal["image", "card"] = "image"
    url: str = Field(description="Image: its largest JPEG/PNG/GIF rendition. Card: the link.")
    width: int | None = None
    height: int | None = None
    content_type: str | None = None
    alt: str | None = Field(
        default=None, description='Text alternative; "" marks a decorative image.'
    )
    caption: str | None = None
    credit: str | None = None
    variants: list[MediaVariant] = Field(
        default_factory=list, description="Every rendition (WebP and fallback), for srcset."
    )
    card: LinkCard | None = None
    #: Card thumbnail: its renditions (re-hosted here), empty without one.
    thumbnail: list[MediaVariant] = Field(default_factory=list)


class MediaRef(_Input):
    """Attach media ``id`` to an entry, optionally overriding its texts for this entry."""

    id: int = Field(ge=1, le=2**31 - 1)
    alt: MediaText | None = None
    caption: MediaText | None = None
    credit: Credit | None = None


MediaId = Annotated[int, Field(ge=1, le=MAX_ID)]
MediaList = Annotated[list[MediaId | MediaRef], Field(max_length=20)]


class LinkCardCreate(_Input):
    url: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2000), CleanText
    ]


def _check_future(value: datetime | None) -> datetime | None:
    if value is not None and value <= datetime.now(UTC):
        raise ValueError("must be in the future")
    return value


#: The entry lifecycle (``app/workflow.py``): only ``published`` entries reach readers.
EntryStatus = Literal["draft", "submitted", "scheduled", "published"]
_STATUS_FIELD = Field(
    default=None,
    description="draft, submitted, scheduled (with publish_at) or published.",
)
_PUBLISH_AT_FIELD = Field(
    default=None,
    description="When a scheduled entry publishes itself (must be in the future); only with "
    "status scheduled.",
)


def _check_schedule(status: str | None, publish_at: datetime | None) -> None:
    """``publish_at`` goes with status ``scheduled`` and nothing else (422 otherwise)."""
    if status == "scheduled" and publish_at is None:
        raise ValueError("status scheduled needs publish_at")
    if publish_at is not None and status not in (None, "scheduled"):
        raise ValueError(f"publish_at only goes with status scheduled, not {status}")


class EntryCreate(_Input):
    body: Body
    author: Author | None = None
    pinned: StrictBool = False
    key_event: StrictBool = False
    published_at: AwareDatetime | None = None
    media: MediaList = Field(default_factory=list, description="Ids of uploaded media, in order.")
    status: EntryStatus = Field(
        default="published",
        description="draft, submitted, scheduled (with publish_at) or published (default).",
    )
    publish_at: Annotated[AwareDatetime | None, AfterValidator(_check_future)] = _PUBLISH_AT_FIELD

    @model_validator(mode="after")
    def _schedule(self) -> EntryCreate:
        _check_schedule(self.status, self.publish_at)
        return self


class EntryUpdate(_Input):
    body: Body | None = None
    author: Author | None = None
    pinned: StrictBool | None = None
    key_event: StrictBool | None = None
    published_at: AwareDatetime | None = None
    media: MediaList | None = Field(default=None, description="Replaces the entry's media.")
    status: EntryStatus | None = _STATUS_FIELD
    publish_at: Annotated[AwareDatetime | None, AfterValidator(_check_future)] = _PUBLISH_AT_FIELD

    @model_validator(mode="after")
    def _schedule(self) -> EntryUpdate:
        _check_schedule(self.status, self.publish_at)
        return self


class ScheduleRequest(_Input):
    publish_at: Annotated[AwareDatetime, AfterValidator(_check_future)] = Field(
        description="When the entry publishes itself (UTC offset required; in the future)."
    )


class Entry(BaseModel):
    id: int
    feed: str
    rev: int = Field(description="The feed rev of its last public change; 0 if never published.")
    published_at: datetime
    updated_at: datetime
    author: str | None
    body: str
    html: str
    pinned: bool
    key_event: bool
    deleted: bool
    has_time: bool = Field(
        description="False for entries imported without a clock time: show only their day."
    )
    media: list[MediaItem] = Field(default_factory=list)
    status: EntryStatus = "published"
    publish_at: datetime | None = Field(default=None, description="When a scheduled entry is due.")
    edited_at: datetime | None = Field(
        default=None, description="The last edit of the published entry's content, if any."
    )
    revisions: int = Field(default=0, description="Earlier versions kept (GET …/revisions).")


class EntryRevision(BaseModel):
    """An earlier version of a published entry, as it was before an edit replaced it."""

    number: int = Field(description="1 for the oldest; pass to …/revisions/{number}/restore.")
    body: str
    html: str
    author: str | None
    media: list[MediaItem] = Field(default_factory=list)
    written_at: datetime = Field(description="When this version was written.")
    written_by: str | None = Field(description="Who wrote it (null before revisions existed).")
    written_by_id: int | None = Field(
        default=None, description="Their account (null for a bearer token or an older version)."
    )
    replaced_at: datetime = Field(description="When an edit replaced it.")
    replaced_by: str | None
    replaced_by_id: int | None = Field(default=None, description="Their account, if any.")
    reason: Literal["edit", "restore"] = Field(
        description="What replaced it: an edit, or the restore of another version."
    )


class EntryPage(BaseModel):
    entries: list[Entry]
    next_before: int | None = Field(description="Pass as ?before= to get the next older page.")
    rev: int
    #: For the reader pages' ``?around=``/``?after=`` pages: the ``after`` cursor of the page
    #: above, when newer entries exist (not part of the API's answer).
    newer_after: int | None = Field(default=None, exclude=True)


class ChangesPage(BaseModel):
    rev: int
    events: list[dict[str, object]]


class TokenCreate(_Input):
    name: TokenName = "reporter"
    expires_at: Annotated[AwareDatetime | None, AfterValidator(_check_future)] = Field(
        default=None, description="After this moment the token authenticates nothing (401)."
    )


class TokenCreated(BaseModel):
    id: int = Field(description="Pass to DELETE /api/tokens/{id} to revoke it.")
    token: str = Field(description="Shown once; only its hash is stored.")
    name: str
    feed: str
    expires_at: datetime | None


class TokenInfo(BaseModel):
    """A stored token, never its secret: what ``GET /api/tokens`` lists."""

    id: int
    name: str
    feed: str | None = Field(description="The feed a reporter token writes to; null for admin.")
    is_admin: bool
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    active: bool = Field(description="Neither revoked nor expired: it authenticates.")


class ErrorBody(BaseModel):
    """Every error response: ``detail`` names the problem (English, stable)."""

    detail: str
    message: str | None = Field(
        default=None,
        description="`detail` in the language the request's Accept-Language asks for (one of "
        "the UI's languages); absent when the request names none.",
    )


class FieldError(BaseModel):
    loc: list[str | int] = Field(description='Where: e.g. ["body", "published_at"].')
    msg: str
    type: str


class ValidationErrorBody(ErrorBody):
    """A 400 (malformed JSON) or 422 (invalid fields): ``detail`` names every field."""

    errors: list[FieldError] = Field(default_factory=list)


# -- accounts (app/api/accounts.py, app/studio.py) --------------------------------------------

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$"
    ),
    CleanText,
]
DisplayName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), CleanText
]
#: What a login accepts (any stored password); new passwords need 10 characters or more.
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024), CleanText]
NewPassword = Annotated[str, StringConstraints(min_length=10, max_length=1024), CleanText]
AccountRole = Literal["admin", "editor", "contributor"]
FeedRole = Literal["editor", "contributor"]


class LoginRequest(_Input):
    email: Email
    password: Password


class UserCreate(_Input):
    email: Email
    display_name: DisplayName | None = Field(
        default=None, description="Default: the part of the address before the @."
    )
    role: AccountRole = "contributor"
    password: NewPassword | None = Field(
        default=None, description="Omitted: the answer carries a one-time reset link instead."
    )


class UserUpdate(_Input):
    display_name: DisplayName | None = None
    role: AccountRole | None = None
    disabled: StrictBool | None = Field(
        default=None, description="true: every session ends at once and login is refused."
    )


class UserInfo(BaseModel):
    """An account, never its password."""

    id: int
    email: str
    display_name: str
    role: AccountRole
    disabled: bool
    created_at: datetime
    has_password: bool = Field(description="False until a reset link has set one.")
    feeds: dict[str, FeedRole] = Field(description="The account's role per feed slug.")


class UserCreated(UserInfo):
    reset_link: str | None = Field(
        description="When created without a password: where to set one (shown once)."
    )


class ResetLink(BaseModel):
    reset_link: str = Field(description="Shown once; works once, until expires_at.")
    expires_at: datetime


class MembershipSet(_Input):
    role: FeedRole


class MemberInfo(BaseModel):
    user_id: int
    email: str
    display_name: str
    role: FeedRole
    disabled: bool


class SessionCreated(BaseModel):
    user: UserInfo
    csrf_token: str = Field(description="Send as X-CSRF-Token on every unsafe request.")
