// Overview charts: the figures come from the page (json_script), the colours from app.css.
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var css = getComputedStyle(document.documentElement);
  var font = css.getPropertyValue("--font").trim() || "system-ui, sans-serif";
  var text = css.getPropertyValue("--text").trim() || "#1c2430";
  var muted = css.getPropertyValue("--muted").trim() || "#556170";

  Chart.defaults.font.family = font;
  Chart.defaults.color = muted;
  Chart.defaults.animation = window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : Chart.defaults.animation;

  function stateColor(state) {
    return css.getPropertyValue("--state-" + state.toLowerCase()).trim() || "#9aa5b1";
  }
  document.querySelectorAll("[data-state-color]").forEach(function (swatch) {
    swatch.style.background = stateColor(swatch.getAttribute("data-state-color"));
  });

  function labels(rows) { return rows.map(function (row) { return row[0]; }); }
  // Bar labels carry their number, so nobody has to hover to read a bar.
  function labelled(rows) {
    return rows.map(function (row) { return row[0] + "  " + Number(row[1]).toLocaleString("en-US"); });
  }
  function values(rows) { return rows.map(function (row) { return row[1]; }); }

  var states = document.getElementById("chart-states");
  if (states) {
    var shown = data.states.filter(function (row) { return row[1] > 0; });
    new Chart(states, {
      type: "doughnut",
      data: {
        labels: labels(shown),
        datasets: [{
          data: values(shown),
          backgroundColor: labels(shown).map(stateColor),
          borderColor: "#ffffff",
          borderWidth: 2
        }]
      },
      options: {
        maintainAspectRatio: false,
        cutout: "62%",
        plugins: { legend: { display: false } }
      }
    });
  }

  function bars(canvas, rows, colour) {
    if (!canvas) return;
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: labelled(rows),
        datasets: [{ data: values(rows), backgroundColor: colour, borderRadius: 4, maxBarThickness: 18 }]
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: "#eef1f4" } },
          y: { ticks: { color: text, autoSkip: false }, grid: { display: false } }
        }
      }
    });
  }
  bars(document.getElementById("chart-reasons"), data.reasons, css.getPropertyValue("--primary").trim());
  bars(document.getElementById("chart-dispositions"), data.dispositions, css.getPropertyValue("--state-running").trim());
})();
