"""Media benchmark: what an upload costs, and what media adds to an event.

1. Processing a 12-megapixel camera-like JPEG (4000×3000, made here with Pillow):
   ``app.media.processing.process_image`` — the code an upload runs in a worker thread —
   timed in this process, and ``POST /api/feeds/{slug}/media`` of the same file to a real
   ``livefeed serve`` (wall time: upload, processing, storing, recording).
2. The size of the event an entry with two photos produces, next to the same entry without
   them: the frame carries URLs and markup, not image bytes. (The fan-out cost per delivery
   of such entries is the ``livefeed-1-media`` row of the fan-out table.)

``python -m bench.media [--runs 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.config import Settings
from app.media.processing import process_image
from bench.peers.livefeed import SLUG, Livefeed, create_feed, post_ok
from bench.util import tempdir

MEGAPIXELS_12 = (4000, 3000)


async def run_media(tmp: Path, runs: int = 3, log: Callable[[str], None] = print) -> dict[str, Any]:
    from tests.media_support import photo

    out: dict[str, Any] = {"runs": runs}
    try:
        original = photo(*MEGAPIXELS_12, seed=12)
        out["input_bytes"] = len(original)
        max_pixels = Settings().max_image_pixels
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            processed = process_image(original, max_pixels=max_pixels)
            times.append(time.perf_counter() - t0)
        out["process_s"] = sorted(times)
        out["renditions"] = len(processed.renditions)
        out["output_bytes"] = sum(len(r.data) for r in processed.renditions)
        log(f"  process_image 12 MP: median {statistics.median(times):.2f}s")

        peer = Livefeed(tmp / "media")
        peer.tmp.mkdir(parents=True, exist_ok=True)
        try:
            await peer.start()
            await create_feed(peer.http, SLUG, "Media")
            uploads, ids = [], []
            for n in range(runs):
                t0 = time.perf_counter()
                r = await peer.http.post(
                    f"/api/feeds/{SLUG}/media",
                    files={"file": (f"{n}.jpg", original, "image/jpeg")},
                    data={"alt": "Bench photo", "caption": "At the scene", "credit": "Bench"},
                )
                uploads.append(time.perf_counter() - t0)
                if r.status_code != 201:
                    raise RuntimeError(f"upload → {r.status_code}: {r.text[:300]}")
                ids.append(r.json()["id"])
            out["upload_s"] = sorted(uploads)
            log(f"  POST …/media 12 MP: median {statistics.median(uploads):.2f}s")
            body = "Goal! A low cross from the left, a touch at the near post and it is 2-1."
            await post_ok(peer.http, f"/api/feeds/{SLUG}/entries", json={"body": body})
            await post_ok(
                peer.http, f"/api/feeds/{SLUG}/entries", json={"body": body, "media": ids[:2]}
            )
            changes = await peer.http.get(f"/api/feeds/{SLUG}/changes", params={"since": 0})
            events = [e for e in changes.json()["events"] if e["type"] == "entry"]
            text_event, media_event = await _event_sizes(peer, [e["rev"] for e in events[-2:]])
            out["event_bytes_text"] = text_event
            out["event_bytes_two_photos"] = media_event
        finally:
            await peer.stop()
        out["ok"] = True
    except Exception as exc:
        out["ok"] = False
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


async def _event_sizes(peer: Livefeed, revs: list[int]) -> list[int]:
    """Byte length of each event (the exact bytes every reader is sent)."""
    sizes = []
    for rev in revs:
        r = await peer.http.get(f"/api/feeds/{SLUG}/changes", params={"since": rev - 1, "limit": 1})
        raw = r.content
        start = raw.index(b'"events":[') + len(b'"events":[')
        sizes.append(len(raw) - start - 2)  # minus the closing "]}"
    return sizes


def media_table(media: dict[str, Any]) -> str:
    if not media:
        return ""
    if not media.get("ok"):
        return f"Media benchmark failed: {media.get('error')}"
    p, u = media["process_s"], media["upload_s"]
    return "\n".join(
        [
            f"| media ({media['runs']} runs, 12 MP JPEG of {media['input_bytes'] / 1e6:.1f} MB) "
            "| median | min | max |",
            "|---|---|---|---|",
            f"| `process_image` ({media['renditions']} renditions, "
            f"{media['output_bytes'] / 1e6:.2f} MB out) | {statistics.median(p):.2f} s "
            f"| {p[0]:.2f} s | {p[-1]:.2f} s |",
            f"| `POST /api/feeds/{{slug}}/media` (end to end) | {statistics.median(u):.2f} s "
            f"| {u[0]:.2f} s | {u[-1]:.2f} s |",
            "",
            f"Event bytes per delivery: text entry {media['event_bytes_text']} B, the same "
            f"entry with two photos {media['event_bytes_two_photos']} B (URLs and markup; "
            "the images themselves are fetched once per reader from /media or the bucket, "
            "cacheable forever).",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.media", description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    with tempdir("livefeed-media-bench-") as tmp:
        result = asyncio.run(run_media(tmp, args.runs))
    print(media_table(result))
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    raise SystemExit(main())
