"""Reporter Markdown → sanitized HTML that is safe to insert into any page.

markdown-it-py renders (raw HTML allowed in input, URLs linkified); nh3 (ammonia) then keeps
only a small allow-list of tags and attributes, so scripts, event handlers, ``javascript:``
URLs and styles never reach a reader — including readers of third-party embeds.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

from app.media.html import media_html
from app.schemas import MediaItem

ALLOWED_TAGS = {
    "p", "br", "strong", "b", "em", "i", "s", "del", "u", "a", "ul", "ol", "li",
    "blockquote", "code", "pre", "h2", "h3", "h4", "hr", "img", "figure", "figcaption",
    "table", "thead", "tbody", "tr", "th", "td", "sup", "sub", "mark", "q", "cite",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True, "linkify": True, "typographer": False}).enable(
        ["linkify", "strikethrough", "table"]
    )


def render_markdown(body: str) -> str:
    """Render ``body`` (Markdown) to sanitized HTML. Pure; never raises on any input."""
    raw = _markdown().render(body)
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow ugc",
        strip_comments=True,
    ).strip()


def entry_html(body_html: str, media: list[MediaItem]) -> str:
    """An entry's ``html``: its sanitized Markdown (``body_html``, from
    :func:`render_markdown_off_loop`), then its media (app/media/html.py)."""
    return body_html + media_html(media)


# Rendering is pure CPU, about 1 µs per character of dense Markdown: a long body runs on two
# threads of its own, so the event loop keeps answering and at most two renders compete with it.
_render_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="markdown")
#: Bodies up to this many characters render on the loop (≤ ~1 ms): handing one to a thread
#: costs more CPU than rendering it (a future, two thread wake-ups: ~50 µs), and under load
#: a loop turn of waiting. A live-blog entry is usually a few sentences.
INLINE_RENDER_CHARS = 1000


async def render_markdown_off_loop(body: str) -> str:
    """:func:`render_markdown`, on the render threads for a body longer than
    :data:`INLINE_RENDER_CHARS` (awaited without blocking the loop), else at once."""
    if len(body) <= INLINE_RENDER_CHARS:
        return render_markdown(body)
    return await asyncio.get_running_loop().run_in_executor(_render_pool, render_markdown, body)
