"""`livefeed media prune`: unattached uploads go; media in use stays, and so does the media
of deleted entries (an editor may restore them) — on both databases and both storage
backends (run as the real CLI process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import ADMIN
from tests.media_support import SLUG, MediaBackend, media_env, png_with_alpha, upload

LIVEFEED = str(Path(sys.executable).with_name("livefeed"))


def prune(database_url: str, backend: MediaBackend, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEFEED_")}
    env.update(media_env(backend), LIVEFEED_DATABASE_URL=database_url)
    done = subprocess.run(
        [LIVEFEED, "media", "prune", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def test_prune_keeps_media_in_use_only(
    http: httpx.AsyncClient, media_backend: MediaBackend, database_url: str
) -> None:
    async def image(alt: str) -> dict[str, object]:
        response = await upload(
            http, png_with_alpha(), filename="a.png", content_type="image/png", alt=alt
        )
        assert response.status_code == 201, response.text
        item: dict[str, object] = response.json()
        return item

    kept, deleted_with, unattached = (
        await image("kept"),
        await image("deleted"),
        await image("new"),
    )
    for item in (kept, deleted_with):
        created = await http.post(
            f"/api/feeds/{SLUG}/entries",
            json={"body": str(item["alt"]), "media": [item["id"]]},
            headers=ADMIN,
        )
        assert created.status_code == 201
        item["entry"] = created.json()["id"]
    deleted = await http.delete(f"/api/feeds/{SLUG}/entries/{deleted_with['entry']}", headers=ADMIN)
    assert deleted.status_code == 204
    every_key = set(media_backend.list_keys())
    assert len(every_key) == 3 * 2  # 3 uploads × (WebP + PNG) of one width (300)

    # Within the grace period nothing unattached goes (an upload about to be attached).
    assert "removed 0 unused media and 0 files" in prune(database_url, media_backend)
    assert set(media_backend.list_keys()) == every_key

    out = prune(database_url, media_backend, "--older-than-hours", "0")
    assert "removed 1 unused media and 2 files" in out
    left = media_backend.list_keys()
    assert len(left) == 4
    assert all(k.split("/")[-2] in str(kept["url"]) + str(deleted_with["url"]) for k in left)
    assert (await http.get(f"/api/feeds/{SLUG}/entries")).json()["entries"][0]["media"][0][
        "id"
    ] == kept["id"]
    # The pruned ids are gone for good: attaching one is refused.
    again = await http.post(
        f"/api/feeds/{SLUG}/entries",
        json={"body": "x", "media": [{"id": unattached["id"], "alt": "a"}]},
        headers=ADMIN,
    )
    assert again.status_code == 422
    # The deleted entry comes back with its photo.
    restored = await http.post(
        f"/api/feeds/{SLUG}/entries/{deleted_with['entry']}/restore", headers=ADMIN
    )
    assert restored.status_code == 200, restored.text
    assert [m["id"] for m in restored.json()["media"]] == [deleted_with["id"]]
