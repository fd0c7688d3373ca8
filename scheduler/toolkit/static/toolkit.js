// The supporter toolkit's page, made better with JavaScript (without it, every text, link and name shows):
// the visitor's own time, a live countdown, copy buttons, the Mastodon server chooser (remembered in this
// browser's localStorage only), and the endorsers' search. It sends nothing anywhere.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  var STORAGE_KEY = "stormcaller.mastodon-instance";

  function show(element) { if (element) { element.hidden = false; } }

  // --- the visitor's own time -----------------------------------------------------------------------------
  function localTime() {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    document.querySelectorAll("time[data-local]").forEach(function (element) {
      var instant = new Date(element.getAttribute("datetime"));
      if (isNaN(instant.getTime())) { return; }
      var shown = new Intl.DateTimeFormat(lang, {dateStyle: "full", timeStyle: "short", timeZone: zone});
      element.textContent = shown.format(instant) + " (" + zone + ")";
      var parts = {};
      new Intl.DateTimeFormat("en-CA", {timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23"}).formatToParts(instant).forEach(function (part) {
        parts[part.type] = part.value;
      });
      element.setAttribute("data-zone", zone);
      element.setAttribute("data-wall-clock",
        parts.year + "-" + parts.month + "-" + parts.day + "T" + parts.hour + ":" + parts.minute);
    });
  }

  // --- the countdown --------------------------------------------------------------------------------------
  function left(ms) {
    var seconds = Math.floor(ms / 1000);
    var units = [["day", Math.floor(seconds / 86400)], ["hour", Math.floor((seconds % 86400) / 3600)],
                 ["minute", Math.floor((seconds % 3600) / 60)], ["second", seconds % 60]];
    var shown = units.filter(function (unit, index) { return unit[1] > 0 || index === units.length - 1; })
      .map(function (unit) {
        return new Intl.NumberFormat(lang, {style: "unit", unit: unit[0], unitDisplay: "long"}).format(unit[1]);
      });
    return typeof Intl.ListFormat === "function" ?
      new Intl.ListFormat(lang, {style: "narrow", type: "unit"}).format(shown) : shown.join(" ");
  }

  function countdown() {
    var elements = document.querySelectorAll("[data-countdown]");
    function tick() {
      var now = Date.now();
      elements.forEach(function (element) {
        var start = Date.parse(element.getAttribute("data-countdown"));
        if (isNaN(start)) { return; }
        element.textContent = start <= now ? element.getAttribute("data-started") :
          element.getAttribute("data-before") + ": " + left(start - now);
        show(element);
      });
    }
    if (elements.length) { tick(); setInterval(tick, 1000); }
  }

  // --- copy buttons ---------------------------------------------------------------------------------------
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var done = false;
    try { done = document.execCommand("copy"); } catch (error) { done = false; }
    document.body.removeChild(area);
    return done;
  }

  function copyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var label = button.textContent;
      button.addEventListener("click", function () {
        var text = button.getAttribute("data-copy");
        var copied = function () {
          button.textContent = button.getAttribute("data-copied");
          setTimeout(function () { button.textContent = label; }, 2000);
        };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(text).then(copied, function () { if (fallbackCopy(text)) { copied(); } });
        } else if (fallbackCopy(text)) {
          copied();
        }
      });
      show(button);
    });
  }

  // --- the Mastodon server --------------------------------------------------------------------------------
  // What a person may type: "kolektiva.social", "https://kolektiva.social/", "@me@kolektiva.social".
  function hostOf(typed) {
    var value = (typed || "").trim().toLowerCase().replace(/^https?:\/\//, "").replace(/\/.*$/, "");
    value = value.slice(value.lastIndexOf("@") + 1);
    return /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(:[0-9]{1,5})?$/.test(value) ? value : null;
  }

  function remembered() {
    try { return window.localStorage.getItem(STORAGE_KEY); } catch (error) { return null; }
  }

  function remember(host) {
    try { window.localStorage.setItem(STORAGE_KEY, host); } catch (error) { /* storage off: this visit only */ }
  }

  function pointLinksAt(host) {
    document.querySelectorAll("a[data-instance-link]").forEach(function (link) {
      var url = new URL(link.href);
      url.host = host;
      link.href = url.toString();
    });
  }

  function instanceChooser() {
    var input = document.getElementById("instance");
    if (!input) { return; }
    var saved = hostOf(remembered());
    if (saved) { input.value = saved; pointLinksAt(saved); }
    input.addEventListener("input", function () {
      var host = hostOf(input.value);
      input.setAttribute("aria-invalid", input.value.trim() && !host ? "true" : "false");
      if (host) { remember(host); pointLinksAt(host); }
    });
    show(input.closest(".instance"));
  }

  // --- the endorsers' search ------------------------------------------------------------------------------
  function folded(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function endorserSearch() {
    var input = document.getElementById("endorser-search");
    var list = document.getElementById("endorsers");
    if (!input || !list) { return; }
    input.addEventListener("input", function () {
      var wanted = folded(input.value.trim());
      list.querySelectorAll("li").forEach(function (item) {
        item.hidden = wanted !== "" && folded(item.textContent).indexOf(wanted) === -1;
      });
    });
    show(input.closest(".search"));
  }

  localTime();
  countdown();
  copyButtons();
  instanceChooser();
  endorserSearch();
}());
