"""The wire format's one owner (app/events.py): what it builds, it reads back."""

from __future__ import annotations

import pytest

from app.events import (
    Change,
    MalformedMessage,
    broker_message,
    changes_page,
    event_kind,
    feed_event,
    feed_record_json,
    hello_event,
    parse_broker_message,
    reset_event,
)
from app.schemas import Feed
from tests.unit.hub_fakes import entry_payload, make_feed


def test_the_kind_of_every_event_built_here_reads_back() -> None:
    feed = make_feed("f", rev=3, title='A "quoted" title')
    assert event_kind(feed_event(feed)) == "feed"
    assert event_kind(hello_event("f", 3)) == "hello"
    assert event_kind(reset_event(3)) == "reset"
    assert event_kind(entry_payload(3)) == "entry"
    with pytest.raises(MalformedMessage):
        event_kind(b'{"rev":3}')


def test_the_feed_record_inside_a_feed_event_reads_back_whole() -> None:
    feed = make_feed("f", rev=7, title='Title with "feed":{ inside')
    record = feed_record_json(feed_event(feed))
    assert Feed.model_validate_json(record) == feed
    with pytest.raises(MalformedMessage):
        feed_record_json(reset_event(1))


def test_broker_messages_round_trip_and_the_old_layout_still_reads() -> None:
    change = Change("f", 12, entry_payload(12), published_ns=1_700_000_000_000_000_000)
    data = broker_message(change)
    assert data.startswith(b"12 1700000000000000000 {")
    back = parse_broker_message("f", data)
    assert (back.feed, back.rev, back.payload, back.published_ns) == (
        "f",
        12,
        change.payload,
        change.published_ns,
    )
    old = parse_broker_message("f", b"12 " + entry_payload(12))
    assert (old.rev, old.payload, old.published_ns) == (12, entry_payload(12), 0)
    unstamped = parse_broker_message("f", broker_message(Change("f", 1, entry_payload(1))))
    assert unstamped.published_ns > 0


@pytest.mark.parametrize("data", [b"", b"x {}", b"12", b"12 34", b"12 3x4 {}"])
def test_malformed_broker_messages_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_broker_message("f", data)


def test_the_changes_page_carries_events_verbatim() -> None:
    body = changes_page(5, [entry_payload(4), entry_payload(5)])
    assert body == b'{"rev":5,"events":[%s,%s]}' % (entry_payload(4), entry_payload(5))
    assert changes_page(2, []) == b'{"rev":2,"events":[]}'
