/*
 * livefeed studio: the reporter console at /studio. No dependencies, no build step.
 *
 * - The token lives in sessionStorage (this tab only). A 401 anywhere signs out with a clear
 *   message; the draft stays.
 * - A draft (text, author, pin, key event, and its Idempotency-Key) is saved in localStorage
 *   per feed on every keystroke, so a lost connection or a reload loses nothing. The key is
 *   minted with the draft and reused by every retry until the server has accepted it: a double
 *   click or a retry after a lost response never posts twice. If the draft was edited after a
 *   lost response, the replayed entry is corrected with a PATCH.
 * - The entries list follows the feed over the WebSocket (other reporters' changes appear),
 *   resuming from the last rev after a disconnect.
 */
(function () {
  "use strict";

  var TOKEN_KEY = "livefeed.studio.token";
  var FEED_KEY = "livefeed.studio.feed";
  var AUTHOR_KEY = "livefeed.studio.author";
  var DRAFT_PREFIX = "livefeed.studio.draft.";
  var PAGE = 30;

  var $ = function (id) {
    return document.getElementById(id);
  };

  var state = {
    token: null,
    who: null,
    feeds: [],
    feed: null,
    rev: 0,
    entries: new Map(),
    nextBefore: null,
    ws: null,
    wsTimer: null,
    wsAttempt: 0,
    publishing: false,
    previewSeq: 0,
    previewTimer: null,
  };

  // ---- storage -------------------------------------------------------------------------------

  function store(kind) {
    try {
      return kind === "session" ? window.sessionStorage : window.localStorage;
    } catch (e) {
      return null;
    }
  }

  function get(kind, key) {
    var s = store(kind);
    return s ? s.getItem(key) : null;
  }

  function set(kind, key, value) {
    var s = store(kind);
    if (!s) return;
    try {
      if (value === null) s.removeItem(key);
      else s.setItem(key, value);
    } catch (e) {
      /* quota or privacy mode: the draft then lives in the page only */
    }
  }

  function uuid() {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) {
      return (x + 0x100).toString(16).slice(1);
    }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // ---- messages ------------------------------------------------------------------------------

  var toastTimer = null;

  function toast(text) {
    var el = $("sd-toast");
    el.textContent = text;
    el.classList.add("is-shown");
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(function () {
      el.classList.remove("is-shown");
    }, 4000);
  }

  function banner(text) {
    $("sd-banner-text").textContent = text || "";
    $("sd-banner").hidden = !text;
  }

  function ApiError(status, detail) {
    this.status = status;
    this.detail = detail;
  }

  var OFFLINE = "Can’t reach the server — check your connection. Nothing was lost: try again when you’re back online.";

  /** Human message for an API failure; a 401 also signs out. */
  function explain(err) {
    if (!(err instanceof ApiError)) return "Something went wrong: " + String(err);
    if (err.status === 0) return OFFLINE;
    if (err.status === 401) {
      signOut("Your token has expired or was revoked. Sign in again — your draft is kept.");
      return "Your token is no longer valid.";
    }
    if (err.status === 403) return "Not allowed with this token: " + err.detail;
    if (err.status === 413) return "Too long: " + err.detail;
    if (err.status === 422 || err.status === 400) return "Please fix: " + err.detail;
    if (err.status === 404) return "Not found: " + err.detail;
    if (err.status >= 500) return "The server had a problem (" + err.status + "). Try again in a moment.";
    return err.detail || "Request failed (" + err.status + ").";
  }

  function showError(el, err) {
    var text = explain(err);
    if (el) el.textContent = text;
    else banner(text);
    return text;
  }

  // ---- API -----------------------------------------------------------------------------------

  function api(method, path, body, headers) {
    var h = { Accept: "application/json" };
    if (state.token) h.Authorization = "Bearer " + state.token;
    if (body !== undefined) h["Content-Type"] = "application/json";
    Object.keys(headers || {}).forEach(function (k) {
      h[k] = headers[k];
    });
    return fetch(path, {
      method: method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    }).then(
      function (r) {
        if (r.status === 204) return { data: null, headers: r.headers };
        return r.text().then(function (text) {
          var data = null;
          try {
            data = text ? JSON.parse(text) : null;
          } catch (e) {
            data = null;
          }
          if (!r.ok) {
            var detail = data && data.detail ? data.detail : r.statusText;
            if (typeof detail !== "string") detail = JSON.stringify(detail);
            throw new ApiError(r.status, detail);
          }
          return { data: data, headers: r.headers };
        });
      },
      function () {
        throw new ApiError(0, "network");
      }
    );
  }

  function feedPath(suffix) {
    return "/api/feeds/" + encodeURIComponent(state.feed.slug) + (suffix || "");
  }

  // ---- sign in / out -------------------------------------------------------------------------

  function signIn(token, quiet) {
    state.token = token;
    return api("GET", "/api/whoami").then(
      function (res) {
        state.who = res.data;
        set("session", TOKEN_KEY, token);
        $("sd-signin").hidden = true;
        $("sd-app").hidden = false;
        $("sd-who").hidden = false;
        $("sd-who-name").textContent = state.who.is_admin
          ? "Admin"
          : state.who.name + " · " + state.who.feed;
        $("sd-admin").hidden = !state.who.is_admin;
        $("sd-origins-form").hidden = !state.who.is_admin;
        $("sd-feed-field").hidden = !state.who.is_admin;
        $("sd-status-hint").hidden = state.who.is_admin;
        $("sd-status-toggle").disabled = !state.who.is_admin;
        return loadFeeds().then(function () {
          // Move to the composer unless the user has already gone somewhere else.
          var active = document.activeElement;
          if (!active || active === document.body || $("sd-signin").contains(active)) $("sd-body").focus();
        });
      },
      function (err) {
        state.token = null;
        set("session", TOKEN_KEY, null);
        if (quiet && err.status === 0) {
          $("sd-signin-error").textContent = OFFLINE;
          return;
        }
        $("sd-signin-error").textContent =
          err.status === 401 ? "That token is not valid, or it was revoked." : explain(err);
        $("sd-token").focus();
      }
    );
  }

  function signOut(message) {
    closeLive();
    state.token = null;
    state.who = null;
    state.feed = null;
    set("session", TOKEN_KEY, null);
    $("sd-app").hidden = true;
    $("sd-who").hidden = true;
    $("sd-conn").hidden = true;
    $("sd-signin").hidden = false;
    $("sd-token").value = "";
    $("sd-signin-error").textContent = message || "";
    $("sd-token").focus();
  }

  // ---- feeds ---------------------------------------------------------------------------------

  function loadFeeds(preferred) {
    var list = state.who.is_admin
      ? api("GET", "/api/feeds").then(function (r) {
          return r.data;
        })
      : api("GET", "/api/feeds/" + encodeURIComponent(state.who.feed)).then(function (r) {
          return [r.data];
        });
    return list.then(function (feeds) {
      state.feeds = feeds;
      var select = $("sd-feed");
      select.replaceChildren();
      feeds.forEach(function (f) {
        var o = document.createElement("option");
        o.value = f.slug;
        o.textContent = f.title + " (" + f.slug + ")" + (f.status === "ended" ? " — ended" : "");
        select.appendChild(o);
      });
      var want = preferred || get("session", FEED_KEY);
      var chosen = feeds.find(function (f) {
        return f.slug === want;
      }) || feeds[0];
      if (!chosen) {
        showFeed(null);
        return;
      }
      select.value = chosen.slug;
      return openFeed(chosen);
    });
  }

  function openFeed(feed) {
    closeLive();
    state.feed = feed;
    state.entries = new Map();
    state.rev = feed.rev;
    set("session", FEED_KEY, feed.slug);
    showFeed(feed);
    restoreDraft();
    return loadEntries(null);
  }

  function showFeed(feed) {
    $("sd-feedcard").hidden = !feed;
    $("sd-compose").hidden = !feed;
    if (!feed) {
      $("sd-entries").replaceChildren();
      $("sd-empty").hidden = false;
      $("sd-empty").textContent = state.who && state.who.is_admin ? "No feeds yet: create one." : "";
      return;
    }
    var badge = $("sd-feed-status");
    badge.className = "lf-status lf-status-" + feed.status;
    badge.textContent = feed.status === "live" ? "Live" : "Ended";
    $("sd-feed-title").textContent = feed.title;
    $("sd-feed-meta").textContent = feed.slug + " · " + feed.locale + " · " + feed.timezone;
    var meta = document.querySelector('meta[name="livefeed-public-url"]');
    var base = (meta && meta.content) || location.origin;
    var reader = base + "/feeds/" + feed.slug;
    $("sd-reader-link").href = reader;
    $("sd-status-toggle").textContent = feed.status === "live" ? "End the live blog" : "Reopen the live blog";
    $("sd-snippet").value =
      '<div data-livefeed="' + reader + '"></div><script async src="' + base + '/embed.js"></' + "script>";
    $("sd-origins").value = (feed.allowed_origins || []).join("\n");
    var option = $("sd-feed").querySelector('option[value="' + feed.slug + '"]');
    if (option) option.textContent = feed.title + " (" + feed.slug + ")" + (feed.status === "ended" ? " — ended" : "");
  }

  function patchFeed(fields, errorEl) {
    return api("PATCH", feedPath(), fields).then(function (res) {
      applyFeed(res.data);
      return res.data;
    }).catch(function (err) {
      showError(errorEl, err);
      throw err;
    });
  }

  function applyFeed(feed) {
    if (!state.feed || feed.slug !== state.feed.slug) return;
    state.feed = feed;
    showFeed(feed);
  }

  // ---- entries -------------------------------------------------------------------------------

  function loadEntries(before) {
    var slug = state.feed.slug;
    var q = "?limit=" + PAGE + (before ? "&before=" + before : "");
    var more = $("sd-more");
    more.setAttribute("aria-busy", "true");
    return api("GET", feedPath("/entries" + q)).then(
      function (res) {
        more.removeAttribute("aria-busy");
        if (!state.feed || state.feed.slug !== slug) return;
        res.data.entries.forEach(function (e) {
          var known = state.entries.get(e.id);
          if (!known || known.rev < e.rev) state.entries.set(e.id, e);
        });
        state.nextBefore = res.data.next_before;
        if (!before) {
          state.rev = Math.max(state.rev, res.data.rev);
          openLive();
        }
        renderEntries();
      },
      function (err) {
        more.removeAttribute("aria-busy");
        showError(null, err);
      }
    );
  }

  function sorted() {
    return Array.from(state.entries.values())
      .filter(function (e) {
        return !e.deleted;
      })
      .sort(function (a, b) {
        var ta = Date.parse(a.published_at);
        var tb = Date.parse(b.published_at);
        return ta !== tb ? tb - ta : b.id - a.id;
      });
  }

  function when(e) {
    var d = new Date(e.published_at);
    try {
      var opts = { timeZone: state.feed.timezone, day: "numeric", month: "short" };
      if (e.has_time !== false) {
        opts.hour = "2-digit";
        opts.minute = "2-digit";
      }
      return new Intl.DateTimeFormat(state.feed.locale, opts).format(d);
    } catch (err) {
      return d.toLocaleString();
    }
  }

  function renderEntry(e, node) {
    node = node || $("sd-entry-tpl").content.firstElementChild.cloneNode(true);
    node.id = "sd-entry-" + e.id;
    node.setAttribute("data-id", String(e.id));
    node.classList.toggle("is-pinned", !!e.pinned);
    node.classList.toggle("is-key", !!e.key_event);
    var t = node.querySelector("time");
    t.dateTime = e.published_at;
    t.textContent = when(e);
    var author = node.querySelector(".sd-entry-author");
    author.textContent = e.author || "";
    author.hidden = !e.author;
    node.querySelector(".lf-badge-pinned").hidden = !e.pinned;
    node.querySelector(".lf-badge-key").hidden = !e.key_event;
    if (!node.classList.contains("is-editing")) {
      // `html` is sanitized by the server (app/render.py).
      node.querySelector(".sd-entry-body").innerHTML = e.html;
    }
    var pin = node.querySelector('[data-act="pin"]');
    pin.setAttribute("aria-pressed", e.pinned ? "true" : "false");
    pin.textContent = e.pinned ? "Unpin" : "Pin";
    var key = node.querySelector('[data-act="key"]');
    key.setAttribute("aria-pressed", e.key_event ? "true" : "false");
    node.querySelectorAll("[data-act]").forEach(function (b) {
      var label = b.textContent + ": " + (e.body.length > 40 ? e.body.slice(0, 40) + "…" : e.body);
      b.setAttribute("aria-label", label);
    });
    return node;
  }

  function renderEntries() {
    var list = $("sd-entries");
    var items = sorted();
    var focusedId = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest(".sd-entry")
      : null;
    var keep = new Map();
    list.querySelectorAll(":scope > .sd-entry").forEach(function (n) {
      keep.set(Number(n.getAttribute("data-id")), n);
    });
    var frag = [];
    items.forEach(function (e) {
      var node = renderEntry(e, keep.get(e.id));
      keep.delete(e.id);
      frag.push(node);
    });
    keep.forEach(function (n) {
      n.remove();
    });
    // Re-order in place (moving nodes keeps an editor's focus and text).
    frag.forEach(function (node, i) {
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
    });
    if (focusedId && !focusedId.isConnected) $("sd-body").focus();
    $("sd-empty").hidden = items.length > 0;
    $("sd-empty").textContent = "Nothing published yet.";
    $("sd-count").textContent = items.length ? "(" + items.length + (state.nextBefore ? "+" : "") + ")" : "";
    $("sd-more").hidden = !state.nextBefore;
  }

  function upsert(e) {
    if (!e || (state.feed && e.feed !== state.feed.slug)) return;
    var known = state.entries.get(e.id);
    if (known && known.rev > e.rev) return;
    if (e.deleted) state.entries.delete(e.id);
    else {
      if (e.pinned) {
        // The server keeps a single pinned entry; mirror it until the events arrive.
        state.entries.forEach(function (other) {
          if (other.id !== e.id && other.pinned) other.pinned = false;
        });
      }
      state.entries.set(e.id, e);
    }
    renderEntries();
  }

  function entryAction(id, act, button) {
    var e = state.entries.get(id);
    if (!e) return;
    if (act === "edit") return startEdit(id);
    if (act === "delete") {
      return confirmDialog("Delete this update? Readers will see it disappear.", "Delete").then(function (ok) {
        if (!ok) return;
        return api("DELETE", feedPath("/entries/" + id)).then(
          function () {
            state.entries.delete(id);
            renderEntries();
            toast("Update deleted.");
            $("sd-body").focus();
          },
          function (err) {
            showError(null, err);
          }
        );
      });
    }
    var fields = act === "pin" ? { pinned: !e.pinned } : { key_event: !e.key_event };
    button.setAttribute("aria-busy", "true");
    return api("PATCH", feedPath("/entries/" + id), fields).then(
      function (res) {
        button.removeAttribute("aria-busy");
        upsert(res.data);
        toast(act === "pin" ? (res.data.pinned ? "Pinned to the top." : "Unpinned.") : res.data.key_event ? "Marked as key event." : "No longer a key event.");
      },
      function (err) {
        button.removeAttribute("aria-busy");
        showError(null, err);
      }
    );
  }

  function startEdit(id) {
    var node = $("sd-entry-" + id);
    var e = state.entries.get(id);
    if (!node || !e || node.classList.contains("is-editing")) return;
    node.classList.add("is-editing");
    var body = node.querySelector(".sd-entry-body");
    body.replaceChildren();
    var label = document.createElement("label");
    label.className = "sd-label";
    label.textContent = "Edit update";
    label.htmlFor = "sd-edit-" + id;
    var area = document.createElement("textarea");
    area.id = "sd-edit-" + id;
    area.className = "sd-edit";
    area.rows = Math.min(12, Math.max(3, e.body.split("\n").length + 1));
    area.value = e.body;
    var error = document.createElement("p");
    error.className = "sd-error";
    error.setAttribute("role", "alert");
    var row = document.createElement("div");
    row.className = "sd-edit-actions";
    var save = document.createElement("button");
    save.type = "button";
    save.className = "sd-btn sd-btn-primary sd-btn-small";
    save.textContent = "Save";
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "sd-btn sd-btn-small";
    cancel.textContent = "Cancel";
    row.append(save, cancel);
    body.append(label, area, error, row);
    area.focus();

    function finish() {
      node.classList.remove("is-editing");
      var current = state.entries.get(id);
      if (current) renderEntry(current, node);
      var editButton = node.querySelector('[data-act="edit"]');
      if (editButton) editButton.focus();
    }
    function submit() {
      if (!area.value.trim()) {
        error.textContent = "An update cannot be empty. Delete it instead.";
        return;
      }
      save.disabled = true;
      save.setAttribute("aria-busy", "true");
      api("PATCH", feedPath("/entries/" + id), { body: area.value }).then(
        function (res) {
          state.entries.set(id, res.data);
          finish();
          renderEntries();
          toast("Update saved.");
        },
        function (err) {
          save.disabled = false;
          save.removeAttribute("aria-busy");
          error.textContent = explain(err);
        }
      );
    }
    save.addEventListener("click", submit);
    cancel.addEventListener("click", finish);
    area.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        submit();
      } else if (ev.key === "Escape") {
        ev.preventDefault();
        finish();
      }
    });
  }

  // ---- live updates of the list ---------------------------------------------------------------

  function setConn(s) {
    var el = $("sd-conn");
    el.hidden = s === "idle";
    el.setAttribute("data-state", s);
    el.querySelector(".sd-conn-text").textContent =
      { live: "Live", reconnecting: "Reconnecting…", offline: "Offline" }[s] || "";
  }

  function openLive() {
    closeLive();
    if (!state.feed) return;
    var slug = state.feed.slug;
    var url = new URL("/ws/feeds/" + encodeURIComponent(slug), location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("since", String(state.rev));
    var ws;
    try {
      ws = new WebSocket(url.toString());
    } catch (e) {
      return scheduleLive();
    }
    state.ws = ws;
    ws.onopen = function () {
      state.wsAttempt = 0;
      setConn("live");
    };
    ws.onmessage = function (msg) {
      var ev;
      try {
        ev = JSON.parse(msg.data);
      } catch (e) {
        return;
      }
      if (!state.feed || state.feed.slug !== slug) return;
      if (ev.type === "hello" || typeof ev.rev !== "number" || ev.rev <= state.rev) return;
      state.rev = ev.rev;
      if (ev.type === "entry") {
        if (ev.op === "deleted") {
          state.entries.delete(ev.entry.id);
          renderEntries();
        } else upsert(ev.entry);
      } else if (ev.type === "feed") {
        applyFeed(ev.feed);
      } else if (ev.type === "reset") {
        state.entries = new Map();
        loadEntries(null);
      }
    };
    ws.onclose = function () {
      if (state.ws !== ws) return;
      state.ws = null;
      scheduleLive();
    };
  }

  function scheduleLive() {
    if (!state.feed || !state.token) return;
    setConn(navigator.onLine === false ? "offline" : "reconnecting");
    var cap = Math.min(15000, 500 * Math.pow(2, state.wsAttempt));
    state.wsAttempt = Math.min(state.wsAttempt + 1, 8);
    window.clearTimeout(state.wsTimer);
    state.wsTimer = window.setTimeout(openLive, cap / 2 + Math.random() * (cap / 2));
  }

  function closeLive() {
    window.clearTimeout(state.wsTimer);
    if (state.ws) {
      var ws = state.ws;
      state.ws = null;
      ws.onclose = ws.onmessage = ws.onopen = null;
      try {
        ws.close(1000);
      } catch (e) {
        /* already closed */
      }
    }
    setConn("idle");
  }

  // ---- drafts and publishing -----------------------------------------------------------------

  function draftKey() {
    return DRAFT_PREFIX + (state.feed ? state.feed.slug : "");
  }

  function readDraft() {
    var raw = get("local", draftKey());
    try {
      return raw ? JSON.parse(raw) : null;
    } catch (e) {
      return null;
    }
  }

  /** Save the composer; the Idempotency-Key lives as long as the draft. */
  function saveDraft() {
    var body = $("sd-body").value;
    var previous = readDraft();
    if (!body.trim()) {
      set("local", draftKey(), null);
      $("sd-draft-state").textContent = "";
      return null;
    }
    var d = {
      body: body,
      pinned: $("sd-pinned").checked,
      key_event: $("sd-key").checked,
      key: previous && previous.key ? previous.key : uuid(),
      // What was last sent with `key` when its outcome is unknown (lost response).
      sent: previous && previous.sent ? previous.sent : null,
    };
    set("local", draftKey(), JSON.stringify(d));
    $("sd-draft-state").textContent = "Draft saved";
    return d;
  }

  function restoreDraft() {
    var d = readDraft();
    $("sd-body").value = d ? d.body : "";
    $("sd-pinned").checked = !!(d && d.pinned);
    $("sd-key").checked = !!(d && d.key_event);
    $("sd-author").value = get("local", AUTHOR_KEY) || "";
    $("sd-compose-error").textContent = "";
    $("sd-draft-state").textContent = d ? "Draft restored" : "";
    schedulePreview(0);
  }

  function schedulePreview(delay) {
    window.clearTimeout(state.previewTimer);
    state.previewTimer = window.setTimeout(renderPreview, delay);
  }

  function renderPreview() {
    var body = $("sd-body").value;
    var out = $("sd-preview");
    var seq = ++state.previewSeq;
    if (!body.trim()) {
      out.innerHTML = "";
      out.setAttribute("data-empty", "Your update, as readers will see it.");
      return;
    }
    out.removeAttribute("data-empty");
    api("POST", "/api/preview", { body: body }).then(
      function (res) {
        if (seq !== state.previewSeq) return;
        out.classList.remove("is-stale");
        // Sanitized by the server with the same renderer as published entries.
        out.innerHTML = res.data.html;
      },
      function (err) {
        if (seq !== state.previewSeq) return;
        out.classList.add("is-stale");
        if (err.status === 401) explain(err);
        else if (err.status === 413) $("sd-compose-error").textContent = explain(err);
      }
    );
  }

  function differs(entry, p) {
    return entry.body !== p.body.trim() || entry.pinned !== p.pinned || entry.key_event !== p.key_event || (entry.author || "") !== (p.author || "");
  }

  function publish() {
    if (state.publishing || !state.feed) return;
    var error = $("sd-compose-error");
    var d = saveDraft();
    if (!d) {
      error.textContent = "Write something first.";
      $("sd-body").focus();
      return;
    }
    error.textContent = "";
    var author = $("sd-author").value.trim();
    set("local", AUTHOR_KEY, author || null);
    var payload = { body: d.body, pinned: d.pinned, key_event: d.key_event };
    if (author) payload.author = author;
    // The server binds a key to its first body (another body → 409). After a lost response,
    // resend exactly what was sent, then bring the entry up to date with a PATCH.
    var first = d.sent || payload;
    d.sent = first;
    set("local", draftKey(), JSON.stringify(d));
    var button = $("sd-publish");
    state.publishing = true;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.textContent = "Publishing…";
    var slug = state.feed.slug;
    api("POST", feedPath("/entries"), first, { "Idempotency-Key": d.key })
      .then(function (res) {
        var entry = res.data;
        if (differs(entry, payload)) {
          return api("PATCH", "/api/feeds/" + slug + "/entries/" + entry.id, payload).then(function (r) {
            return r.data;
          });
        }
        return entry;
      })
      .then(
        function (entry) {
          if (state.feed && state.feed.slug === slug) {
            $("sd-body").value = "";
            $("sd-pinned").checked = false;
            $("sd-key").checked = false;
            set("local", draftKey(), null);
            $("sd-draft-state").textContent = "";
            renderPreview();
            upsert(entry);
          } else {
            set("local", DRAFT_PREFIX + slug, null);
          }
          toast("Published.");
          $("sd-body").focus();
        },
        function (err) {
          error.textContent = explain(err);
          var kept = readDraft();
          if (kept && err.status >= 400 && err.status < 500) {
            // Refused, so not stored: the next attempt may send the current text afresh.
            kept.sent = null;
            set("local", DRAFT_PREFIX + slug, JSON.stringify(kept));
          }
          if (err.status === 0) $("sd-draft-state").textContent = "Draft kept on this device";
        }
      )
      .then(function () {
        state.publishing = false;
        button.disabled = false;
        button.removeAttribute("aria-busy");
        button.textContent = "Publish";
      });
  }

  // ---- dialogs and copying -------------------------------------------------------------------

  function confirmDialog(text, okLabel) {
    var dialog = $("sd-confirm");
    $("sd-confirm-text").textContent = text;
    $("sd-confirm-ok").textContent = okLabel;
    var opener = document.activeElement;
    return new Promise(function (resolve) {
      if (typeof dialog.showModal !== "function") {
        resolve(window.confirm(text));
        return;
      }
      dialog.returnValue = "cancel";
      dialog.addEventListener(
        "close",
        function () {
          if (opener && opener.isConnected && opener.focus) opener.focus();
          resolve(dialog.returnValue === "ok");
        },
        { once: true }
      );
      dialog.showModal();
      $("sd-confirm-cancel").focus();
    });
  }

  function copy(id, button) {
    var field = $(id);
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      toast("Copied to the clipboard.");
      window.setTimeout(function () {
        button.textContent = label;
      }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        field.select();
        if (document.execCommand("copy")) done();
      });
    } else {
      field.select();
      if (document.execCommand("copy")) done();
    }
  }

  // ---- wiring --------------------------------------------------------------------------------

  function boot() {
    $("sd-signin-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var token = $("sd-token").value.trim();
      if (!token) {
        $("sd-signin-error").textContent = "Paste the token you were given.";
        $("sd-token").focus();
        return;
      }
      $("sd-signin-error").textContent = "";
      var button = $("sd-signin-submit");
      button.disabled = true;
      signIn(token).then(function () {
        button.disabled = false;
      });
    });
    $("sd-signout").addEventListener("click", function () {
      signOut("Signed out.");
    });
    $("sd-banner-close").addEventListener("click", function () {
      banner("");
    });
    $("sd-feed").addEventListener("change", function () {
      var slug = $("sd-feed").value;
      var feed = state.feeds.find(function (f) {
        return f.slug === slug;
      });
      if (feed) {
        api("GET", "/api/feeds/" + encodeURIComponent(slug)).then(
          function (r) {
            openFeed(r.data);
          },
          function (err) {
            showError(null, err);
          }
        );
      }
    });
    $("sd-status-toggle").addEventListener("click", function () {
      if (!state.feed) return;
      var ending = state.feed.status === "live";
      var go = ending
        ? confirmDialog("End this live blog? Readers will see it has ended; you can reopen it later.", "End live blog")
        : Promise.resolve(true);
      go.then(function (ok) {
        if (!ok) return;
        patchFeed({ status: ending ? "ended" : "live" }, null).then(function () {
          toast(ending ? "The live blog has ended." : "The live blog is live again.");
        }, function () {});
      });
    });

    var body = $("sd-body");
    body.addEventListener("input", function () {
      saveDraft();
      schedulePreview(250);
    });
    ["sd-pinned", "sd-key"].forEach(function (id) {
      $(id).addEventListener("change", saveDraft);
    });
    $("sd-author").addEventListener("change", function () {
      set("local", AUTHOR_KEY, $("sd-author").value.trim() || null);
    });
    $("sd-compose").addEventListener("submit", function (ev) {
      ev.preventDefault();
      publish();
    });
    $("sd-compose").addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        publish();
      }
    });
    $("sd-entries").addEventListener("click", function (ev) {
      var b = ev.target.closest("button[data-act]");
      if (!b) return;
      var li = b.closest(".sd-entry");
      entryAction(Number(li.getAttribute("data-id")), b.getAttribute("data-act"), b);
    });
    $("sd-more").addEventListener("click", function () {
      if (state.nextBefore) loadEntries(state.nextBefore);
    });
    document.querySelectorAll("[data-copy]").forEach(function (b) {
      b.addEventListener("click", function () {
        copy(b.getAttribute("data-copy"), b);
      });
    });

    $("sd-origins-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var origins = $("sd-origins").value.split(/[\s,]+/).filter(Boolean);
      $("sd-origins-error").textContent = "";
      patchFeed({ allowed_origins: origins }, $("sd-origins-error")).then(function () {
        toast(origins.length ? "Only these sites may embed the feed." : "Any site may embed the feed.");
      }, function () {});
    });
    $("sd-newfeed-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = $("sd-newfeed-error");
      err.textContent = "";
      var data = {
        slug: $("sd-nf-slug").value.trim(),
        title: $("sd-nf-title").value.trim(),
        description: $("sd-nf-description").value.trim(),
        locale: $("sd-nf-locale").value.trim() || "en-GB",
        timezone: $("sd-nf-timezone").value.trim() || "UTC",
      };
      if (!data.slug || !data.title) {
        err.textContent = "A feed needs a slug and a title.";
        return;
      }
      api("POST", "/api/feeds", data).then(
        function (res) {
          $("sd-nf-slug").value = "";
          $("sd-nf-title").value = "";
          $("sd-nf-description").value = "";
          toast("Feed “" + res.data.title + "” created.");
          loadFeeds(res.data.slug);
        },
        function (e) {
          err.textContent = e.status === 409 ? "That slug is taken: " + e.detail : explain(e);
        }
      );
    });
    $("sd-token-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = $("sd-token-error");
      err.textContent = "";
      $("sd-token-out").hidden = true;
      var name = $("sd-tk-name").value.trim();
      if (!name) {
        err.textContent = "Give the token a name, e.g. the reporter’s.";
        return;
      }
      api("POST", feedPath("/tokens"), { name: name }).then(
        function (res) {
          $("sd-token-value").value = res.data.token;
          $("sd-token-out").hidden = false;
          $("sd-tk-name").value = "";
          $("sd-token-value").focus();
          $("sd-token-value").select();
        },
        function (e) {
          err.textContent = explain(e);
        }
      );
    });

    window.addEventListener("offline", function () {
      banner("You’re offline. Keep writing: your draft is saved on this device.");
      setConn("offline");
    });
    window.addEventListener("online", function () {
      banner("");
      if (state.feed && state.token) {
        state.wsAttempt = 0;
        openLive();
      }
    });
    // Another tab signed this browser's draft away, or restored one: follow it.
    window.addEventListener("storage", function (ev) {
      if (ev.key === draftKey() && document.activeElement !== body) restoreDraft();
    });

    var token = get("session", TOKEN_KEY);
    if (token) signIn(token, true);
    else $("sd-token").focus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
