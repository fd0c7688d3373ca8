/* The live storm page: rows, counts, the needs-a-person banner and the chart follow the storm's event
   stream (server-sent events); no inline script (the page's CSP allows none). */
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) { return; }
  var views = new Map();
  var start = Date.parse(root.dataset.start);
  var status = document.getElementById("live-status");
  var tbody = document.querySelector("#live-posts tbody");
  var PLATFORMS = { x: { stroke: "#1b1f24", dash: [] }, mastodon: { stroke: "#5b3cc4", dash: [6, 3] },
                    bluesky: { stroke: "#0b6bcb", dash: [2, 2] } };
  var chart = null;
  var chartPlatforms = [];

  function say(text) { status.textContent = text; }

  function cell(label, className) {
    var td = document.createElement("td");
    td.dataset.label = label;
    if (className) { td.className = className; }
    return td;
  }

  function stateBadge(state) {
    var span = document.createElement("span");
    span.className = "state state-" + state;
    span.textContent = state;
    return span;
  }

  function isWebLink(url) { return typeof url === "string" && /^https?:\/\//.test(url); }

  function fillRow(tr, view) {
    tr.id = view.anchor;
    tr.dataset.view = JSON.stringify(view);
    tr.textContent = "";
    var account = cell("Account"); account.textContent = view.account;
    var platform = cell("Platform"); platform.textContent = view.platform_name;
    var planned = cell("Planned"); var time = document.createElement("time");
    time.dateTime = view.planned_at; time.textContent = view.planned; planned.appendChild(time);
    var state = cell("State"); state.appendChild(stateBadge(view.state));
    var lateness = cell("Lateness", "num"); lateness.textContent = view.lateness || "";
    var outcome = cell("Link or words", "outcome");
    if (isWebLink(view.link)) {
      var a = document.createElement("a");
      a.href = view.link; a.rel = "noreferrer noopener"; a.target = "_blank"; a.textContent = view.link;
      outcome.appendChild(a);
    } else if (view.url) {
      var plain = document.createElement("span"); plain.className = "mono"; plain.textContent = view.url;
      outcome.appendChild(plain);
    }
    if (view.words) {
      var words = document.createElement("span"); words.className = "words"; words.textContent = view.words;
      outcome.appendChild(words);
    }
    if (view.resolve) {
      var link = document.createElement("a");
      link.href = "#resolve-" + view.anchor; link.textContent = "Resolve";
      outcome.appendChild(document.createTextNode(" ")); outcome.appendChild(link);
    }
    [account, platform, planned, state, lateness, outcome].forEach(function (td) { tr.appendChild(td); });
  }

  /* What a person sees change in a row (the page's and the stream's JSON order their keys differently). */
  function signature(view) {
    return [view.state, view.attempts, view.url, view.words, view.lateness].join("|");
  }

  function placeRow(view) {
    var tr = document.getElementById(view.anchor);
    if (!tr) {
      tr = document.createElement("tr");
      var after = null;
      Array.prototype.forEach.call(tbody.rows, function (row) {
        var other = JSON.parse(row.dataset.view);
        if (other.planned_at <= view.planned_at) { after = row; }
      });
      tbody.insertBefore(tr, after ? after.nextSibling : tbody.firstChild);
      fillRow(tr, view);
      tr.classList.add("changed");
      return;
    }
    var before = signature(JSON.parse(tr.dataset.view));
    fillRow(tr, view);
    if (before !== signature(view)) {
      tr.classList.remove("changed"); void tr.offsetWidth; tr.classList.add("changed");
    }
  }

  function updateCounts() {
    var counts = {};
    views.forEach(function (view) { counts[view.state] = (counts[view.state] || 0) + 1; });
    var list = document.getElementById("live-counts");
    list.textContent = "";
    Object.keys(counts).sort().forEach(function (state) {
      var li = document.createElement("li");
      li.appendChild(stateBadge(state));
      li.appendChild(document.createTextNode(" " + counts[state]));
      list.appendChild(li);
    });
    var pending = document.getElementById("pending-count");
    if (pending) { pending.textContent = String(counts.pending || 0); }
  }

  function resolveForm(view) {
    var existing = document.getElementById("resolve-" + view.anchor);
    if (existing) { return existing; }
    var template = document.getElementById("resolve-template");
    var form = template.content.querySelector("form").cloneNode(true);
    form.id = "resolve-" + view.anchor;
    form.action = view.resolve;
    form.querySelector("legend").textContent = view.id + ": " + view.account + " on " + view.platform_name;
    form.querySelector(".text").textContent = view.text;
    var words = form.querySelector(".words");
    if (words) { words.textContent = view.words || ""; }
    document.getElementById("resolve-forms").appendChild(form);
    return form;
  }

  function updateReview() {
    var waiting = [];
    views.forEach(function (view) { if (view.state === "needs-review") { waiting.push(view); } });
    var banner = document.getElementById("needs-person");
    document.getElementById("needs-person-count").textContent = String(waiting.length);
    banner.hidden = waiting.length === 0;
    document.getElementById("resolve-none").hidden = waiting.length !== 0;
    var list = document.getElementById("needs-person-list");
    list.textContent = "";
    waiting.forEach(function (view) {
      resolveForm(view);
      var li = document.createElement("li"); var a = document.createElement("a");
      a.href = "#resolve-" + view.anchor; a.textContent = "Resolve " + view.account + " (" + view.platform_name + ")";
      li.appendChild(a); list.appendChild(li);
    });
    document.querySelectorAll("#resolve-forms form").forEach(function (form) {
      var anchor = form.id.replace(/^resolve-/, "");
      var view = null;
      views.forEach(function (v) { if (v.anchor === anchor) { view = v; } });
      if (!view || view.state !== "needs-review") { form.remove(); }
    });
  }

  /* The chart: for each platform, how many posts were sent by each moment (seconds after the start). */
  function chartData() {
    var platforms = [];
    var sent = [];
    views.forEach(function (view) {
      if (platforms.indexOf(view.platform) < 0) { platforms.push(view.platform); }
      if (view.state === "sent" && view.sent_at) {
        sent.push({ at: (Date.parse(view.sent_at) - start) / 1000, platform: view.platform });
      }
    });
    platforms.sort();
    sent.sort(function (a, b) { return a.at - b.at; });
    var xs = [0];
    var series = platforms.map(function () { return [0]; });
    var totals = platforms.map(function () { return 0; });
    sent.forEach(function (point) {
      totals[platforms.indexOf(point.platform)] += 1;
      if (point.at > xs[xs.length - 1]) {
        xs.push(point.at);
        series.forEach(function (values, i) { values.push(totals[i]); });
      } else {
        series.forEach(function (values, i) { values[values.length - 1] = totals[i]; });
      }
    });
    return { platforms: platforms, data: [xs].concat(series) };
  }

  function drawChart() {
    var target = document.getElementById("live-chart");
    if (typeof uPlot === "undefined" || !target) { return; }
    var built = chartData();
    var width = Math.max(240, target.clientWidth || 600);
    if (chart && built.platforms.join() === chartPlatforms.join()) {
      chart.setData(built.data);
      return;
    }
    if (chart) { chart.destroy(); }
    chartPlatforms = built.platforms;
    chart = new uPlot({
      width: width, height: 240,
      scales: { x: { time: false } },
      axes: [{ label: "seconds after the start" }, { label: "posts sent" }],
      series: [{ label: "seconds" }].concat(built.platforms.map(function (name) {
        var look = PLATFORMS[name] || { stroke: "#555e68", dash: [] };
        return { label: name, stroke: look.stroke, dash: look.dash, width: 2,
                 paths: uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined };
      }))
    }, built.data, target);
  }

  var redraw = null;
  function refresh() {
    updateCounts();
    updateReview();
    if (redraw === null) {
      redraw = window.requestAnimationFrame(function () { redraw = null; drawChart(); });
    }
  }

  Array.prototype.forEach.call(tbody.rows, function (row) {
    var view = JSON.parse(row.dataset.view);
    views.set(view.id, view);
  });
  drawChart();
  window.addEventListener("resize", function () {
    var target = document.getElementById("live-chart");
    if (chart && target) { chart.setSize({ width: Math.max(240, target.clientWidth), height: 240 }); }
  });

  if (typeof EventSource === "undefined") { return; }
  var url = root.dataset.events + (root.dataset.cursor ? "?after=" + encodeURIComponent(root.dataset.cursor) : "");
  var source = new EventSource(url);
  say("Connecting to the live feed…");
  source.addEventListener("open", function () { say("Live: posts appear here as they go out."); });
  source.addEventListener("error", function () {
    say(source.readyState === EventSource.CLOSED ? "The live feed stopped: reload the page."
                                                 : "The live feed was interrupted: reconnecting…");
  });
  source.addEventListener("trouble", function (event) {
    var message = JSON.parse(event.data).message;
    say(message || "Live: posts appear here as they go out.");
  });
  source.addEventListener("window", function (event) {
    /* the storm was queued again at another time (a rehearsal starts when its watcher is ready) */
    var moved = JSON.parse(event.data).start;
    start = Date.parse(moved);
    var shown = document.querySelector("#live > p.muted time");
    if (shown) { shown.setAttribute("datetime", moved); shown.textContent = moved.slice(0, 19).replace("T", " ") + " UTC"; }
    refresh();
  });
  source.addEventListener("post", function (event) {
    var view = JSON.parse(event.data);
    views.set(view.id, view);
    placeRow(view);
    refresh();
  });
}());
