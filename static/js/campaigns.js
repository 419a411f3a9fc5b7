/* Campaign page: live progress over /ws/campaigns/<id>/ (apps.campaigns.consumers).
 *
 * The server sends the current progress right after connecting, then at most one event a second
 * (kind "campaign.progress": state, counts per state, done/sent/failed/pending, rate and ETA).
 * This updates the bar, the figures and the per-state table the server rendered; the state
 * names come from the page (json_script), in the reader's language. When the campaign's state
 * changes (e.g. it finished or paused), the page reloads so its buttons match.
 * window.ChorusCampaign.events lists each event's done count (for tests and debugging).
 */
(function () {
  "use strict";

  var labels = {};

  function readJson(id) {
    var node = document.getElementById(id);
    if (!node) return {};
    try {
      return JSON.parse(node.textContent);
    } catch (error) {
      return {};
    }
  }

  function setText(root, key, value) {
    var node = root.querySelector('[data-live="' + key + '"]');
    if (node) node.textContent = value;
  }

  function formatEta(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    var s = Math.max(0, Math.round(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    if (h > 0) return h + " h " + m + " min";
    if (m > 0) return m + " min " + (s % 60) + " s";
    return s + " s";
  }

  function renderCounts(root, counts) {
    var body = root.querySelector("[data-live-counts]");
    if (!body) return;
    var keys = Object.keys(counts || {}).sort();
    body.textContent = "";
    keys.forEach(function (key) {
      var row = document.createElement("tr");
      row.setAttribute("data-count-state", key);
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = labels[key] || key;
      var td = document.createElement("td");
      td.textContent = String(counts[key]);
      row.appendChild(th);
      row.appendChild(td);
      body.appendChild(row);
    });
  }

  function apply(root, initialState, event) {
    if (!event || event.kind !== "campaign.progress") return;
    window.ChorusCampaign.events.push(event.run ? event.run.done : null);
    var run = event.run;
    if (run) {
      var bar = root.querySelector("[data-live-bar]");
      var percent = run.recipients ? Math.round((100 * run.done) / run.recipients) : 0;
      if (bar) bar.style.inlineSize = percent + "%";
      var meter = root.querySelector('[role="progressbar"]');
      if (meter) {
        meter.setAttribute("aria-valuemax", String(run.recipients));
        meter.setAttribute("aria-valuenow", String(run.done));
      }
      setText(root, "recipients", run.recipients);
      setText(root, "done", run.done);
      setText(root, "sent", run.sent);
      setText(root, "failed", run.failed);
      setText(root, "pending", run.pending);
      setText(root, "rate", Math.round((run.rate_per_s || 0) * 60));
      setText(root, "eta", formatEta(run.eta_s));
      ["delivered", "read", "failed"].forEach(function (key) {
        var share = run.rates ? run.rates[key] : null;
        setText(root, "share-" + key, share === null || share === undefined ? "—" : Math.round(share * 100) + "%");
      });
      renderCounts(root, run.counts);
    }
    if (event.state && event.state !== initialState) {
      window.location.reload();
    }
  }

  function start() {
    var root = document.querySelector("[data-campaign-progress]");
    var realtime = window.Chorus && window.Chorus.realtime;
    if (!root || !realtime || typeof realtime.connect !== "function") return;
    labels = readJson("campaign-state-labels");
    var stateNode = document.querySelector("[data-live-state]");
    var initialState = stateNode ? stateNode.getAttribute("data-live-state") : null;
    var path = root.getAttribute("data-ws-path");
    window.ChorusCampaign = { events: [] };
    window.ChorusCampaign.live = realtime.connect(
      path,
      function (topic, event) {
        apply(root, initialState, event);
      },
      { toasts: false }
    );
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
