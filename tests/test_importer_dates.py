"""Which year a year-less export lands in, for fixed values of "today" (an injected clock:
these must give the same answer on any date the suite runs)."""

from __future__ import annotations

from datetime import date

import pytest

from app.importer import ImportFormatError, plan

# The shape of the newsroom export: newest day first; 22-24 June are Tuesday to Thursday in
# 2010, 2021 and 2027.
EXPORT = """Jeudi 24 juin
Le soir du jeudi.
Le matin du jeudi.
Mercredi 23 juin
Le mercredi.
Mardi 22 juin
Le mardi.
"""


def days_of(today: date, year: int | None = None) -> list[date]:
    """The day of each planned entry, newest first (the file's order)."""
    items = plan(EXPORT, locale="fr-FR", timezone="Europe/Paris", year=year, today=today)
    return [item.published_at.date() for item in reversed(items)]


def in_year(year: int) -> list[date]:
    return [date(year, 6, 24), date(year, 6, 24), date(year, 6, 23), date(year, 6, 22)]


@pytest.mark.parametrize(
    ("today", "year"),
    [
        (date(2026, 11, 29), 2021),  # long after the span: the last matching year
        (date(2027, 6, 21), 2021),  # the day before the span recurs
        (date(2027, 6, 22), 2021),  # inside it: Tuesday has come, Thursday has not
        (date(2027, 6, 23), 2021),  # inside it: still one year for the whole export
        (date(2027, 6, 24), 2027),  # its last day: the span is complete in 2027
        (date(2030, 1, 1), 2027),
        (date(2021, 6, 23), 2010),  # inside the 2021 span: back to the previous match
    ],
)
def test_year_less_export_takes_the_last_complete_span_up_to_today(today: date, year: int) -> None:
    assert days_of(today) == in_year(year)


def test_entries_keep_their_order_within_a_day() -> None:
    items = plan(EXPORT, locale="fr-FR", timezone="Europe/Paris", year=None, today=date(2026, 1, 1))
    assert [item.body for item in items] == [
        "Le mardi.",
        "Le mercredi.",
        "Le matin du jeudi.",
        "Le soir du jeudi.",
    ]
    times = [item.published_at for item in items]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(item.published_at.hour == 12 for item in items)


def test_an_explicit_year_ignores_today() -> None:
    assert days_of(date(2000, 1, 1), year=2027) == in_year(2027)
    with pytest.raises(ImportFormatError, match=r"line 1: 2026-06-24 is a Wednesday"):
        days_of(date(2030, 1, 1), year=2026)


def test_a_span_across_new_year_stays_in_order() -> None:
    export = "Samedi 1 janvier\nBonne année.\nVendredi 31 décembre\nLe réveillon.\n"
    items = plan(export, locale="fr-FR", timezone="Europe/Paris", year=None, today=date(2026, 6, 1))
    assert [item.published_at.date() for item in items] == [date(2021, 12, 31), date(2022, 1, 1)]
