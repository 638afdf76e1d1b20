"""Page benchmark: the reader page of a feed with 500 entries vs nginx serving its bytes.

Starts ``livefeed serve`` (one process, SQLite), creates a feed and posts N entries through
the API, fetches ``GET /feeds/{slug}`` once and saves the bytes as a static file that a
Debian nginx (1 worker, ``sendfile on``, default ETag) serves at the same path. Both are
then measured with the same ``wrk`` command (same threads, connections, duration):
unconditional GETs, and conditional GETs (``If-None-Match`` with each server's own ETag, as
a browser's reload sends) when the page carries an ETag. Reports requests/s and the ratio
livefeed / nginx.

``python -m bench.page [--entries 500] [--seconds 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.peers.livefeed import Livefeed, create_feed, post_ok
from bench.peers.nchan import start_nginx
from bench.util import free_port, raise_nofile, tempdir, wait_port

SLUG = "page-bench"
THREADS = 2
CONNECTIONS = 64

_ENTRY = (
    "**{n}'** — Corner from the right, headed clear at the near post; the rebound falls to "
    "the number 8, whose volley goes [just wide](https://example.org/match/{n}). "
    "Pressure building."
)


async def wrk(url: str, seconds: float, headers: dict[str, str] | None = None) -> dict[str, Any]:
    exe = shutil.which("wrk")
    if exe is None:
        raise RuntimeError("wrk not found (apt-get install wrk, or make services)")
    argv = [exe, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency"]
    for k, v in (headers or {}).items():
        argv += ["-H", f"{k}: {v}"]
    p = await asyncio.create_subprocess_exec(
        *argv, url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out = (await p.communicate())[0].decode(errors="replace")
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if p.returncode != 0 or m is None:
        raise RuntimeError(f"wrk failed ({p.returncode}):\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    errs = re.search(r"Socket errors:.*", out)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    return {
        "rps": float(m.group(1)),
        "non_2xx_3xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errs.group(0) if errs else "",
        "p99": p99.group(1) if p99 else None,
    }


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


async def run_page(
    tmp: Path, entries: int = 500, duration: float = 10, log: Callable[[str], None] = print
) -> dict[str, Any]:
    lf = Livefeed(_mkdir(tmp / "livefeed"))
    nginx = None
    out: dict[str, Any] = {"entries": entries, "seconds": duration, "notes": []}
    try:
        await lf.start()
        api = lf.clients[0]
        await create_feed(api, SLUG, "Page benchmark")
        sem = asyncio.Semaphore(4)

        async def post(n: int) -> None:
            async with sem:
                body = _ENTRY.format(n=n % 90 + 1)
                await post_ok(api, f"/api/feeds/{SLUG}/entries", json={"body": body})

        await asyncio.gather(*(post(n) for n in range(entries)))
        path = f"/feeds/{SLUG}"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{lf.ports[0]}") as c:
            page = await c.get(path)
        ctype = page.headers.get("content-type", "")
        out["livefeed_status"] = page.status_code
        out["content_type"] = ctype
        if page.status_code != 200 or "html" not in ctype:
            out["notes"].append(
                f"`GET {path}` answered {page.status_code} {ctype!r}, not an HTML page; "
                "measured as it is"
            )
        shown = page.text.count("Pressure building")
        out["entries_on_page"] = shown
        if shown != entries:
            out["notes"].append(f"the page renders {shown} of the feed's {entries} entries")
        static_root = tmp / "static"
        (static_root / "feeds").mkdir(parents=True)
        (static_root / "feeds" / SLUG).write_bytes(page.content)
        port = free_port()
        block = f"""  sendfile on;
  tcp_nopush on;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location /feeds/ {{ root {static_root}; default_type text/html; }}
  }}"""
        nginx = start_nginx(tmp / "nginx", block, load_nchan=False)
        await wait_port(port, nginx.popen)
        async with httpx.AsyncClient() as c:
            ref = await c.get(f"http://127.0.0.1:{port}{path}")
        assert ref.content == page.content

        lf_url = f"http://127.0.0.1:{lf.ports[0]}{path}"
        ng_url = f"http://127.0.0.1:{port}{path}"
        rows = []
        log(f"  page: {len(page.content)} bytes, wrk -t{THREADS} -c{CONNECTIONS} {duration:.0f}s")
        ng = await wrk(ng_url, duration)
        lfr = await wrk(lf_url, duration)
        rows.append({"name": "nginx static file", "bytes": len(page.content), **ng})
        rows.append(
            {
                "name": "livefeed",
                "bytes": len(page.content),
                "ratio": lfr["rps"] / ng["rps"],
                **lfr,
            }
        )
        lf_etag = page.headers.get("etag")
        if lf_etag:
            ng304 = await wrk(ng_url, duration, {"If-None-Match": ref.headers["etag"]})
            lf304 = await wrk(lf_url, duration, {"If-None-Match": lf_etag})
            rows.append({"name": "nginx, If-None-Match (304)", "bytes": 0, **ng304})
            rows.append(
                {
                    "name": "livefeed, If-None-Match (304)",
                    "bytes": 0,
                    "ratio": lf304["rps"] / ng304["rps"],
                    **lf304,
                }
            )
        else:
            out["notes"].append("the livefeed page carries no ETag: no conditional-request row")
        for r in rows:
            if r["non_2xx_3xx"] or r["socket_errors"]:
                out["notes"].append(
                    f"{r['name']}: {r['non_2xx_3xx']} non-2xx/3xx responses {r['socket_errors']}"
                )
            log(f"  {r['name']}: {r['rps']:.0f} req/s")
        out["rows"] = rows
        out["ok"] = True
    except Exception as e:
        out["ok"] = False
        out["error"] = f"{type(e).__name__}: {e}"
        log(f"  page benchmark FAILED: {out['error']}\n{lf.logs()[-1500:]}")
    finally:
        if nginx is not None:
            nginx.stop()
        await lf.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.page")
    ap.add_argument("--entries", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=10)
    a = ap.parse_args()
    raise_nofile()

    async def go() -> dict[str, Any]:
        with tempdir("livefeed-page-") as tmp:
            return await run_page(tmp, a.entries, a.seconds)

    from bench.run import page_table

    print(page_table(asyncio.run(go())))


if __name__ == "__main__":
    main()
