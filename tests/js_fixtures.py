"""The server's own answers for the browser code's pure rules, as JSON for ``node --test``.

``web/tests/*.test.js`` check the browser modules (``web/static/lib/``) against these files;
``tests/unit/test_js_fixtures.py`` checks the committed files are exactly what the server functions
produce now. Together: the server and the browser cannot drift apart unnoticed.

Regenerate after changing a rule on purpose: ``.venv/bin/python -m tests.js_fixtures``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app import timeline
from app.live import close_codes
from app.media.html import media_html
from app.render import render_markdown
from app.schemas import Entry, Feed, MediaItem, MediaVariant

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "js"

#: (locale tag, time zone): 24 h and 12 h clocks, Latin and non-Latin scripts, odd offsets.
LOCALES = [
    ("fr-FR", "Europe/Paris"),
    ("en-GB", "UTC"),
    ("en-US", "America/New_York"),
    ("de-DE", "Europe/Berlin"),
    ("es-ES", "Atlantic/Canary"),
    ("ja-JP", "Asia/Tokyo"),
    ("ar-EG", "Africa/Cairo"),
    ("pl-PL", "Europe/Warsaw"),
    ("en-IN", "Asia/Kolkata"),
]

#: Instants around midnight, noon, DST changes and a leap day.
INSTANTS = [
    "2021-06-24T15:42:07+00:00",
    "2021-06-24T22:30:00+00:00",
    "2021-06-24T23:59:59+00:00",
    "2024-02-29T00:00:00+00:00",
    "2024-03-31T00:59:00+00:00",
    "2024-03-31T01:00:00+00:00",
    "2024-10-27T00:30:00+00:00",
    "2024-10-27T01:30:00+00:00",
    "2025-01-01T11:00:00+00:00",
    "2025-01-01T12:00:00+00:00",
    "2025-12-31T23:00:00+00:00",
]

PLURAL_COUNTS = [0, 1, 2, 3, 5, 11, 21, 22, 25, 100, 101, 1000000]
PLURAL_KEYS = ["new_updates", "announce_new", "entries_count"]

#: Markdown bodies whose headlines exercise the rule: cut points, punctuation, entities, tags.
HEADLINE_BODIES = [
    "Short update.",
    "Sergueï Lavrov quitte la salle : la **session plénière** est suspendue.",
    "word " * 40,
    "x" * 130,
    "A sentence that is long enough to be cut somewhere after the hundred and tenth character, "
    "ending with a comma, right here, and more",
    "Ends in punctuation just at the limit so that the cut leaves a dash behind it — then "
    "continues — for a while longer, yes.",
    "Tom & Jerry <3 \"quotes\" and 'apostrophes' > everything; " * 3,
    "First paragraph.\n\nSecond paragraph with *emphasis* and `code`.",
    "- a list item\n- another one\n\n> a quote",
    "Émojis 🎉🎉🎉 count as one character each in Python: " + "🎉" * 80,
    "[a link](https://example.org/path) and https://example.org/bare " * 3,
    "Non\u00a0breaking\u00a0spaces\u00a0everywhere\u00a0" * 10,
    "# A heading\n\nThen text.",
    "",
    "<script>alert(1)</script> Stripped by the sanitizer, text kept.",
]


_FIXTURE_PHOTO = MediaItem(
    id=1,
    url="/media/ab/1/640.jpg",
    width=640,
    height=480,
    content_type="image/jpeg",
    alt="La salle",
    caption="La salle plénière après le départ de la délégation.",
    credit="Photo : Rédaction",
    variants=[
        MediaVariant(url="/media/ab/1/640.webp", width=640, height=480, content_type="image/webp"),
        MediaVariant(url="/media/ab/1/640.jpg", width=640, height=480, content_type="image/jpeg"),
    ],
)


def _entry(body: str, html: str) -> Entry:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    return Entry(
        id=1,
        feed="f",
        rev=1,
        published_at=now,
        updated_at=now,
        author=None,
        body=body,
        html=html,
        pinned=False,
        key_event=True,
        deleted=False,
        has_time=True,
    )


def _plural(tag: str, key: str, n: int) -> str:
    """A plural message as CLDR (Babel, the server's locale data) picks its form."""
    forms = timeline.strings(tag)[key]
    form = timeline.babel_locale(tag).plural_form(n)
    return str(forms.get(form, forms["other"])).replace("{n}", str(n))


def format_cases() -> dict[str, Any]:
    """Day headings, clock times, day keys and plurals per locale; headlines."""
    locales = []
    for tag, zone_name in LOCALES:
        zone = timeline.feed_zone(zone_name)
        instants = []
        for iso in INSTANTS:
            moment = datetime.fromisoformat(iso)
            local = moment.astimezone(zone)
            instants.append(
                {
                    "iso": iso,
                    "ms": timeline.epoch_ms(moment),
                    "dayKey": local.date().isoformat(),
                    "heading": timeline.day_heading(local.date(), tag),
                    "time": timeline.clock_time(moment, zone, tag),
                    # An entry edited at this instant: its "updated 14:32" mark.
                    "updated": timeline.entry_view(
                        _entry("x", "<p>x</p>").model_copy(update={"edited_at": moment}),
                        zone,
                        tag,
                    ).edited_label,
                }
            )
        plurals = [
            {"key": key, "n": n, "text": _plural(tag, key, n)}
            for key in PLURAL_KEYS
            for n in PLURAL_COUNTS
        ]
        locales.append(
            {
                "tag": tag,
                "timezone": zone_name,
                "config": timeline.client_locale(tag, zone_name),
                "instants": instants,
                "plurals": plurals,
            }
        )
    headlines = []
    for body in HEADLINE_BODIES:
        html = render_markdown(body)
        headlines.append(
            {"body": body, "html": html, "headline": timeline.headline(_entry(body, html))}
        )
    # Captions and link cards are not part of a headline.
    body = "Lavrov quitte la salle."
    html = render_markdown(body) + media_html([_FIXTURE_PHOTO])
    headlines.append(
        {"body": body, "html": html, "headline": timeline.headline(_entry(body, html))}
    )
    # HTML-only text (e.g. an entry whose text is all markup) falls back to the body.
    fallback = _entry("  fallback body  ", "<p></p>")
    headlines.append(
        {"body": fallback.body, "html": fallback.html, "headline": timeline.headline(fallback)}
    )
    return {"locales": locales, "headlines": headlines, "headlineChars": timeline.HEADLINE_CHARS}


def key_event_cases() -> dict[str, Any]:
    """The key-event list the server renders for a feed: order and "when" labels."""
    tag, zone_name = "fr-FR", "Europe/Paris"
    base = datetime(2021, 6, 24, 15, 0, tzinfo=UTC)
    entries = []
    for i in range(6):
        body = f"Moment clé numéro {i}"
        when = base + timedelta(hours=(i * 7) % 5, minutes=i)
        entry = _entry(body, render_markdown(body)).model_copy(
            update={"id": i + 1, "published_at": when, "has_time": i % 3 != 0}
        )
        entries.append(entry)
    feed = Feed.model_validate(
        {
            "slug": "f",
            "title": "Direct",
            "description": "",
            "locale": tag,
            "timezone": zone_name,
            "status": "live",
            "rev": 6,
            "created_at": base,
            "updated_at": base,
            "started_at": base,
            "ended_at": None,
            "allowed_origins": [],
        }
    )
    view = timeline.build_timeline(
        feed, entries, rev=6, next_before=None, before=None, limit=30, key_event_entries=entries
    )
    return {
        "limit": timeline.KEY_EVENT_LINKS,
        "config": timeline.client_locale(tag, zone_name),
        "entries": [e.model_dump(mode="json") for e in entries],
        "keyEvents": [
            {"id": k.id, "when": k.when, "headline": k.headline, "ts": k.published_ms}
            for k in view.key_events
        ],
    }


def all_fixtures() -> dict[str, Any]:
    """File name → content of every fixture ``web/tests`` reads."""
    return {
        "format.json": format_cases(),
        "key_events.json": key_event_cases(),
        "close_codes.json": close_codes.client_table(),
    }


def dump(content: Any) -> str:
    return json.dumps(content, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def write() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, content in all_fixtures().items():
        (FIXTURES / name).write_text(dump(content), encoding="utf-8")


if __name__ == "__main__":
    write()
