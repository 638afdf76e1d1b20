// @ts-check
/*
 * livefeed embed, both ends of one small protocol. No dependencies.
 *
 * On a host page (the snippet): every [data-livefeed="https://LIVEFEED/feeds/SLUG"] gets an
 * iframe of https://LIVEFEED/embed/SLUG once it comes near the viewport. Options:
 * data-limit (entries on the first page), data-theme (light|dark|auto), data-title.
 * The iframe is resized from {type:"livefeed:height"} messages, accepted only from that
 * iframe's window and the livefeed origin of its snippet.
 *
 * Inside the frame (html[data-livefeed-embed]): reports the content height to the parent
 * whenever it changes, and opens links that leave the timeline in a new tab.
 * A classic script (third-party pages load it so), not a module.
 */
/** @typedef {{el: HTMLIFrameElement, origin: string}} Frame */
(function () {
  "use strict";
  var doc = document;
  var MSG = "livefeed:height";

  if (doc.documentElement.hasAttribute("data-livefeed-embed")) {
    inFrame();
    return;
  }
  var win = /** @type {any} */ (window);
  if (win.livefeedEmbed) {
    win.livefeedEmbed.scan(); // the snippet was pasted more than once
    return;
  }

  /** @type {Frame[]} */
  var frames = [];
  var io =
    "IntersectionObserver" in window
      ? new IntersectionObserver(
          function (entries) {
            entries.forEach(function (e) {
              if (e.isIntersecting && io) {
                io.unobserve(e.target);
                mount(e.target);
              }
            });
          },
          { rootMargin: "600px 0px" }
        )
      : null;

  window.addEventListener("message", function (ev) {
    var d = ev.data;
    if (!d || d.type !== MSG) return;
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      if (ev.source === f.el.contentWindow && ev.origin === f.origin) {
        var h = Math.ceil(Number(d.height));
        if (h > 0 && h < 1e5) f.el.style.height = h + "px";
        return;
      }
    }
  });

  /** @param {Element} host */
  function mount(host) {
    var url;
    try {
      url = new URL(host.getAttribute("data-livefeed") || "", doc.baseURI);
    } catch (e) {
      return;
    }
    var m = /^(.*)\/(?:feeds|embed)\/([a-z0-9-]+)\/?$/.exec(url.pathname);
    if (!m || !/^https?:$/.test(url.protocol)) {
      if (window.console) console.warn("livefeed: not a feed URL", url.href);
      return;
    }
    var q = [];
    var limit = parseInt(host.getAttribute("data-limit") || "", 10);
    if (limit > 0) q.push("limit=" + limit);
    var theme = host.getAttribute("data-theme");
    if (theme === "light" || theme === "dark") q.push("theme=" + theme);
    var el = doc.createElement("iframe");
    el.src = url.origin + m[1] + "/embed/" + m[2] + (q.length ? "?" + q.join("&") : "");
    el.title = host.getAttribute("data-title") || "Live blog";
    el.setAttribute("loading", "lazy");
    el.setAttribute("sandbox", "allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox");
    el.setAttribute("scrolling", "no");
    el.style.cssText = "display:block;width:100%;border:0;overflow:hidden;height:" + (host.getAttribute("data-height") || "480") + "px";
    if (theme === "light" || theme === "dark") el.style.colorScheme = theme;
    frames.push({ el: el, origin: url.origin });
    host.replaceChildren(el);
  }

  function scan() {
    var hosts = doc.querySelectorAll("[data-livefeed]");
    for (var i = 0; i < hosts.length; i++) {
      var host = hosts[i];
      if (host.hasAttribute("data-livefeed-mounted")) continue;
      host.setAttribute("data-livefeed-mounted", "");
      if (io) io.observe(host);
      else mount(host);
    }
  }

  win.livefeedEmbed = { scan: scan };
  scan();
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", scan);

  function inFrame() {
    // Links that leave this page open in a new tab instead of inside the frame.
    doc.addEventListener("click", function (ev) {
      var target = /** @type {Element | null} */ (ev.target);
      var a = /** @type {HTMLAnchorElement | null} */ (target && target.closest ? target.closest("a[href]") : null);
      if (!a) return;
      if (a.origin + a.pathname !== location.origin + location.pathname) {
        a.target = "_blank";
        a.rel = "noopener";
      }
    });
    if (window.parent === window) return;
    var last = 0;
    // Heights are not secret, and the host's origin is unknown here: post to any parent.
    function report() {
      var el = doc.querySelector(".lf-embed-frame") || doc.body;
      var h = Math.ceil(el.getBoundingClientRect().height);
      if (h !== last) {
        last = h;
        window.parent.postMessage({ type: MSG, height: h }, "*");
      }
    }
    function start() {
      report();
      if ("ResizeObserver" in window) new ResizeObserver(report).observe(doc.querySelector(".lf-embed-frame") || doc.body);
      doc.addEventListener("livefeed:change", report);
      window.addEventListener("load", report);
    }
    if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", start);
    else start();
  }
})();
