/* Contacts pages (templates/contacts/): row selection and the bulk bar on the list, the custom
 * field inputs of the column mapping, and live progress on an import's page.
 *
 * Every page works without this script (forms post as they are); this only makes them nicer.
 *
 * An import's page ([data-import-page]) opens /ws/imports/<id>/ (apps.contacts.consumers.
 * ImportProgressConsumer) through window.Chorus.realtime.connect (static/js/realtime.js). The
 * server sends the import's current state right after connecting, then an event at most once a
 * second while it runs: {job_id, state, processed_rows, progress, rows_per_s, error_count} and,
 * once finished, the final counts (total_rows, created, updated, unchanged, skipped,
 * duplicates, has_error_file, failure). State names come from the page (json_script), in the
 * reader's language.
 */
(function () {
  "use strict";

  var FINISHED = { completed: true, failed: true };
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

  // ---- the list: selection and the bulk bar ----

  function setupList(form) {
    var all = form.querySelector("[data-select-all]");
    var rows = function () {
      return Array.prototype.slice.call(form.querySelectorAll("[data-select-row]"));
    };
    var counter = form.querySelector("[data-selected-count]");
    var apply = form.querySelector("[data-bulk-apply]");
    var action = form.querySelector("[data-bulk-action]");
    var needsGroup = form.querySelector("[data-bulk-needs-group]");
    var needsNewGroup = form.querySelector("[data-bulk-needs-new-group]");

    function refresh() {
      var boxes = rows();
      var checked = boxes.filter(function (box) { return box.checked; }).length;
      if (all) {
        all.checked = checked > 0 && checked === boxes.length;
        all.indeterminate = checked > 0 && checked < boxes.length;
      }
      if (counter) {
        var format = counter.getAttribute("data-format") || "{count}";
        counter.textContent = checked ? format.replace("{count}", String(checked)) : "";
      }
      if (apply) apply.disabled = checked === 0;
      boxes.forEach(function (box) {
        var row = box.closest("tr");
        if (row) row.classList.toggle("is-selected", box.checked);
      });
    }

    function refreshAction() {
      if (!action) return;
      var value = action.value;
      if (needsGroup) needsGroup.hidden = !(value === "add_to_group" || value === "remove_from_group");
      if (needsNewGroup) needsNewGroup.hidden = value !== "add_to_group";
    }

    if (all) {
      all.addEventListener("change", function () {
        rows().forEach(function (box) { box.checked = all.checked; });
        refresh();
      });
    }
    form.addEventListener("change", function (event) {
      if (event.target.hasAttribute && event.target.hasAttribute("data-select-row")) refresh();
      if (event.target === action) refreshAction();
    });
    form.addEventListener("submit", function (event) {
      if (action && action.value === "delete" && apply) {
        var question = apply.getAttribute("data-confirm-delete");
        if (question && !window.confirm(question)) event.preventDefault();
      }
    });
    refresh();
    refreshAction();
  }

  // ---- the import wizard: custom field names only where "custom" is chosen ----

  function setupMapping(form) {
    function refresh(row) {
      var select = row.querySelector("select");
      var custom = row.querySelector("[data-custom-key]");
      if (select && custom) custom.hidden = select.value !== "custom";
    }
    var rows = form.querySelectorAll("[data-mapping-column]");
    rows.forEach(refresh);
    form.addEventListener("change", function (event) {
      var row = event.target.closest && event.target.closest("[data-mapping-column]");
      if (row) refresh(row);
    });
  }

  // ---- an import's page: live progress ----

  var stateLabels = {};

  function setField(page, name, text) {
    page.querySelectorAll('[data-import-field="' + name + '"]').forEach(function (el) {
      el.textContent = text;
    });
  }

  function setState(state) {
    document.querySelectorAll("[data-import-state]").forEach(function (badge) {
      badge.className = "badge badge-dot" + (STATE_BADGES[state] ? " " + STATE_BADGES[state] : "");
      badge.setAttribute("data-import-state", state);
      badge.textContent = stateLabels[state] || state;
    });
  }

  function showProgress(page, event) {
    if (!event || typeof event !== "object") return;
    window.ChorusImport.events.push(event.state);
    if (event.state) setState(event.state);
    var progress = Math.max(0, Math.min(100, Number(event.progress) || 0));
    var fill = page.querySelector("[data-import-fill]");
    if (fill) fill.style.inlineSize = progress + "%";
    var bar = page.querySelector("[data-import-progressbar]");
    if (bar) bar.setAttribute("aria-valuenow", String(progress));
    setField(page, "progress", String(progress));
    setField(page, "processed_rows", formatNumber(event.processed_rows));
    setField(page, "rows_per_s", formatNumber(event.rows_per_s));
    setField(page, "error_count", formatNumber(event.error_count));
    if (!FINISHED[event.state]) return;
    ["total_rows", "created", "updated", "unchanged", "skipped", "duplicates"].forEach(function (name) {
      if (name in event) setField(page, name, formatNumber(event[name]));
    });
    setField(page, "failure", event.failure || "");
    var failure = page.querySelector("[data-import-failure]");
    if (failure) failure.hidden = !event.failure;
    var errorFile = page.querySelector("[data-error-file]");
    if (errorFile) errorFile.hidden = !event.has_error_file;
    page.querySelectorAll("[data-show-when-finished]").forEach(function (el) { el.hidden = false; });
    page.querySelectorAll("[data-show-while-running]").forEach(function (el) { el.hidden = true; });
    // Nothing more will come: close for good rather than keep a socket open on a finished job.
    if (window.ChorusImport.live) window.ChorusImport.live.close();
  }

  function setupImport(header) {
    stateLabels = readJson("import-state-labels");
    var id = header.getAttribute("data-import-page");
    var path = header.getAttribute("data-ws-path") || "/ws/imports/" + id + "/";
    var topic = "imports." + id;
    var page = document.getElementById("main") || document.body;
    var realtime = window.Chorus && window.Chorus.realtime;
    if (!realtime || typeof realtime.connect !== "function") return;
    window.ChorusImport.live = realtime.connect(
      path,
      function (eventTopic, event) {
        if (eventTopic === topic) showProgress(page, event);
      },
      {
        toasts: false,
        onState: function (state) {
          window.ChorusImport.connected = state.connected;
        }
      }
    );
  }

  // What arrived, for people debugging a page (and for tests): import states in order.
  window.ChorusImport = { events: [], live: null, connected: false };

  function start() {
    var list = document.querySelector("[data-bulk-form]");
    if (list) setupList(list);
    var mapping = document.querySelector("[data-mapping-form]");
    if (mapping) setupMapping(mapping);
    var header = document.querySelector("[data-import-page]");
    if (header) setupImport(header);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
