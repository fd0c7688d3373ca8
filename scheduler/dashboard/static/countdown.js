// Live countdowns: every element with data-start (an ISO timestamp) shows the time left, once a second.
// Without JavaScript the page shows the start time itself, in UTC and in each announced zone.
(function () {
  "use strict";
  function left(ms) {
    if (ms <= 0) { return "started"; }
    var s = Math.floor(ms / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), sec = s % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return "in " + (d > 0 ? d + " d " : "") + two(h) + ":" + two(m) + ":" + two(sec);
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-start]").forEach(function (el) {
      var start = Date.parse(el.getAttribute("data-start"));
      if (!isNaN(start)) { el.textContent = left(start - now); }
    });
  }
  tick();
  setInterval(tick, 1000);
}());
