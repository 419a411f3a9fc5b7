/* A contact export's page (templates/contacts/export_detail.html): live progress.
 *
 * The page works without this script (it shows the state it was rendered with and, without
 * JavaScript, reloads itself until the export ends); this only keeps it current.
 *
 * [data-export-page] opens /ws/exports/<id>/ (apps.contacts.consumers.ExportProgressConsumer)
 * through window.Chorus.realtime.connect (static/js/realtime.js). The server sends the export's
 * current state right after connecting, then an event at most once a second while it runs:
 * {export_id, state, rows_done, rows_total, progress, has_file, error}. State names come from
 * the page (json_script), in the reader's language.
 */
(function () {
  "use strict";

  var FINISHED = { completed: true, failed: true, expired: true };
  var STATE_BADGES = { completed: "badge-success", failed: "badge-danger", running: "badge-info" };
  var stateLabels = {};

  function readJson(id) {
    var el = document.getElementById(id);
    if (!el) return {};
    try {
      return JSON.parse(el.textContent) || {};
    } catch (e) {
      return {};
    }
  }

  function formatNumber(value) {
    if (value === null || value === undefined || value === "") return "—";
    var number = Number(value);
    if (!isFinite(number)) return String(value);
    try {
      return Math.round(number).toLocaleString(document.documentElement.lang || undefined);
    } catch (e) {
      return String(Math.round(number));
    }
  }

  function setField(page, name, text) {
    page.querySelectorAll('[data-export-field="' + name + '"]').forEach(function (el) {
      el.textContent = text;
    });
  }

  function setState(state) {
    document.querySelectorAll("[data-export-state]").forEach(function (badge) {
      badge.className = "badge badge-dot" + (STATE_BADGES[state] ? " " + STATE_BADGES[state] : "");
      badge.setAttribute("data-export-state", state);
      badge.textContent = stateLabels[state] || state;
    });
  }

  function show(page, event) {
    if (!event || typeof event !== "object") return;
    window.ChorusExport.events.push(event.state);
    if (event.state) setState(event.state);
    var progress = Math.max(0, Math.min(100, Number(event.progress) || 0));
    var fill = page.querySelector("[data-export-fill]");
    if (fill) fill.style.inlineSize = progress + "%";
    var bar = page.querySelector("[data-export-progressbar]");
    if (bar) bar.setAttribute("aria-valuenow", String(progress));
    setField(page, "progress", String(progress));
    setField(page, "rows_done", formatNumber(event.rows_done));
    setField(page, "rows_total", formatNumber(event.rows_total));
    if (!FINISHED[event.state]) return;
    setField(page, "error", event.error || "");
    var error = page.querySelector("[data-export-error]");
    if (error) error.hidden = !event.error;
    var download = page.querySelector("[data-export-download]");
    if (download) download.hidden = !event.has_file;
    page.querySelectorAll("[data-show-while-running]").forEach(function (el) { el.hidden = true; });
    // Nothing more will come: close for good rather than keep a socket open on a finished export.
    if (window.ChorusExport.live) window.ChorusExport.live.close();
  }

  function setup(header) {
    stateLabels = readJson("export-state-labels");
    var id = header.getAttribute("data-export-page");
    var path = header.getAttribute("data-ws-path") || "/ws/exports/" + id + "/";
    var topic = "exports." + id;
    var page = document.getElementById("main") || document.body;
    var realtime = window.Chorus && window.Chorus.realtime;
    if (!realtime || typeof realtime.connect !== "function") return;
    window.ChorusExport.live = realtime.connect(
      path,
      function (eventTopic, event) {
        if (eventTopic === topic) show(page, event);
      },
      {
        toasts: false,
        onState: function (state) {
          window.ChorusExport.connected = state.connected;
        }
      }
    );
  }

  // What arrived, for people debugging a page (and for tests): export states in order.
  window.ChorusExport = { events: [], live: null, connected: false };

  function start() {
    var header = document.querySelector("[data-export-page]");
    if (header) setup(header);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
