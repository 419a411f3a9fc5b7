/* Live progress of a background job's page: contact imports (templates/contacts/import_detail.html,
 * the campaign builder's uploaded list) and contact exports (export_detail.html).
 *
 * Chorus.followJob({kind, header, wsPrefix, topicPrefix, finishedStates, numbers, finalNumbers,
 * onFinished, store}) opens the job's socket through window.Chorus.realtime.connect
 * (static/js/realtime.js). The server sends the job's state right after connecting, then an
 * event at most once a second while it runs. Elements are found by the kind's attributes:
 * [data-<kind>-state] badges, [data-<kind>-field="<name>"] figures, [data-<kind>-fill] and
 * [data-<kind>-progressbar]; when the job ends, [data-show-when-finished] appear and
 * [data-show-while-running] go. State names come from the page (json_script
 * "<kind>-state-labels"), in the reader's language. `store` (e.g. window.ChorusImport) records
 * the states that arrived, for tests and debugging.
 */
(function () {
  "use strict";

  var STATE_BADGES = { completed: "badge-success", failed: "badge-danger", running: "badge-info" };

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

  function followJob(options) {
    var attr = "data-" + options.kind;
    var labels = readJson(options.kind + "-state-labels");
    var id = options.header.getAttribute(attr + "-page");
    var path = options.header.getAttribute("data-ws-path") || options.wsPrefix + id + "/";
    var topic = options.topicPrefix + id;
    var page = document.getElementById("main") || document.body;
    var store = options.store;

    function setField(name, text) {
      page.querySelectorAll("[" + attr + '-field="' + name + '"]').forEach(function (el) {
        el.textContent = text;
      });
    }

    function setState(state) {
      document.querySelectorAll("[" + attr + "-state]").forEach(function (badge) {
        badge.className = "badge badge-dot" + (STATE_BADGES[state] ? " " + STATE_BADGES[state] : "");
        badge.setAttribute(attr + "-state", state);
        badge.textContent = labels[state] || state;
      });
    }

    function show(event) {
      if (!event || typeof event !== "object") return;
      store.events.push(event.state);
      if (event.state) setState(event.state);
      var progress = Math.max(0, Math.min(100, Number(event.progress) || 0));
      var fill = page.querySelector("[" + attr + "-fill]");
      if (fill) fill.style.inlineSize = progress + "%";
      var bar = page.querySelector("[" + attr + "-progressbar]");
      if (bar) bar.setAttribute("aria-valuenow", String(progress));
      setField("progress", String(progress));
      options.numbers.forEach(function (name) {
        setField(name, formatNumber(event[name]));
      });
      if (!options.finishedStates[event.state]) return;
      (options.finalNumbers || []).forEach(function (name) {
        if (name in event) setField(name, formatNumber(event[name]));
      });
      if (options.onFinished) options.onFinished(page, event, setField);
      page.querySelectorAll("[data-show-when-finished]").forEach(function (el) { el.hidden = false; });
      page.querySelectorAll("[data-show-while-running]").forEach(function (el) { el.hidden = true; });
      // Nothing more will come: close for good rather than keep a socket open on a finished job.
      if (store.live) store.live.close();
    }

    var realtime = window.Chorus && window.Chorus.realtime;
    if (!realtime || typeof realtime.connect !== "function") return;
    store.live = realtime.connect(
      path,
      function (eventTopic, event) {
        if (eventTopic === topic) show(event);
      },
      {
        toasts: false,
        onState: function (state) {
          store.connected = state.connected;
        }
      }
    );
  }

  window.Chorus = window.Chorus || {};
  window.Chorus.followJob = followJob;
  window.Chorus.formatNumber = formatNumber;
  window.Chorus.readJson = readJson;
})();
