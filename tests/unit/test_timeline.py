"""``app/timeline.py``: day grouping in the feed's time zone, localized headings and times, and
the layout of one page of a timeline (pinned entry, key events, live flag)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app import timeline
from app.timeline import build_timeline, day_heading, group_by_day, headline
from tests.unit.builders import make_entry, make_feed

PARIS = ZoneInfo("Europe/Paris")


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2021, 6, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tag", "day", "expected"),
    [
        ("fr-FR", date(2021, 6, 24), "Jeudi 24 juin"),
        ("fr", date(2021, 6, 1), "Mardi 1 juin"),
        ("en-GB", date(2025, 10, 12), "Sunday 12 October"),
        ("de-DE", date(2021, 6, 24), "Donnerstag, 24. Juni"),
    ],
)
def test_day_headings_are_localized_and_capitalized(tag: str, day: date, expected: str) -> None:
    assert day_heading(day, tag) == expected


def test_an_unknown_locale_falls_back_to_british_english() -> None:
    assert day_heading(date(2021, 6, 24), "xx-nope") == "Thursday 24 June"


def test_clock_times_are_shown_in_the_feed_zone() -> None:
    assert timeline.clock_time(utc(24, 7, 5), PARIS, "fr-FR") == "09:05"


def test_entries_group_by_their_local_day_newest_first() -> None:
    entries = [
        make_entry(4, utc(24, 22, 30)),  # 00:30 on the 25th in Paris
        make_entry(3, utc(24, 9)),
        make_entry(2, utc(23, 21, 59)),  # 23:59 on the 23rd in Paris
        make_entry(1, utc(22, 10)),
    ]
    groups = group_by_day(entries, PARIS, "fr-FR")
    assert [(g.heading, [v.entry.id for v in g.entries]) for g in groups] == [
        ("Vendredi 25 juin", [4]),
        ("Jeudi 24 juin", [3]),
        ("Mercredi 23 juin", [2]),
        ("Mardi 22 juin", [1]),
    ]
    assert groups[0].key == "2021-06-25"


def test_an_entry_without_a_clock_time_shows_only_its_day() -> None:
    timed, untimed = group_by_day(
        [make_entry(2, utc(24, 7)), make_entry(1, utc(23, 10), has_time=False)], PARIS, "fr-FR"
    )
    assert timed.entries[0].time_label == "09:00"
    assert timed.entries[0].datetime_attr == "2021-06-24T09:00:00+02:00"
    assert untimed.entries[0].time_label is None
    assert untimed.entries[0].datetime_attr == "2021-06-23"


def test_a_short_headline_is_the_entry_text() -> None:
    entry = make_entry(1, utc(24, 7), html="<p>Le <strong>président</strong> arrive.</p>")
    assert headline(entry) == "Le président arrive."


def test_a_long_headline_is_cut_at_a_word_and_marked() -> None:
    words = " ".join(f"mot{i}" for i in range(60))
    entry = make_entry(1, utc(24, 7), body=words, html=f"<p>{words}</p>")
    cut = headline(entry, limit=40)
    assert cut.endswith("…")
    assert len(cut) <= 41
    stem = cut.removesuffix("…")
    assert words.startswith(stem) and words[len(stem)] == " "


def test_the_first_page_lifts_the_pinned_entry_out_of_its_day() -> None:
    feed = make_feed(rev=9)
    pinned = make_entry(1, utc(22, 10), pinned=True)
    entries = [make_entry(3, utc(24, 9)), make_entry(2, utc(23, 9))]
    first = build_timeline(
        feed, entries, rev=9, next_before=2, before=None, limit=2, pinned_entry=pinned
    )
    assert [v.entry.id for v in first.pinned] == [1]
    assert [v.entry.id for g in first.groups for v in g.entries] == [3, 2]
    older = build_timeline(
        feed, [make_entry(1, utc(22, 10), pinned=True)], rev=9, next_before=None, before=2, limit=2
    )
    assert older.pinned == []
    assert [v.entry.id for g in older.groups for v in g.entries] == [1]


def test_key_events_are_listed_newest_first_from_the_given_entries() -> None:
    feed = make_feed()
    page = [make_entry(5, utc(24, 9), key_event=True), make_entry(4, utc(24, 8))]
    older_key = make_entry(2, utc(22, 9), key_event=True, has_time=False)
    tl = build_timeline(
        feed,
        page,
        rev=5,
        next_before=4,
        before=None,
        limit=2,
        key_event_entries=[older_key, page[0]],
    )
    assert [(k.id, k.when) for k in tl.key_events] == [(5, "11:00"), (2, "Mardi 22 juin")]


def test_only_the_first_page_of_a_live_feed_is_live() -> None:
    entries = [make_entry(1, utc(24, 9))]
    args = {"rev": 1, "next_before": None, "limit": 30}
    assert build_timeline(make_feed(), entries, before=None, **args).live
    assert not build_timeline(make_feed(), entries, before=5, **args).live
    assert not build_timeline(make_feed(status="ended"), entries, before=None, **args).live


def test_the_client_config_names_the_feed_streams_and_resume_rev() -> None:
    tl = build_timeline(
        make_feed(slug="moscou"),
        [make_entry(1, utc(24, 9))],
        rev=12,
        next_before=None,
        before=None,
        limit=30,
    )
    config = json.loads(tl.config_json)
    assert (config["slug"], config["rev"], config["live"]) == ("moscou", 12, True)
    assert config["ws"] == "/ws/feeds/moscou"
    assert config["sse"] == "/sse/feeds/moscou"
    assert config["api"] == "/api/feeds/moscou"
    assert config["dayPattern"] == timeline.day_pattern("fr-FR")


def test_config_json_cannot_close_its_script_element() -> None:
    text = timeline.script_json({"title": "</script><script>alert(1)</script>"})
    assert "</script>" not in text.lower()
    assert json.loads(text)["title"] == "</script><script>alert(1)</script>"


def test_atom_feed_is_well_formed_and_lists_entries_newest_first() -> None:
    from xml.etree import ElementTree as ET

    entries = [make_entry(2, utc(24, 9)), make_entry(1, utc(24, 8) - timedelta(days=1))]
    xml = timeline.atom_feed(make_feed(), entries, "https://live.example")
    root = ET.fromstring(xml)
    ns = {"a": timeline.ATOM_NS}
    ids = [e.findtext("a:id", namespaces=ns) for e in root.findall("a:entry", ns)]
    assert len(ids) == 2 and ids[0] != ids[1]
    assert root.findtext("a:title", namespaces=ns) == "Conférence de Moscou"
