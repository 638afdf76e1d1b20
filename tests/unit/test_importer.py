"""``app/importer.py``: plain-text exports become entries, with an injected ``today`` so the
year a heading resolves to never depends on the day the tests run."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.importer import ImportFormatError, parse, plan
from tests.support.paths import LIVEBLOG_FR

PARIS = ZoneInfo("Europe/Paris")
EXPORT = """Jeudi 24 juin
Troisième.
Deuxième.

Mercredi 23 juin
Premier.
"""


def test_the_fixture_export_parses_into_its_three_days() -> None:
    days = parse(LIVEBLOG_FR.read_text(encoding="utf-8"), "fr-FR")
    assert [(d.weekday, d.day, d.month, d.line) for d in days] == [
        (3, 24, 6, 1),
        (2, 23, 6, 11),
        (1, 22, 6, 23),
    ]
    assert [len(d.entries) for d in days] == [9, 11, 4]


@pytest.mark.parametrize(
    ("locale", "heading"),
    [
        ("fr-FR", "Jeudi 24 juin"),
        ("fr-FR", "jeudi 24 JUIN"),
        ("fr-FR", "Jeu. 24 juin"),
        ("fr-FR", "mardi 1er juin"),
        ("en-GB", "Thursday 24 June"),
        ("en-GB", "Thursday, June 24th"),
        ("de-DE", "Donnerstag, 24. Juni"),
    ],
)
def test_headings_are_recognised_in_the_feed_locale(locale: str, heading: str) -> None:
    days = parse(f"{heading}\nUne entrée.\n", locale)
    assert len(days) == 1
    assert days[0].entries == ["Une entrée."]


@pytest.mark.parametrize(
    "line",
    ["Jeudi 24 juin à 10 heures on annonce", "Le 24 juin", "Jeudi 32 juin", "24 juin 2021 jeudi x"],
)
def test_lines_that_are_not_headings_are_entries(line: str) -> None:
    days = parse(f"Jeudi 24 juin\n{line}\n", "fr-FR")
    assert days[0].entries == [line]


def test_text_before_the_first_heading_is_refused_naming_the_line() -> None:
    with pytest.raises(ImportFormatError, match=r"line 2: text before the first day heading"):
        parse("\nPas de titre.\nJeudi 24 juin\n", "fr-FR")
    with pytest.raises(ImportFormatError, match="no day heading found"):
        parse("", "fr-FR")


def test_without_a_year_the_latest_matching_year_up_to_today_is_chosen() -> None:
    # 24 June is a Thursday in 2021 and 2027; from 2026 the most recent one is 2021.
    entries = plan(
        EXPORT, locale="fr-FR", timezone="Europe/Paris", year=None, today=date(2026, 11, 29)
    )
    assert {e.published_at.date() for e in entries} == {date(2021, 6, 23), date(2021, 6, 24)}
    later = plan(
        EXPORT, locale="fr-FR", timezone="Europe/Paris", year=None, today=date(2027, 6, 24)
    )
    assert {e.published_at.year for e in later} == {2027}


def test_a_given_year_must_match_the_weekdays() -> None:
    with pytest.raises(ImportFormatError, match=r"line 1: 2022-06-24 is a Friday.*check --year"):
        plan(EXPORT, locale="fr-FR", timezone="Europe/Paris", year=2022, today=date(2026, 1, 1))
    with pytest.raises(ImportFormatError, match=r"29/2 does not exist in 2021"):
        plan("Lundi 29 février\nx\n", locale="fr-FR", timezone="UTC", year=2021)


def test_entries_come_oldest_first_at_noon_local_keeping_the_file_order() -> None:
    entries = plan(
        EXPORT, locale="fr-FR", timezone="Europe/Paris", year=2021, today=date(2026, 1, 1)
    )
    assert [e.body for e in entries] == ["Premier.", "Deuxième.", "Troisième."]
    noon_24 = datetime(2021, 6, 24, 12, tzinfo=PARIS)
    assert [e.published_at for e in entries] == [
        datetime(2021, 6, 23, 12, tzinfo=PARIS),
        noon_24,
        noon_24 + timedelta(seconds=1),
    ]


def test_import_keys_are_stable_and_tell_repeated_lines_apart() -> None:
    text = "Jeudi 24 juin\nBis.\nBis.\n"
    first = plan(text, locale="fr-FR", timezone="UTC", year=2021)
    again = plan(text, locale="fr-FR", timezone="UTC", year=2021)
    assert [e.import_key for e in first] == [e.import_key for e in again]
    assert len({e.import_key for e in first}) == 2
    other_day = plan("Vendredi 25 juin\nBis.\n", locale="fr-FR", timezone="UTC", year=2021)
    assert other_day[0].import_key not in {e.import_key for e in first}


# The newsroom export's span: 22-24 June are Tuesday to Thursday in 2010, 2021 and 2027.
SPAN = """Jeudi 24 juin
Le soir du jeudi.
Le matin du jeudi.
Mercredi 23 juin
Le mercredi.
Mardi 22 juin
Le mardi.
"""


@pytest.mark.parametrize(
    ("today", "year"),
    [
        (date(2027, 6, 21), 2021),  # the day before the span recurs
        (date(2027, 6, 22), 2021),  # inside it: Tuesday has come, Thursday has not
        (date(2027, 6, 23), 2021),  # inside it: still one year for the whole export
        (date(2027, 6, 24), 2027),  # its last day: the span is complete in 2027
        (date(2030, 1, 1), 2027),
        (date(2021, 6, 23), 2010),  # inside the 2021 span: back to the previous match
    ],
)
def test_a_today_inside_the_exports_span_keeps_it_in_one_year(today: date, year: int) -> None:
    entries = plan(SPAN, locale="fr-FR", timezone="Europe/Paris", year=None, today=today)
    assert [e.published_at.date() for e in entries] == [
        date(year, 6, 22),
        date(year, 6, 23),
        date(year, 6, 24),
        date(year, 6, 24),
    ]


def test_a_span_across_new_year_stays_in_order() -> None:
    export = "Samedi 1 janvier\nBonne année.\nVendredi 31 décembre\nLe réveillon.\n"
    entries = plan(
        export, locale="fr-FR", timezone="Europe/Paris", year=None, today=date(2026, 6, 1)
    )
    assert [e.published_at.date() for e in entries] == [date(2021, 12, 31), date(2022, 1, 1)]
