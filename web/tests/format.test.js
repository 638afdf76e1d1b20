// @ts-check
/** The browser's text rules give the server's answers (`tests/fixtures/js/format.json`). */

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Formatter, HEADLINE_CHARS, headline, plainText, plural } from "../static/lib/format.js";
import { fixture } from "./fixtures.js";

const cases = fixture("format.json");

test("the headline length is the server's", () => {
  assert.equal(HEADLINE_CHARS, cases.headlineChars);
});

describe("headline", () => {
  for (const c of cases.headlines) {
    test(JSON.stringify(c.body).slice(0, 60), () => {
      assert.equal(headline(c.html, c.body), c.headline);
    });
  }
});

test("plainText collapses whitespace and decodes references", () => {
  assert.equal(plainText("<p>a&amp;b</p>\n<p>c&#233;&#x20AC;</p>"), "a&b cé€");
});

for (const locale of cases.locales) {
  describe(`${locale.tag} in ${locale.timezone}`, () => {
    const fmt = new Formatter(locale.config);
    for (const instant of locale.instants) {
      test(`day heading, day key and time of ${instant.iso}`, () => {
        const f = fmt.fields(new Date(instant.ms));
        assert.equal(fmt.dayKey(f), instant.dayKey);
        assert.equal(fmt.heading(f), instant.heading);
        assert.equal(fmt.time(f), instant.time);
        assert.equal(fmt.updated(f), instant.updated);
      });
    }
    test("plural messages", () => {
      for (const p of locale.plurals) {
        assert.equal(plural(locale.config, p.key, p.n), p.text, `${p.key} ${p.n}`);
      }
    });
  });
}
