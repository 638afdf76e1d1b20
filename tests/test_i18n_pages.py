"""The reader UI in every catalog's language (gettext, Babel): complete catalogs, pages with
no English UI string left, plural forms from the catalogs, and an Arabic page laid out right
to left in Chromium."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.pofile import read_po
from playwright.async_api import Page, expect

from app import i18n, studio_strings
from app.live import close_codes
from tests.conftest import ADMIN
from tests.reader_support import ReaderSite
from tests.support.services import wait_until_async

#: msgstr identical to the msgid by the translator's choice (a loanword), per language.
SAME_AS_ENGLISH = {
    "de": {"Live", "Offline", "Link: {title}", "Studio", "Studio — livefeed"},
    "fr": {"Description", "Studio", "Studio — livefeed"},
    "it": {"Offline", "Link: {title}", "Studio", "Studio — livefeed", "Password"},
    "pt": {"Link: {title}"},
}
POT = i18n.LOCALE_DIR / "messages.pot"
TAGS = {
    "en": "en-GB",
    "fr": "fr-FR",
    "de": "de-DE",
    "es": "es-ES",
    "it": "it-IT",
    "pt": "pt-BR",
    "ru": "ru-RU",
    "uk": "uk-UA",
    "ar": "ar-EG",
    "ja": "ja-JP",
}


def catalog(path: Path, language: str | None = None) -> Any:
    with path.open("rb") as source:
        return read_po(source, locale=language)


def english_phrases(strings: dict[str, Any] | None = None) -> list[str]:
    """Every English UI string (of the reader pages, or of ``strings``) as it could appear on
    a page: plural forms with no count, ``{name}`` fields left out."""
    phrases = []
    for value in (strings or i18n.ui_strings("en")).values():
        forms = value.values() if isinstance(value, dict) else [value]
        for form in forms:
            parts = (p.strip() for p in re.split(r"\{\w+\}", form))
            phrases.extend(p for p in parts if re.search(r"[^\W\d_]", p))  # words, not "("
    return sorted(set(phrases), key=len, reverse=True)


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_catalog_translates_every_msgid(language: str) -> None:
    template = catalog(POT)
    wanted = {m.id for m in template if m.id}
    assert len(wanted) >= 25, "the template lists the UI strings (make messages)"
    po = catalog(i18n.LOCALE_DIR / language / "LC_MESSAGES" / "messages.po", language)
    have = {m.id: m for m in po if m.id}
    assert set(have) == wanted, "catalog out of date: run `make messages`"
    for msgid, message in have.items():
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert len(forms) == (po.num_plurals if isinstance(msgid, tuple) else 1)
        assert all(f.strip() for f in forms), f"{language}: {msgid!r} untranslated"
        assert not message.fuzzy, f"{language}: {msgid!r} is fuzzy"
        if language != "en" and not isinstance(msgid, tuple):
            same = message.string == msgid
            assert not same or msgid in SAME_AS_ENGLISH.get(language, ()), (
                f"{language}: {msgid!r} left in English"
            )


def test_plural_forms_come_from_the_catalog_for_every_category() -> None:
    ru = i18n.ui_strings("ru-RU")["new_updates"]
    assert set(ru) == {"one", "few", "many", "other"}
    assert (ru["one"], ru["few"], ru["many"]) == (
        "{n} новое обновление",
        "{n} новых обновления",
        "{n} новых обновлений",
    )
    ar = i18n.ui_strings("ar")["new_updates"]
    assert set(ar) == {"zero", "one", "two", "few", "many", "other"}
    assert ar["two"] == "تحديثان جديدان" and ar["many"] == "{n} تحديثًا جديدًا"
    assert set(i18n.ui_strings("ja")["new_updates"]) == {"other"}
    assert i18n.ui_strings("xx-YY") == i18n.ui_strings("en")
    assert i18n.text_direction("ar-EG") == "rtl" and i18n.text_direction("fr") == "ltr"


async def make_feed(client: httpx.AsyncClient, slug: str, tag: str) -> int:
    r = await client.post(
        "/api/feeds",
        json={"slug": slug, "title": "Δ 2025", "locale": tag, "timezone": "UTC"},
        headers=ADMIN,
    )
    assert r.status_code == 201, r.text
    ids = []
    for body, extra in (("α β γ", {"key_event": True}), ("δ ε", {"pinned": True}), ("ζ", {})):
        r = await client.post(
            f"/api/feeds/{slug}/entries", json={"body": body, **extra}, headers=ADMIN
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return int(ids[-1])


async def test_every_language_renders_without_an_english_ui_string(
    client: httpx.AsyncClient,
) -> None:
    english = english_phrases()
    english_close = {
        code: policy["message"]
        for code, policy in close_codes.client_table().items()
        if policy["message"]
    }
    for language, tag in TAGS.items():
        slug = f"lang-{language}"
        entry = await make_feed(client, slug, tag)
        await client.post(
            f"/api/feeds/{slug}/entries", json={"body": "η θ"}, headers=ADMIN
        )  # a second page of one, so the pager shows
        words = i18n.ui_strings(tag)
        pages = {
            "reader": f"/feeds/{slug}?limit=2",
            "older page": f"/feeds/{slug}?before={entry}&limit=1",
            "embed": f"/embed/{slug}?limit=2",
            "update": f"/feeds/{slug}/entries/{entry}",
        }
        for name, path in pages.items():
            r = await client.get(path)
            assert r.status_code == 200, (language, name)
            html = r.text
            direction = "rtl" if language == "ar" else "ltr"
            assert f'dir="{direction}"' in html.split(">", 2)[1], (language, name)
            config = re.search(r'class="lf-config">(.*?)</script>', html)
            if config:
                assert json.loads(config.group(1))["strings"] == words, (language, name)
            close_table = re.search(r'id="livefeed-config">(.*?)</script>', html)
            assert close_table, (language, name)
            stop_messages = [
                code["message"]
                for code in json.loads(close_table.group(1))["close_codes"].values()
                if code["message"]
            ]
            assert stop_messages == list(english_close.values()) or (
                language != "en"
                and len(stop_messages) == len(english_close)
                and not set(stop_messages) & set(english_close.values())
            ), (language, name, stop_messages)
            if language == "en":
                continue
            allowed = SAME_AS_ENGLISH.get(language, set())
            # The text a reader sees, and the attributes read aloud (title, aria-label).
            visible = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
            for phrase in english:
                if phrase in allowed:
                    continue
                found = re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", visible)
                assert not found, f"{language} {name}: English {phrase!r} on the page"
            assert words["permalink"] in html or name == "update"
        missing = await client.get(f"/feeds/{slug}/entries/999999")
        assert missing.status_code == 404
        expected = words["no_such_update"].format(id=999999, feed="Δ 2025")
        assert expected in missing.text and (language == "en" or "No update" not in missing.text)
        gone_id = entry
        await client.delete(f"/api/feeds/{slug}/entries/{gone_id}", headers=ADMIN)
        path = f"/feeds/{slug}/entries/{gone_id}"

        # Pages follow the feed's watched rev, which may trail the write a moment
        # (app/watched.py): wait for it, never for long.
        async def deleted(path: str = path) -> httpx.Response | None:
            return await not_ok_page(client, path)

        gone = await wait_until_async(deleted, 10, message=f"{path} still 200")
        assert gone is not None
        assert gone.status_code == 410 and words["update_deleted"] in gone.text


async def not_ok_page(client: httpx.AsyncClient, path: str) -> httpx.Response | None:
    """The page at ``path`` once it is no longer a 200 (else None)."""
    page = await client.get(path)
    return page if page.status_code != 200 else None


# -- the studio ---------------------------------------------------------------------------


def studio_words(html: str) -> Any:
    found = re.search(r'id="sd-strings">(.*?)</script>', html)
    assert found, "the studio page hands its strings to the browser"
    return json.loads(found.group(1))


async def test_studio_renders_every_language_without_an_english_ui_string(
    client: httpx.AsyncClient,
) -> None:
    english = english_phrases(studio_strings.studio_strings("en"))
    assert len(english) >= 10
    for language, tag in TAGS.items():
        r = await client.get("/studio", headers={"Accept-Language": f"{tag}, en;q=0.5"})
        assert r.status_code == 200
        html = r.text
        direction = "rtl" if language == "ar" else "ltr"
        assert f'<html lang="{language}" dir="{direction}">' in html, language
        assert r.headers["vary"] == "Accept-Language, Cookie"
        words = studio_words(html)
        assert words == {"locale": language, "strings": studio_strings.studio_strings(language)}
        assert f'<option value="{language}" lang="{language}" selected>' in html
        if language == "en":
            continue
        allowed = SAME_AS_ENGLISH.get(language, set())
        visible = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
        # The chooser names each language in its own language ("English" included).
        visible = re.sub(r"<select id=\"sd-lang\".*?</select>", " ", visible, flags=re.S)
        for phrase in english:
            if phrase in allowed:
                continue
            found = re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", visible)
            assert not found, f"{language} studio: English {phrase!r} on the page"
        # …and its browser code gets every string in the language too.
        for key, value in words["strings"].items():
            forms = value.values() if isinstance(value, dict) else [value]
            english_value = studio_strings.studio_strings("en")[key]
            english_forms = (
                english_value.values() if isinstance(english_value, dict) else [english_value]
            )
            assert not set(forms) & (set(english_forms) - allowed), (language, key)


async def test_studio_language_is_chosen_then_accept_language_then_english(
    client: httpx.AsyncClient,
) -> None:
    async def language_of(path: str, **headers: str) -> str:
        r = await client.get(path, headers=headers)
        assert r.status_code == 200
        return str(studio_words(r.text)["locale"])

    assert await language_of("/studio") == "en"
    assert await language_of("/studio", **{"Accept-Language": "xx, ja;q=0.3, de;q=0.8"}) == "de"
    assert await language_of("/studio", **{"Accept-Language": "zz-ZZ"}) == "en"
    # The chooser (?lang=) wins and is remembered in a cookie for the next visits.
    r = await client.get("/studio?lang=uk", headers={"Accept-Language": "de"})
    assert studio_words(r.text)["locale"] == "uk"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("livefeed_lang=uk;") and "HttpOnly" in cookie and "Path=/" in cookie
    assert await language_of("/studio", **{"Accept-Language": "de"}) == "uk"
    # An unknown choice is ignored (not an error, not remembered).
    r = await client.get("/studio?lang=xx", headers={"Accept-Language": "es"})
    assert studio_words(r.text)["locale"] == "uk" and "set-cookie" not in r.headers
    client.cookies.clear()
    assert await language_of("/studio?lang=xx", **{"Accept-Language": "es"}) == "es"


def test_every_studio_string_the_browser_code_uses_exists() -> None:
    """``t("key")``/``tn("key", n)`` in the studio's JavaScript name a key of the table (a
    plural one for ``tn``), and the studio has no other word in JavaScript."""
    table = studio_strings.STUDIO_MESSAGES
    sources = sorted((i18n.LOCALE_DIR.parent.parent / "web" / "static").glob("studio*/**/*.js"))
    sources += [i18n.LOCALE_DIR.parent.parent / "web" / "static" / "studio.js"]
    used: dict[str, set[str]] = {"t": set(), "tn": set()}
    for source in sources:
        for call, key in re.findall(r"\b(tn?)\(\s*\"(\w+)\"", source.read_text()):
            used[call].add(key)
    assert used["t"] and used["tn"], "the studio reads its words from the page"
    assert used["t"] <= set(table), sorted(used["t"] - set(table))
    assert used["tn"] <= set(table), sorted(used["tn"] - set(table))
    for key in used["tn"]:
        assert isinstance(table[key], i18n.PluralMessage), key
    for key in used["t"]:
        assert isinstance(table[key], str), key


# -- Arabic in Chromium ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReaderSite]:
    s = ReaderSite(tmp_path_factory.mktemp("rtl")).start()
    yield s
    s.close()


async def test_arabic_page_reads_right_to_left(
    page: Page, site: ReaderSite, tmp_path: Path
) -> None:
    slug = "arabic-rtl"
    site.create_feed(slug, title="تغطية مباشرة", locale="ar-EG", tz="Africa/Cairo")
    first = await site.post(slug, "بدأ الاجتماع صباح اليوم.", key_event=True)
    await site.post(slug, "وصل الوزير إلى القاعة.")
    await page.set_viewport_size({"width": 1000, "height": 800})
    await page.goto(site.url(f"/feeds/{slug}"))
    await page.wait_for_selector(".lf-conn[data-state='live']", state="attached")
    shot = tmp_path / "arabic.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert await page.evaluate("getComputedStyle(document.body).direction") == "rtl"

    async def box(selector: str) -> dict[str, float]:
        found = await page.locator(selector).first.bounding_box()
        assert found is not None, selector
        return found

    article = await box(f"#entry-{first['id']}")
    time_box = await box(f"#entry-{first['id']} .lf-permalink")
    body = await box(f"#entry-{first['id']} .lf-body p")
    # The entry's time sits at its right edge, the start of an Arabic line.
    assert time_box["x"] + time_box["width"] > article["x"] + article["width"] * 0.75
    assert time_box["x"] > article["x"] + article["width"] / 2
    # Headings and text start on the right.
    title = await box(".lf-title")
    main = await box("main")
    assert abs((title["x"] + title["width"]) - (main["x"] + main["width"])) < 40
    assert abs((body["x"] + body["width"]) - (article["x"] + article["width"])) < 40
    key_heading = await box(".lf-keyevents-title")
    assert key_heading["x"] + key_heading["width"] > main["x"] + main["width"] * 0.6
    # A live update arrives while the reader is scrolled down: the button says so in Arabic.
    await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    await page.set_viewport_size({"width": 1000, "height": 300})
    await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    await site.post(slug, "خبر عاجل.")
    button = page.locator(".lf-new")
    await expect(button).to_be_visible(timeout=15_000)
    await expect(button).to_have_text(i18n.ui_strings("ar")["new_updates"]["one"])
    assert await button.evaluate("b => getComputedStyle(b).direction") == "rtl"
    await expect(page.locator(".lf-status")).to_have_text("مباشر")
