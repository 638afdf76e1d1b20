"""Plain-text live blog import (README "Importing a plain-text live blog").

The shape: a day heading (``Jeudi 24 juin`` — weekday, day, month in the feed's locale),
then that day's entries, newest first, one paragraph per line, no clock times. Headings are
recognised with Babel's weekday and month names, so any locale works.

Imported entries keep their day and their order: each gets ``published_at`` = noon local
time of its day plus a few seconds (newest last-but-largest), and ``has_time = False`` so
pages never show an invented clock time. Each carries an ``import_key`` derived from its
day, text and occurrence, which makes re-importing the same file a no-op.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import get_day_names, get_month_names

from app.store import ImportedEntry


class ImportFormatError(ValueError):
    """The file does not have the expected shape; the message names the line."""


@dataclass(frozen=True)
class ParsedDay:
    weekday: int  # Monday = 0
    day: int
    month: int
    line: int
    entries: list[str]


def _fold(text: str) -> str:
    """Lower-case and strip accents and dots, so "Févr." and "fevr" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace(".", "")


def _names(locale: Locale) -> tuple[dict[str, int], dict[str, int]]:
    weekdays: dict[str, int] = {}
    months: dict[str, int] = {}
    for context in ("format", "stand-alone"):
        for width in ("wide", "abbreviated"):
            for index, name in get_day_names(width, context, locale).items():
                weekdays.setdefault(_fold(name), index)
            for index, name in get_month_names(width, context, locale).items():
                months.setdefault(_fold(name), index)
    return weekdays, months


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_TOKEN = re.compile(r"[^\W\d_]+\.?|\d+", re.UNICODE)


def parse_heading(
    line: str, weekdays: dict[str, int], months: dict[str, int]
) -> tuple[int, int, int] | None:
    """(weekday, day, month) if ``line`` is a day heading, else None.

    Accepts the words in any order with optional commas and ordinal suffixes
    ("Jeudi 24 juin", "Sunday 12 October", "Sunday, October 12th", "mardi 1er juin").
    """
    if len(line) > 60:
        return None
    tokens = _TOKEN.findall(line)
    if not 3 <= len(tokens) <= 5:
        return None
    weekday = day = month = None
    for token in tokens:
        folded = _fold(token)
        if folded.isdigit():
            if day is not None:
                return None
            day = int(folded)
        elif folded in weekdays and weekday is None:
            weekday = weekdays[folded]
        elif folded in months and month is None:
            month = months[folded]
        elif folded in {"er", "st", "nd", "rd", "th", "de", "of", "le"}:
            continue
        else:
            return None
    if weekday is None or day is None or month is None or not 1 <= day <= 31:
        return None
    return weekday, day, month


def parse(text: str, locale_tag: str) -> list[ParsedDay]:
    """Split the export into days (file order: newest day first)."""
    locale = Locale.parse(locale_tag, sep="-" if "-" in locale_tag else "_")
    weekdays, months = _names(locale)
    days: list[ParsedDay] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        heading = parse_heading(line, weekdays, months)
        if heading is not None:
            days.append(ParsedDay(*heading, line=number, entries=[]))
        elif not days:
            raise ImportFormatError(
                f"line {number}: text before the first day heading "
                f"(expected a heading like {_example(locale)!r})"
            )
        else:
            days[-1].entries.append(line)
    if not days:
        raise ImportFormatError(f"no day heading found (expected one like {_example(locale)!r})")
    return days


def _example(locale: Locale) -> str:
    from babel.dates import format_date

    label = format_date(date(2021, 6, 24), "EEEE d MMMM", locale=locale)
    return label[:1].upper() + label[1:]


def resolve_date(day: ParsedDay, year: int | None, today: date) -> date:
    """The day's date: in ``year`` if given (the weekday must match), else the most recent
    year, up to ``today``, in which that weekday falls on that date."""
    if year is not None:
        try:
            candidate = date(year, day.month, day.day)
        except ValueError:
            raise ImportFormatError(
                f"line {day.line}: {day.day}/{day.month} does not exist in {year}"
            ) from None
        if candidate.weekday() != day.weekday:
            named = _WEEKDAYS[day.weekday]
            raise ImportFormatError(
                f"line {day.line}: {candidate.isoformat()} is a {_WEEKDAYS[candidate.weekday()]}, "
                f"but the heading says {named}; check --year"
            )
        return candidate
    for candidate_year in range(today.year, today.year - 400, -1):
        try:
            candidate = date(candidate_year, day.month, day.day)
        except ValueError:
            continue
        if candidate <= today and candidate.weekday() == day.weekday:
            return candidate
    raise ImportFormatError(f"line {day.line}: no year has that weekday on that date")


def plan(
    text: str, *, locale: str, timezone: str, year: int | None, today: date | None = None
) -> list[ImportedEntry]:
    """Turn an export into entries, oldest first (the order to insert them in).

    Without ``year``, the newest day (the first heading) takes the most recent year up to
    ``today`` (default: the local date) in which its weekday falls on its date, and each
    older day the most recent such year up to the day after it: one export is one span of
    days, so a ``today`` inside that span cannot split it across years.
    """
    zone = ZoneInfo(timezone)
    bound = today or date.today()
    items: list[ImportedEntry] = []
    days = parse(text, locale)
    dates: list[date] = []
    for day in days:  # file order (newest first), so the first error is reported first
        dates.append(resolve_date(day, year, bound))
        bound = dates[-1]
    for day, when in reversed(list(zip(days, dates, strict=True))):
        noon = datetime.combine(when, time(12, 0), tzinfo=zone)
        seen: Counter[str] = Counter()
        oldest_first = list(reversed(day.entries))
        for position, body in enumerate(oldest_first):
            seen[body] += 1
            key = hashlib.sha256(f"{when.isoformat()}|{seen[body]}|{body}".encode()).hexdigest()[
                :40
            ]
            items.append(
                ImportedEntry(
                    body=body,
                    published_at=noon + timedelta(seconds=position),
                    import_key=key,
                )
            )
    return items
