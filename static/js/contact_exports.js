/* A contact export's page (templates/contacts/export_detail.html): live progress.
 *
 * The page works without this script (it shows the state it was rendered with and, without
 * JavaScript, reloads itself until the export ends); this only keeps it current.
 *
 * [data-export-page] opens /ws/exports/<id>/ (apps.contacts.consumers.ExportProgressConsumer)
 * through window.Chorus.followJob (static/js/jobs.js). The server sends the export's
 * current state right after connecting, then an event at most once a second while it runs:
 * {export_id, state, rows_done, rows_total, progress, has_file, error}. State names come from
 * the page (json_script), in the reader's language.
 */
(function () {
  "use strict";

  function setup(header) {
    window.Chorus.followJob({
      kind: "export",
      header: header,
      wsPrefix: "/ws/exports/",
      topicPrefix: "exports.",
      finishedStates: { completed: true, failed: true, expired: true },
      numbers: ["rows_done", "rows_total"],
      store: window.ChorusExport,
      onFinished: function (page, event, setField) {
        setField("error", event.error || "");
        var error = page.querySelector("[data-export-error]");
        if (error) error.hidden = !event.error;
        var download = page.querySelector("[data-export-download]");
        if (download) download.hidden = !event.has_file;
      }
    });
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
