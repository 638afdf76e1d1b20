/*
 * livefeed reader: keeps a server-rendered timeline ([data-livefeed-timeline]) live.
 *
 * - Resumes from the rev the page was rendered at: WebSocket, else SSE, else polling
 *   `changes?since=`; exponential backoff with full jitter; closes on `offline`, resumes on
 *   `online` and when a background tab becomes visible again.
 * - Applies entry/feed/reset events in place. Each event is applied once: events whose rev
 *   is not above the last applied rev are dropped, so sources can overlap safely.
 * - Day headings and clock times are formatted from the CLDR patterns and names the server
 *   rendered with (Babel), in the feed's time zone, so live and server output are identical.
 * - A reader scrolled away from the top is never moved: new entries wait (out of layout)
 *   behind an "N new updates" button, and edits/deletions above the view are compensated.
 *
 * Dispatches `livefeed:change` on the timeline element after every DOM change (embeds use it
 * to resize). No dependencies, no build step.
 */
(function () {
  "use strict";

  var MAX_BACKOFF_MS = 30000;
  var POLL_MS = 5000;
  var FRESH_MS = 2500;

  // ---- formatting (CLDR patterns, Babel's names) ---------------------------------------------

  function pad(n, width) {
    var s = String(n);
    while (s.length < width) s = "0" + s;
    return s;
  }

  function Formatter(cfg) {
    this.cfg = cfg;
    this.dtf = new Intl.DateTimeFormat("en-US", {
      timeZone: cfg.timezone,
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      hourCycle: "h23",
    });
  }

  /** Wall-clock fields of an instant in the feed's time zone. */
  Formatter.prototype.fields = function (date) {
    var out = {};
    this.dtf.formatToParts(date).forEach(function (p) {
      if (p.type !== "literal") out[p.type] = parseInt(p.value, 10);
    });
    var f = { y: out.year, M: out.month, d: out.day, H: out.hour % 24, m: out.minute, s: out.second };
    // Monday = 0, as Babel numbers weekdays.
    f.wd = (new Date(Date.UTC(f.y, f.M - 1, f.d)).getUTCDay() + 6) % 7;
    return f;
  };

  Formatter.prototype.pattern = function (pattern, f) {
    var c = this.cfg;
    var out = "";
    var i = 0;
    while (i < pattern.length) {
      var ch = pattern.charAt(i);
      if (ch === "'") {
        if (pattern.charAt(i + 1) === "'") {
          out += "'";
          i += 2;
          continue;
        }
        var j = i + 1;
        while (j < pattern.length) {
          if (pattern.charAt(j) === "'") {
            if (pattern.charAt(j + 1) === "'") {
              out += "'";
              j += 2;
              continue;
            }
            break;
          }
          out += pattern.charAt(j);
          j += 1;
        }
        i = j + 1;
        continue;
      }
      if (!/[A-Za-z]/.test(ch)) {
        out += ch;
        i += 1;
        continue;
      }
      var n = 1;
      while (pattern.charAt(i + n) === ch) n += 1;
      i += n;
      var h12 = f.H % 12 === 0 ? 12 : f.H % 12;
      switch (ch) {
        case "E":
        case "c":
        case "e":
          if (n >= 4) out += n === 5 ? c.weekdays.wide[f.wd].charAt(0) : c.weekdays.wide[f.wd];
          else out += c.weekdays.abbreviated[f.wd];
          break;
        case "d":
          out += pad(f.d, n);
          break;
        case "M":
        case "L":
          if (n >= 4) out += c.months.wide[f.M - 1];
          else if (n === 3) out += c.months.abbreviated[f.M - 1];
          else out += pad(f.M, n);
          break;
        case "y":
          out += n === 2 ? pad(f.y % 100, 2) : pad(f.y, n);
          break;
        case "H":
          out += pad(f.H, n);
          break;
        case "k":
          out += pad(f.H === 0 ? 24 : f.H, n);
          break;
        case "h":
          out += pad(h12, n);
          break;
        case "K":
          out += pad(f.H % 12, n);
          break;
        case "m":
          out += pad(f.m, n);
          break;
        case "s":
          out += pad(f.s, n);
          break;
        case "a":
        case "b":
        case "B":
          out += c.dayPeriods[f.H < 12 ? 0 : 1];
          break;
        default:
          break;
      }
    }
    return out;
  };

  Formatter.prototype.dayKey = function (f) {
    return pad(f.y, 4) + "-" + pad(f.M, 2) + "-" + pad(f.d, 2);
  };

  Formatter.prototype.heading = function (f) {
    var s = this.pattern(this.cfg.dayPattern, f);
    return s.charAt(0).toUpperCase() + s.slice(1);
  };

  Formatter.prototype.time = function (f) {
    return this.pattern(this.cfg.timePattern, f);
  };

  function plural(cfg, key, n) {
    var forms = cfg.strings[key];
    var form = "other";
    try {
      form = new Intl.PluralRules(cfg.locale).select(n);
    } catch (e) {
      form = n === 1 ? "one" : "other";
    }
    return (forms[form] || forms.other).replace("{n}", String(n));
  }

  function headlineOf(article) {
    var body = article.querySelector(".lf-body");
    var text = (body ? body.textContent : "").replace(/\s+/g, " ").trim();
    if (text.length <= 110) return text;
    var cut = text.slice(0, 110);
    var sp = cut.lastIndexOf(" ");
    if (sp > 40) cut = cut.slice(0, sp);
    return cut.replace(/[,;:.\u2013\u2014\- ]+$/, "") + "\u2026";
  }

  // ---- the timeline --------------------------------------------------------------------------

  function Timeline(root) {
    this.root = root;
    this.cfg = JSON.parse(root.querySelector("script.lf-config").textContent);
    this.fmt = new Formatter(this.cfg);
    this.rev = this.cfg.rev;
    this.nextBefore = this.cfg.nextBefore;
    this.days = root.querySelector(".lf-days");
    this.pinned = root.querySelector(".lf-pinned");
    this.empty = root.querySelector(".lf-empty");
    this.newButton = root.querySelector(".lf-new");
    this.announcer = root.querySelector(".lf-announcer");
    this.conn = root.querySelector(".lf-conn");
    this.keyNav = root.querySelector(".lf-keyevents");
    this.template = root.querySelector("template.lf-entry-template");
    this.pending = [];
    this.unseenWhileHidden = 0;
    this.baseTitle = document.title;
    this.resetting = null; // events buffered while a reset reload is in flight
    this.transport = null;

    var self = this;
    this.newButton.addEventListener("click", function () {
      self.revealPending(true);
    });
    window.addEventListener(
      "scroll",
      function () {
        if (self.pending.length && self.atTop()) self.revealPending(false);
      },
      { passive: true }
    );
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) {
        self.unseenWhileHidden = 0;
        self.updateTitle();
      }
    });
    this.enhancePager();
    if (this.cfg.live) {
      this.transport = new Live(this);
      this.transport.start();
    }
  }

  Timeline.prototype.emit = function () {
    this.root.dispatchEvent(new CustomEvent("livefeed:change", { bubbles: true }));
  };

  /** The reader sees the top of the timeline: new entries may appear in place. */
  Timeline.prototype.atTop = function () {
    var first = this.pinned.hidden ? this.days : this.pinned;
    return first.getBoundingClientRect().top >= -8 || window.scrollY <= 0;
  };

  Timeline.prototype.articles = function () {
    return this.root.querySelectorAll("article.lf-entry");
  };

  Timeline.prototype.find = function (id) {
    return this.root.querySelector('article.lf-entry[data-id="' + id + '"]');
  };

  /**
   * Run `mutate` without moving what the reader is looking at: remember where the first
   * entry visible at the top of the viewport is, then scroll by however far it moved.
   */
  Timeline.prototype.keepView = function (mutate, skip) {
    if (this.atTop()) {
      mutate();
      return;
    }
    var anchor = null;
    var before = 0;
    var list = this.root.querySelectorAll("article.lf-entry:not(.lf-pending), .lf-day-heading");
    for (var i = 0; i < list.length; i++) {
      if (skip && (list[i] === skip || skip.contains(list[i]))) continue;
      var r = list[i].getBoundingClientRect();
      if (r.bottom > 0 && r.height > 0) {
        anchor = list[i];
        before = r.top;
        break;
      }
    }
    mutate();
    if (anchor && anchor.isConnected) {
      var delta = anchor.getBoundingClientRect().top - before;
      if (Math.abs(delta) >= 0.5) window.scrollBy(0, delta);
    }
  };

  Timeline.prototype.fill = function (node, e) {
    var date = new Date(e.published_at);
    var f = this.fmt.fields(date);
    var hasTime = e.has_time !== false;
    node.id = "entry-" + e.id;
    node.setAttribute("data-id", String(e.id));
    node.setAttribute("data-rev", String(e.rev));
    node.setAttribute("data-ts", String(date.getTime()));
    node.setAttribute("data-day", this.fmt.dayKey(f));
    node.setAttribute("data-has-time", hasTime ? "1" : "0");
    node.classList.toggle("is-pinned", !!e.pinned);
    node.classList.toggle("is-key", !!e.key_event);
    node.querySelector(".lf-permalink").setAttribute("href", "#entry-" + e.id);
    var t = node.querySelector("time");
    t.setAttribute("datetime", hasTime ? e.published_at : this.fmt.dayKey(f));
    t.textContent = hasTime ? this.fmt.time(f) : "";
    node.querySelector(".lf-badge-pinned").hidden = !e.pinned;
    node.querySelector(".lf-badge-key").hidden = !e.key_event;
    var author = node.querySelector(".lf-author");
    author.textContent = e.author || "";
    author.hidden = !e.author;
    // `html` is sanitized by the server (app/render.py): safe to insert as-is.
    node.querySelector(".lf-body").innerHTML = e.html;
    return node;
  };

  Timeline.prototype.render = function (e) {
    return this.fill(this.template.content.firstElementChild.cloneNode(true), e);
  };

  function newer(a, b) {
    // Newest first: by publication instant, then by id.
    var ta = Number(a.getAttribute("data-ts"));
    var tb = Number(b.getAttribute("data-ts"));
    if (ta !== tb) return ta > tb;
    return Number(a.getAttribute("data-id")) > Number(b.getAttribute("data-id"));
  }

  function insertSorted(container, node, after) {
    var kids = container.querySelectorAll(":scope > article.lf-entry");
    for (var i = 0; i < kids.length; i++) {
      if (kids[i] !== node && newer(node, kids[i])) {
        container.insertBefore(node, kids[i]);
        return;
      }
    }
    if (after && !kids.length) after.insertAdjacentElement("afterend", node);
    else container.appendChild(node);
  }

  Timeline.prototype.daySection = function (node) {
    var key = node.getAttribute("data-day");
    var sections = this.days.querySelectorAll(":scope > .lf-day");
    var before = null;
    for (var i = 0; i < sections.length; i++) {
      var k = sections[i].getAttribute("data-day");
      if (k === key) return sections[i];
      if (k < key) {
        before = sections[i];
        break;
      }
    }
    var f = this.fmt.fields(new Date(Number(node.getAttribute("data-ts"))));
    var section = document.createElement("section");
    var id = "day-" + this.cfg.slug + "-" + key;
    section.className = "lf-day";
    section.setAttribute("data-day", key);
    section.setAttribute("aria-labelledby", id);
    var h = document.createElement("h2");
    h.className = "lf-day-heading";
    h.id = id;
    h.textContent = this.fmt.heading(f);
    section.appendChild(h);
    this.days.insertBefore(section, before);
    return section;
  };

  /** Oldest loaded chronological entry, when more exist beyond it (older pages). */
  Timeline.prototype.beyondLoaded = function (node) {
    if (this.nextBefore === null || this.nextBefore === undefined) return false;
    var all = this.days.querySelectorAll("article.lf-entry");
    var last = all[all.length - 1];
    return !!last && last !== node && newer(last, node);
  };

  /** Put `node` where it belongs: pinned slot (first page) or its day; false if not loaded. */
  Timeline.prototype.place = function (node) {
    if (node.classList.contains("is-pinned") && this.cfg.firstPage) {
      insertSorted(this.pinned, node);
      this.pinned.hidden = false;
      return true;
    }
    if (this.beyondLoaded(node)) return false;
    var section = this.daySection(node);
    insertSorted(section, node, section.querySelector(".lf-day-heading"));
    return true;
  };

  Timeline.prototype.tidy = function () {
    var sections = this.days.querySelectorAll(":scope > .lf-day");
    for (var i = 0; i < sections.length; i++) {
      var visible = sections[i].querySelector("article.lf-entry:not(.lf-pending)");
      var any = sections[i].querySelector("article.lf-entry");
      if (!any) sections[i].remove();
      else sections[i].classList.toggle("lf-pending-day", !visible);
    }
    this.pinned.hidden = !this.pinned.querySelector("article.lf-entry:not(.lf-pending)");
    this.empty.hidden = !!this.root.querySelector("article.lf-entry:not(.lf-pending)");
    this.rebuildKeyEvents();
  };

  Timeline.prototype.rebuildKeyEvents = function () {
    var list = this.keyNav.querySelector(".lf-keyevents-list");
    var items = Array.prototype.slice.call(
      this.root.querySelectorAll("article.lf-entry.is-key:not(.lf-pending)")
    );
    items.sort(function (a, b) {
      return newer(a, b) ? -1 : 1;
    });
    var frag = document.createDocumentFragment();
    var self = this;
    items.forEach(function (a) {
      var f = self.fmt.fields(new Date(Number(a.getAttribute("data-ts"))));
      var li = document.createElement("li");
      var link = document.createElement("a");
      link.href = "#" + a.id;
      var when = document.createElement("span");
      when.className = "lf-ke-when";
      when.textContent = a.getAttribute("data-has-time") === "1" ? self.fmt.time(f) : self.fmt.heading(f);
      var text = document.createElement("span");
      text.className = "lf-ke-text";
      text.textContent = headlineOf(a);
      link.appendChild(when);
      link.appendChild(document.createTextNode(" "));
      link.appendChild(text);
      li.appendChild(link);
      frag.appendChild(li);
    });
    var self2 = this;
    this.keepView(function () {
      list.replaceChildren(frag);
      self2.keyNav.hidden = items.length === 0;
    });
  };

  Timeline.prototype.announce = function (text) {
    // Re-set so that repeated identical messages are announced again.
    this.announcer.textContent = "";
    var a = this.announcer;
    window.setTimeout(function () {
      a.textContent = text;
    }, 50);
  };

  Timeline.prototype.updateTitle = function () {
    var n = this.pending.length + this.unseenWhileHidden;
    document.title = n ? "(" + n + ") " + this.baseTitle : this.baseTitle;
  };

  Timeline.prototype.updateButton = function () {
    var n = this.pending.length;
    this.newButton.hidden = n === 0;
    if (n) this.newButton.textContent = plural(this.cfg, "new_updates", n);
    this.updateTitle();
  };

  function flash(node) {
    node.classList.add("lf-fresh");
    window.setTimeout(function () {
      node.classList.remove("lf-fresh");
    }, FRESH_MS);
  }

  Timeline.prototype.revealPending = function (jump) {
    var nodes = this.pending.filter(function (n) {
      return n.isConnected;
    });
    this.pending = [];
    nodes.forEach(function (n) {
      n.classList.remove("lf-pending");
      flash(n);
    });
    this.tidy();
    this.updateButton();
    if (jump) {
      var reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      var target = nodes.length ? nodes.sort(function (a, b) { return newer(a, b) ? -1 : 1; })[0] : this.days;
      var top = this.root.getBoundingClientRect().top + window.scrollY - 16;
      window.scrollTo({ top: Math.max(0, top), behavior: reduce ? "auto" : "smooth" });
      if (target && target.focus) target.focus({ preventScroll: true });
    }
    this.emit();
  };

  // ---- applying events -----------------------------------------------------------------------

  Timeline.prototype.handle = function (ev) {
    if (!ev || !ev.type || ev.type === "hello") return;
    if (this.resetting) {
      this.resetting.push(ev);
      return;
    }
    if (typeof ev.rev !== "number" || ev.rev <= this.rev) return;
    if (ev.type === "reset") {
      this.reload(ev.rev);
      return;
    }
    this.rev = ev.rev;
    if (ev.type === "entry") {
      if (ev.op === "deleted" || ev.entry.deleted) this.remove(ev.entry.id);
      else this.upsert(ev.entry, ev.op === "created");
    } else if (ev.type === "feed") {
      this.feedChanged(ev.feed);
    }
    this.emit();
  };

  Timeline.prototype.upsert = function (e, created) {
    var self = this;
    var node = this.find(e.id);
    if (node) {
      if (Number(node.getAttribute("data-rev")) > e.rev) return;
      this.keepView(function () {
        var wasPending = node.classList.contains("lf-pending");
        self.fill(node, e);
        if (!self.place(node)) {
          node.remove();
          if (wasPending) self.dropPending(node);
        }
        self.tidy();
      });
      return;
    }
    node = this.render(e);
    if (!created) {
      // An edit to an entry this page had not shown (e.g. just beyond a page boundary).
      this.keepView(function () {
        if (self.place(node)) self.tidy();
      });
      return;
    }
    if (this.atTop() && !this.pending.length) {
      if (!this.place(node)) return;
      flash(node);
      this.tidy();
      if (document.hidden) this.unseenWhileHidden += 1;
      this.updateTitle();
      this.announce(plural(this.cfg, "announce_new", 1) + ": " + headlineOf(node));
      return;
    }
    node.classList.add("lf-pending");
    if (!this.place(node)) return;
    this.pending.push(node);
    this.tidy();
    this.updateButton();
    this.announce(plural(this.cfg, "announce_new", this.pending.length));
  };

  Timeline.prototype.dropPending = function (node) {
    this.pending = this.pending.filter(function (n) {
      return n !== node;
    });
    this.updateButton();
  };

  Timeline.prototype.remove = function (id) {
    var node = this.find(id);
    if (!node) return;
    var self = this;
    this.keepView(function () {
      node.remove();
      self.tidy();
    }, node);
    if (node.classList.contains("lf-pending")) this.dropPending(node);
  };

  Timeline.prototype.feedChanged = function (feed) {
    var title = document.querySelector(".lf-title");
    if (feed.title && title && this.root.closest("main")) {
      title.textContent = feed.title;
      this.baseTitle = feed.title;
      this.updateTitle();
    }
    var desc = document.querySelector(".lf-description");
    if (desc && typeof feed.description === "string") desc.textContent = feed.description;
    if (feed.status) {
      this.cfg.status = feed.status;
      var badge = document.querySelector(".lf-status[data-status]");
      if (badge) {
        badge.setAttribute("data-status", feed.status);
        badge.className = "lf-status lf-status-" + feed.status;
        badge.textContent = feed.status === "live" ? this.cfg.strings.live : this.cfg.strings.ended;
      }
      var ended = document.querySelector(".lf-ended");
      if (ended) ended.hidden = feed.status !== "ended";
      if (feed.status === "ended") {
        this.announce(this.cfg.strings.ended_notice);
        if (this.transport) this.transport.stop();
        this.setConn("idle");
      }
    }
  };

  /** `reset`: reload the first page over HTTP; events arriving meanwhile are replayed after. */
  Timeline.prototype.reload = function () {
    var self = this;
    this.resetting = [];
    fetch(this.cfg.api + "/entries?limit=" + this.cfg.pageSize, { cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (page) {
        self.keepView(function () {
          self.pinned.replaceChildren();
          self.days.replaceChildren();
          self.pending = [];
          self.nextBefore = page.next_before;
          page.entries.forEach(function (e) {
            self.place(self.render(e));
          });
          self.tidy();
          self.updateButton();
          self.syncPager();
        });
        var queued = self.resetting;
        self.resetting = null;
        self.rev = Math.max(self.rev, page.rev);
        queued.forEach(function (ev) {
          self.handle(ev);
        });
        self.emit();
      })
      .catch(function () {
        // Resume from where we were: the stream will say reset again if still needed.
        self.resetting = null;
        if (self.transport) self.transport.restart(true);
      });
  };

  // ---- older pages ---------------------------------------------------------------------------

  Timeline.prototype.enhancePager = function () {
    var link = this.root.querySelector(".lf-pager .lf-older");
    if (!link) return;
    var self = this;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "lf-older";
    button.textContent = link.textContent;
    link.replaceWith(button);
    this.olderButton = button;
    button.addEventListener("click", function () {
      self.loadOlder();
    });
  };

  Timeline.prototype.syncPager = function () {
    if (this.olderButton) this.olderButton.hidden = this.nextBefore === null;
  };

  Timeline.prototype.loadOlder = function () {
    var self = this;
    var button = this.olderButton;
    if (!button || button.getAttribute("aria-busy") === "true" || this.nextBefore === null) return;
    button.setAttribute("aria-busy", "true");
    var label = button.textContent;
    button.textContent = this.cfg.strings.loading;
    var error = this.root.querySelector(".lf-pager-error");
    if (error) error.remove();
    var url = this.cfg.api + "/entries?limit=" + this.cfg.pageSize + "&before=" + this.nextBefore;
    fetch(url, { cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (page) {
        var first = null;
        var added = 0;
        self.nextBefore = page.next_before;
        page.entries.forEach(function (e) {
          if (self.find(e.id)) return;
          var node = self.render(e);
          var section = self.daySection(node);
          insertSorted(section, node, section.querySelector(".lf-day-heading"));
          if (!first) first = node;
          added += 1;
        });
        self.tidy();
        button.removeAttribute("aria-busy");
        button.textContent = label;
        self.syncPager();
        if (first) first.focus({ preventScroll: true });
        self.announce(plural(self.cfg, "entries_count", added));
        self.emit();
      })
      .catch(function () {
        button.removeAttribute("aria-busy");
        button.textContent = label;
        var p = document.createElement("p");
        p.className = "lf-pager-error";
        p.setAttribute("role", "alert");
        p.textContent = self.cfg.strings.load_failed;
        button.parentNode.appendChild(p);
      });
  };

  Timeline.prototype.setConn = function (state) {
    var text = {
      live: this.cfg.strings.status_live,
      connecting: this.cfg.strings.status_connecting,
      offline: this.cfg.strings.status_offline,
      reconnecting: this.cfg.strings.status_reconnecting,
    }[state];
    this.conn.setAttribute("data-state", state);
    this.conn.querySelector(".lf-conn-text").textContent = text || "";
    // Only trouble is worth the reader's attention; the feed's live badge covers the rest.
    this.conn.hidden = !(state === "offline" || state === "reconnecting");
  };

  // ---- transports ----------------------------------------------------------------------------

  function Live(timeline) {
    this.tl = timeline;
    this.cfg = timeline.cfg;
    this.mode = "ws";
    this.failures = { ws: 0, sse: 0 };
    this.worked = { ws: false, sse: false };
    this.attempt = 0;
    this.timer = null;
    this.ws = null;
    this.es = null;
    this.stopped = false;
    this.connected = false;
  }

  Live.prototype.start = function () {
    var self = this;
    window.addEventListener("online", function () {
      self.restart(false);
    });
    window.addEventListener("offline", function () {
      self.close();
      self.tl.setConn("offline");
    });
    document.addEventListener("visibilitychange", function () {
      // A tab that slept may hold a dead socket: catch up over HTTP, and reconnect if needed.
      if (document.hidden || self.stopped) return;
      if (!self.connected) self.restart(false);
      else self.catchUp();
    });
    window.addEventListener("pagehide", function () {
      self.close();
    });
    this.connect();
  };

  Live.prototype.stop = function () {
    this.stopped = true;
    this.close();
  };

  Live.prototype.close = function () {
    window.clearTimeout(this.timer);
    this.timer = null;
    this.connected = false;
    if (this.ws) {
      var ws = this.ws;
      this.ws = null;
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      try {
        ws.close(1000);
      } catch (e) {
        /* already closed */
      }
    }
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  };

  /** Reconnect now (online again, tab awake), preferring the WebSocket again. */
  Live.prototype.restart = function (backoff) {
    if (this.stopped) return;
    this.close();
    if (!backoff) {
      this.attempt = 0;
      this.mode = "ws";
      this.failures = { ws: 0, sse: 0 };
      this.connect();
    } else {
      this.schedule();
    }
  };

  Live.prototype.schedule = function (delay) {
    if (this.stopped) return;
    window.clearTimeout(this.timer);
    if (delay === undefined) {
      var cap = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, this.attempt));
      delay = cap / 2 + Math.random() * (cap / 2);
      this.attempt = Math.min(this.attempt + 1, 10);
    }
    this.tl.setConn(navigator.onLine === false ? "offline" : "reconnecting");
    var self = this;
    this.timer = window.setTimeout(function () {
      self.timer = null;
      self.connect();
    }, delay);
  };

  Live.prototype.connect = function () {
    if (this.stopped) return;
    if (navigator.onLine === false) {
      this.tl.setConn("offline");
      return; // the `online` event resumes
    }
    if (this.mode === "ws" && !("WebSocket" in window)) this.mode = "sse";
    if (this.mode === "sse" && !("EventSource" in window)) this.mode = "poll";
    if (this.mode === "ws") this.openWs();
    else if (this.mode === "sse") this.openSse();
    else this.poll();
  };

  Live.prototype.absolute = function (path) {
    return new URL(path, window.location.href);
  };

  /** Count a failure to open `mode`; after two, on a page where it never worked, move on. */
  Live.prototype.fellBack = function (mode) {
    // Once a transport has worked here, failures are outages (restart, network): retry it.
    if (this.worked[mode]) return false;
    this.failures[mode] += 1;
    if (this.failures[mode] >= 2) {
      this.mode = mode === "ws" ? "sse" : "poll";
      this.attempt = 0;
      return true;
    }
    return false;
  };

  Live.prototype.openWs = function () {
    var self = this;
    var url = this.absolute(this.cfg.ws);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("since", String(this.tl.rev));
    var opened = false;
    var ws;
    try {
      ws = new WebSocket(url.toString());
    } catch (e) {
      this.fellBack("ws");
      this.schedule(0);
      return;
    }
    this.ws = ws;
    ws.onopen = function () {
      opened = true;
      self.connected = true;
      self.worked.ws = true;
      self.failures.ws = 0;
      self.tl.setConn("live");
    };
    ws.onmessage = function (msg) {
      var ev;
      try {
        ev = JSON.parse(msg.data);
      } catch (e) {
        return;
      }
      if (ev.type === "hello") self.attempt = 0;
      self.tl.handle(ev);
    };
    ws.onclose = function (ev) {
      if (self.ws !== ws) return;
      self.ws = null;
      self.connected = false;
      if (self.stopped) return;
      if (!opened && self.fellBack("ws")) {
        self.schedule(0);
      } else if (ev.code === 4008) {
        self.schedule(0); // too slow: resume right away from our rev
      } else if (ev.code === 1012) {
        self.schedule(250 + Math.random() * 1750); // restart: spread the herd
      } else {
        self.schedule();
      }
    };
  };

  Live.prototype.openSse = function () {
    var self = this;
    var url = this.absolute(this.cfg.sse);
    url.searchParams.set("since", String(this.tl.rev));
    var es = new EventSource(url.toString());
    var opened = false;
    this.es = es;
    es.onopen = function () {
      opened = true;
      self.connected = true;
      self.worked.sse = true;
      self.failures.sse = 0;
      self.attempt = 0;
      self.tl.setConn("live");
    };
    var onEvent = function (msg) {
      try {
        self.tl.handle(JSON.parse(msg.data));
      } catch (e) {
        /* ignore malformed */
      }
    };
    ["entry", "feed", "reset", "hello", "message"].forEach(function (name) {
      es.addEventListener(name, onEvent);
    });
    es.onerror = function () {
      // Take reconnection over from EventSource to control backoff and the `since` we send.
      if (self.es !== es) return;
      es.close();
      self.es = null;
      self.connected = false;
      if (self.stopped) return;
      if (!opened && self.fellBack("sse")) self.schedule(0);
      else self.schedule();
    };
  };

  Live.prototype.fetchChanges = function () {
    var url = this.cfg.api + "/changes?since=" + this.tl.rev;
    var self = this;
    return fetch(url, { cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (body) {
        (body.events || []).forEach(function (ev) {
          self.tl.handle(ev);
        });
      });
  };

  Live.prototype.catchUp = function () {
    this.fetchChanges().catch(function () {
      /* the live transport will catch up when it reconnects */
    });
  };

  Live.prototype.poll = function () {
    var self = this;
    this.fetchChanges()
      .then(function () {
        if (self.stopped || self.mode !== "poll") return;
        self.connected = true;
        self.attempt = 0;
        self.tl.setConn("live");
        window.clearTimeout(self.timer);
        self.timer = window.setTimeout(function () {
          self.poll();
        }, document.hidden ? POLL_MS * 4 : POLL_MS);
      })
      .catch(function () {
        self.connected = false;
        self.schedule();
      });
  };

  // ---- boot ----------------------------------------------------------------------------------

  function boot() {
    var roots = document.querySelectorAll("[data-livefeed-timeline]");
    for (var i = 0; i < roots.length; i++) {
      if (!roots[i].livefeed) roots[i].livefeed = new Timeline(roots[i]);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
