/* Charts of the analytics page and of a campaign page, drawn with the vendored Chart.js
 * (static/vendor/chart.umd.min.js, window.Chart). The numbers come from the page
 * (json_script "analytics-data"), computed by apps.campaigns.analytics; each
 * <canvas data-chart="…"> gets its chart. Nothing is fetched.
 */
(function () {
  "use strict";

  var PALETTE = {
    queued: "#98a2b3",
    sending: "#53b1fd",
    sent: "#2e90fa",
    delivered: "#12b76a",
    read: "#039855",
    failed: "#f04438",
    invalid_number: "#f79009",
    skipped_opted_out: "#d0d5dd",
    skipped_suppressed: "#bfc5cd",
    uncertain: "#fdb022",
    held: "#b692f6",
    cancelled: "#667085",
  };
  var FALLBACK = ["#2e90fa", "#12b76a", "#f79009", "#f04438", "#7a5af8", "#667085"];

  function color(key, index) {
    return PALETTE[key] || FALLBACK[index % FALLBACK.length];
  }

  function readData() {
    var node = document.getElementById("analytics-data");
    if (!node) return null;
    try {
      return JSON.parse(node.textContent);
    } catch (error) {
      return null;
    }
  }

  function draw(canvas, config) {
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options);
    canvas.chart = new window.Chart(canvas, config);
  }

  var builders = {
    daily: function (data) {
      return {
        type: "bar",
        data: {
          labels: data.daily.labels,
          datasets: data.daily.series.map(function (series, index) {
            return { label: series.label, data: series.values, backgroundColor: color(series.state, index) };
          }),
        },
        options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
      };
    },
    growth: function (data) {
      return {
        type: "line",
        data: {
          labels: data.growth.labels,
          datasets: [
            { label: data.names.total, data: data.growth.total, borderColor: "#2e90fa", yAxisID: "y" },
            { label: data.names.added, data: data.growth.added, borderColor: "#12b76a", yAxisID: "y1", type: "bar" },
          ],
        },
        options: { scales: { y: { beginAtZero: true }, y1: { beginAtZero: true, position: "right" } } },
      };
    },
    throughput: function (data) {
      return {
        type: "line",
        data: {
          labels: data.throughput.labels,
          datasets: [
            { label: data.names.sent, data: data.throughput.sent, borderColor: color("sent", 0) },
            { label: data.names.failed, data: data.throughput.failed, borderColor: color("failed", 1) },
          ],
        },
        options: { scales: { y: { beginAtZero: true } } },
      };
    },
    states: function (data) {
      return {
        type: "doughnut",
        data: {
          labels: data.states.labels,
          datasets: [
            {
              label: data.names.messages,
              data: data.states.values,
              backgroundColor: data.states.labels.map(function (label, index) {
                return FALLBACK[index % FALLBACK.length];
              }),
            },
          ],
        },
      };
    },
  };

  function start() {
    var data = readData();
    if (!data || typeof window.Chart !== "function") return;
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var build = builders[canvas.getAttribute("data-chart")];
      if (build) draw(canvas, build(data));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
