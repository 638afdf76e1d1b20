"""``app/render.py``: reporter Markdown becomes HTML that is safe inside any page."""

from __future__ import annotations

import pytest

from app.render import render_markdown


def test_markdown_renders_emphasis_links_and_lists() -> None:
    html = render_markdown("**live** and *now*\n\n- one\n- two\n\n[site](https://example.org/a)")
    assert "<strong>live</strong>" in html
    assert "<em>now</em>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert '<a href="https://example.org/a" rel="noopener noreferrer nofollow ugc">site</a>' in html


def test_bare_urls_are_linkified() -> None:
    html = render_markdown("see https://example.org/report")
    assert '<a href="https://example.org/report"' in html


@pytest.mark.parametrize(
    ("body", "forbidden"),
    [
        ("<script>alert(1)</script>", "<script"),
        ('<img src="x.png" onerror="alert(1)">', "onerror"),
        ("[click](javascript:alert(1))", 'href="javascript'),
        ('<a href="javascript:alert(1)">x</a>', 'href="javascript'),
        ('<p style="position:fixed">x</p>', "style="),
        ('<iframe src="https://evil.example"></iframe>', "<iframe"),
        ("<!-- hidden -->", "<!--"),
        ('<form action="https://evil.example"><input name="q"></form>', "<form"),
    ],
)
def test_dangerous_markup_never_survives(body: str, forbidden: str) -> None:
    assert forbidden not in render_markdown(body).lower()


def test_allowed_raw_html_is_kept() -> None:
    assert render_markdown("<mark>key</mark>") == "<p><mark>key</mark></p>"


@pytest.mark.parametrize("body", ["", "   ", "\x00", "<" * 1000, "*" * 5000, "[" * 200 + "x"])
def test_any_input_renders_without_raising(body: str) -> None:
    assert isinstance(render_markdown(body), str)
