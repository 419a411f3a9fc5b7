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

  // ---- an import's page: live progress (static/js/jobs.js) ----

  function setupImport(header) {
    window.Chorus.followJob({
      kind: "import",
      header: header,
      wsPrefix: "/ws/imports/",
      topicPrefix: "imports.",
      finishedStates: FINISHED,
      numbers: ["processed_rows", "rows_per_s", "error_count"],
      finalNumbers: ["total_rows", "created", "updated", "unchanged", "skipped", "duplicates"],
      store: window.ChorusImport,
      onFinished: function (page, event, setField) {
        setField("failure", event.failure || "");
        var failure = page.querySelector("[data-import-failure]");
        if (failure) failure.hidden = !event.failure;
        var errorFile = page.querySelector("[data-error-file]");
        if (errorFile) errorFile.hidden = !event.has_error_file;
      }
    });
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
