// The dashboard's charts (Chart.js, static/vendor): data from the session-authenticated
// /dashboard/stats.json, so no inline script is needed under the CSP. The numbers are also on the page.
(function () {
  "use strict";

  var COLORS = { ink: "#1d2733", accent: "#b3261e", ok: "#1e7b3a", info: "#1f5fa8", warn: "#a15c00",
                 muted: "#9aa5b1", grid: "#e6e9ee" };
  var CHANNEL_COLORS = ["#1f5fa8", "#d97706", "#6b7280", "#7c3aed", "#0f766e", "#b3261e", "#c7cdd4"];

  function base(extra) {
    var opts = {
      responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { display: false } },
      scales: { x: { grid: { display: false } }, y: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: COLORS.grid } } }
    };
    return Object.assign(opts, extra || {});
  }

  function weekLabel(iso) { return iso.slice(5); }  // MM-DD of the week's Monday

  function draw(data) {
    var L = data.labels, Chart = window.Chart;
    var weeks = data.weeks.map(function (w) { return weekLabel(w.week_start); });

    new Chart(document.getElementById("chart-arrivals"), {
      type: "bar",
      data: { labels: weeks, datasets: [{ label: L.series.arrivals, data: data.weeks.map(function (w) { return w.arrivals; }),
                                          backgroundColor: COLORS.info }] },
      options: base()
    });

    new Chart(document.getElementById("chart-outcomes"), {
      type: "line",
      data: { labels: weeks, datasets: [
        { label: L.series.identified, data: data.weeks.map(function (w) { return w.identified; }),
          borderColor: COLORS.warn, backgroundColor: COLORS.warn, tension: 0.2 },
        { label: L.series.returns_all, data: data.weeks.map(function (w) { return w.returned; }),
          borderColor: COLORS.ok, backgroundColor: COLORS.ok, tension: 0.2 }] },
      options: base({ plugins: { legend: { display: true, position: "bottom" } } })
    });

    var channels = data.channels.filter(function (c) { return c.identified > 0 || c.channel !== "unrecorded"; });
    new Chart(document.getElementById("chart-channels"), {
      type: "bar",
      data: { labels: channels.map(function (c) { return L.channels[c.channel] || c.channel; }),
              datasets: [{ label: L.series.identified, data: channels.map(function (c) { return c.identified; }),
                           backgroundColor: channels.map(function (_c, i) { return CHANNEL_COLORS[i % CHANNEL_COLORS.length]; }) },
                         { label: L.series.returned, data: channels.map(function (c) { return c.returned; }),
                           backgroundColor: COLORS.ok }] },
      options: base({ plugins: { legend: { display: true, position: "bottom" } } })
    });

    new Chart(document.getElementById("chart-stranded"), {
      type: "bar",
      data: { labels: data.stranded_days.map(function (b) { return b.bucket; }),
              datasets: [{ label: L.series.open_cases, data: data.stranded_days.map(function (b) { return b.count; }),
                           backgroundColor: data.stranded_days.map(function (b) { return b.min > 10 ? COLORS.accent : COLORS.muted; }) }] },
      options: base()
    });

    new Chart(document.getElementById("chart-precision"), {
      type: "bar",
      data: { labels: data.face_precision.map(function (b) { return L.bands[b.band] || b.band; }),
              datasets: [{ label: L.series.precision,
                           data: data.face_precision.map(function (b) { return b.precision === null ? null : Math.round(b.precision * 100); }),  // no review yet: no bar
                           backgroundColor: [COLORS.ok, COLORS.warn] }] },
      options: base({ scales: { x: { grid: { display: false } },
                                y: { beginAtZero: true, max: 100, ticks: { callback: function (v) { return v + "%"; } } } },
                      plugins: { legend: { display: false }, tooltip: { callbacks: {
                        label: function (ctx) {
                          var b = data.face_precision[ctx.dataIndex];
                          return ctx.parsed.y + "% (" + b.confirmed + " / " + b.reviewed + ")";
                        } } } } })
    });

    var provinces = data.gallery_coverage.slice(0, 15);
    new Chart(document.getElementById("chart-coverage"), {
      type: "bar",
      data: { labels: provinces.map(function (p) { return L.provinces[p.province] || p.province; }),
              datasets: [{ label: L.series.reports, data: provinces.map(function (p) { return p.reports; }), backgroundColor: COLORS.info },
                         { label: L.series.open_reports, data: provinces.map(function (p) { return p.open; }), backgroundColor: COLORS.muted }] },
      options: base({ indexAxis: "y", plugins: { legend: { display: true, position: "bottom" } },
                      scales: { x: { beginAtZero: true, ticks: { precision: 0 } },
                                y: { grid: { display: false }, ticks: { autoSkip: false } } } })
    });
  }

  function start() {
    var box = document.getElementById("dashboard-charts"), status = document.getElementById("charts-status");
    if (!box) return;
    function failed() { if (status) status.textContent = status.getAttribute("data-failed"); }
    if (!window.Chart) { failed(); return; }
    fetch(box.getAttribute("data-stats-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) { draw(data); box.setAttribute("data-ready", "1"); })
      .catch(failed);
  }

  if (document.readyState !== "loading") start(); else document.addEventListener("DOMContentLoaded", start);
})();
