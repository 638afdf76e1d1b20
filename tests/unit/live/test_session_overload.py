"""A catch-up over the store's read budget closes the stream with 1013 (retry later,
with the table's retry hint), never 1011, and tears down like any other close."""

from __future__ import annotations

from app.catchup import CatchupOverloaded
from app.live.close_codes import BY_CODE, TRY_AGAIN_LATER
from app.live.session import StreamState
from tests.unit.live.test_session import (
    CountingAdmission,
    GatedHub,
    GatedStore,
    RecordingSink,
    make_session,
)


async def test_overloaded_catch_up_closes_1013_with_a_retry_hint() -> None:
    store = GatedStore()
    hub = GatedHub(store)

    async def overloaded(feed: str, since: int | None, current: int) -> None:
        raise CatchupOverloaded("no catch-up read slot")

    store.commit()
    admission = CountingAdmission()
    sink = RecordingSink()
    session = make_session(hub, store, sink, admission=admission, provider=overloaded)
    await session.open(since=0)
    assert session.close_code == TRY_AGAIN_LATER.code == 1013
    assert BY_CODE[1013].policy == "retry_after" and BY_CODE[1013].retry_after
    assert BY_CODE[1013].http_status == 503  # what SSE answers instead
    assert session.refused and sink.sent == []
    session.transport_closed()
    assert session.state is StreamState.CLOSED
    assert (admission.admits, admission.releases, hub.detaches) == (1, 1, 1)
