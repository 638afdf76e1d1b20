"""Media → HTML for entries: responsive ``<figure>`` images and click-to-load link cards.

The markup is built here from escaped values only (no reporter HTML passes through), and is
appended to the entry's sanitized Markdown, so every surface that shows ``entry.html`` —
reader page, live inserts, embed, studio preview, Atom — shows the media with no other code.

- Images: ``<picture>`` with a WebP ``srcset`` and a JPEG/PNG/GIF ``<img srcset>`` fallback,
  ``width``/``height`` so the browser reserves the box before the bytes arrive (nothing
  below moves), ``loading="lazy"`` (pages make the first entry's images eager: see
  :func:`eager`), caption and credit in ``<figcaption>``.
- Playable cards: a same-origin, sandboxed ``<iframe src="/cards/ID/KEY">`` showing our own
  copy of the title and thumbnail; only a click inside it loads the provider's player, so
  no third-party request, cookie or script happens before the reader asks.
- Other cards: a plain link.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from app.schemas import MediaItem, MediaVariant

#: The reader column is at most ~680 CSS px wide; narrower screens use the full width.
SIZES = "(min-width: 760px) 680px, 100vw"
LINK_REL = "noopener noreferrer nofollow ugc"
#: The card frame may run the provider's player (after the click) but never touches our
#: origin: no allow-same-origin, so it gets an opaque origin of its own.
CARD_SANDBOX = "allow-scripts allow-popups allow-popups-to-escape-sandbox allow-presentation"
CARD_ALLOW = "autoplay; encrypted-media; fullscreen; picture-in-picture"


def _srcset(variants: list[MediaVariant], content_type: str) -> str:
    return ", ".join(f"{v.url} {v.width}w" for v in variants if v.content_type == content_type)


def picture(variants: list[MediaVariant], fallback_type: str, alt: str, *, cls: str = "") -> str:
    """A ``<picture>`` (WebP + fallback) for ``variants``; the ``<img>`` carries the size of
    the largest fallback so the layout box is reserved."""
    fallback = [v for v in variants if v.content_type == fallback_type]
    main = fallback[-1]
    webp = _srcset(variants, "image/webp")
    source = f'<source type="image/webp" srcset="{escape(webp)}" sizes="{SIZES}">' if webp else ""
    cls_attr = f' class="{cls}"' if cls else ""
    return (
        f"<picture>{source}"
        f'<img{cls_attr} src="{escape(main.url)}" '
        f'srcset="{escape(_srcset(variants, fallback_type))}" sizes="{SIZES}" '
        f'width="{main.width}" height="{main.height}" alt="{escape(alt)}" '
        'loading="lazy" decoding="async"></picture>'
    )


def _figcaption(caption: str | None, credit: str | None) -> str:
    parts = []
    if caption:
        parts.append(f'<span class="lf-caption">{escape(caption)}</span>')
    if credit:
        parts.append(f'<small class="lf-credit">{escape(credit)}</small>')
    return f"<figcaption>{' '.join(parts)}</figcaption>" if parts else ""


def image_html(item: MediaItem) -> str:
    assert item.content_type is not None
    return (
        '<figure class="lf-media lf-image">'
        + picture(item.variants, item.content_type, item.alt or "")
        + _figcaption(item.caption, item.credit)
        + "</figure>"
    )


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def card_html(item: MediaItem) -> str:
    assert item.card is not None
    card = item.card
    title = card.title or card.url
    provider = card.provider_name or _host(card.url)
    link = f'<a href="{escape(card.url)}" rel="{LINK_REL}">{escape(title)}</a>'
    byline = " · ".join(escape(x) for x in (card.author_name, provider) if x)
    if card.playable and card.frame_url:
        shape = "lf-card-video" if item.width and item.height else "lf-card-rich"
        return (
            f'<figure class="lf-media lf-card {shape}">'
            f'<iframe class="lf-card-frame" src="{escape(card.frame_url)}" '
            f'title="{escape(title)} ({escape(provider)})" sandbox="{CARD_SANDBOX}" '
            f'allow="{CARD_ALLOW}" loading="lazy"></iframe>'
            f'<figcaption>{link} <small class="lf-card-byline">{byline}</small></figcaption>'
            "</figure>"
        )
    thumb = ""
    if item.thumbnail:
        thumb = picture(item.thumbnail, item.thumbnail[-1].content_type, "", cls="lf-card-thumb")
    return (
        f'<p class="lf-media lf-card lf-card-link"><a href="{escape(card.url)}" rel="{LINK_REL}">'
        f'{thumb}<span class="lf-card-title">{escape(title)}</span> '
        f'<small class="lf-card-byline">{byline}</small></a></p>'
    )


def media_html(items: list[MediaItem]) -> str:
    """The HTML of an entry's media, in order ("" for none)."""
    return "".join(card_html(i) if i.kind == "card" else image_html(i) for i in items)


#: Where an entry's media begins in its ``html``. Reporter Markdown cannot produce it: the
#: sanitizer drops every ``class`` attribute.
MEDIA_START = re.compile(r'<(?:figure|p) class="lf-media')


def without_media(html: str) -> str:
    """An entry's ``html`` without its media: the text a headline is taken from."""
    found = MEDIA_START.search(html)
    return html[: found.start()] if found else html


def eager(html: str) -> Markup:
    """``html`` with its images loading at once: for entries at the top of a page."""
    return Markup(html.replace('loading="lazy" decoding="async"', 'decoding="async"'))
