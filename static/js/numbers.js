/* WhatsApp numbers pages (templates/senders/): live status badges and the QR code while linking.
 *
 * One websocket to /ws/profiles/ (apps.senders.consumers.ProfilesConsumer). On the list page it
 * carries every number's status changes (topic "profiles"); on a number's page it is opened with
 * ?profile=<id> and also carries that number's QR codes and status (topic "profile.<id>"); the
 * server sends the current status and QR code right after subscribing.
 *
 * Uses window.Chorus.realtime.connect (static/js/realtime.js) when the layout loaded it, else a
 * small socket of its own with the same reconnect rules. Badge classes and status names come from
 * the page (json_script), so a badge changed here matches one the server rendered, in the
 * reader's language.
 */
(function () {
  "use strict";

  var REFUSED = { 4401: true, 4403: true, 4404: true };
  var BACKOFF_START_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  var PING_EVERY_MS = 25000;
  var LINKING = { waiting_for_qr: true, connecting: true };

  function readJson(id) {
    var el = document.getElementById(id);
    if (!el) return {};
    try {
      return JSON.parse(el.textContent) || {};
    } catch (e) {
      return {};
    }
  }

  var badgeClasses = {};
  var statusLabels = {};

  function setBadge(badge, status, fallbackLabel) {
    var classes = badgeClasses[status] || "badge";
    badge.className = classes + " badge-dot";
    badge.setAttribute("data-profile-status", status);
    badge.textContent = statusLabels[status] || fallbackLabel || status;
  }

  function setText(scope, selector, text) {
    scope.querySelectorAll(selector).forEach(function (el) {
      el.textContent = text;
    });
  }

  // ---- the list: one row per number ----

  function updateRow(event) {
    var row = document.querySelector('[data-profile-row="' + event.profile_id + '"]');
    if (!row) return;
    row.querySelectorAll("[data-profile-status]").forEach(function (badge) {
      setBadge(badge, event.status, event.status_label);
    });
    if (event.phone) setText(row, "[data-profile-phone]", event.phone);
  }

  // ---- one number: status, QR code, connected ----

  function showPanel(page, name) {
    page.querySelectorAll("[data-panel]").forEach(function (panel) {
      panel.hidden = panel.getAttribute("data-panel") !== name;
    });
  }

  function updatePage(page, event) {
    document.querySelectorAll("[data-profile-status]").forEach(function (badge) {
      setBadge(badge, event.status, event.status_label);
    });
    setText(document, "[data-profile-status-text]", statusLabels[event.status] || event.status_label || event.status);
    if (event.phone) setText(document, "[data-profile-phone]", event.phone);
    page.querySelectorAll("[data-show-when]").forEach(function (el) {
      el.hidden = el.getAttribute("data-show-when").split(" ").indexOf(event.status) < 0;
    });
    if (event.status === "connected") {
      showPanel(page, "connected");
      clearQr(page);
    } else if (LINKING[event.status]) {
      showPanel(page, "linking");
    } else {
      showPanel(page, "idle");
      clearQr(page);
      if (event.detail) setText(page, "[data-profile-detail]", event.detail);
    }
  }

  function clearQr(page) {
    var image = page.querySelector("[data-qr-image]");
    var waiting = page.querySelector("[data-qr-waiting]");
    if (image) {
      image.hidden = true;
      image.removeAttribute("src");
    }
    if (waiting) waiting.hidden = false;
  }

  function showQr(page, event) {
    // Only our own server's PNG data URLs become an image source.
    if (typeof event.png !== "string" || event.png.indexOf("data:image/png;base64,") !== 0) return;
    var image = page.querySelector("[data-qr-image]");
    var waiting = page.querySelector("[data-qr-waiting]");
    if (!image) return;
    image.src = event.png;
    image.hidden = false;
    if (waiting) waiting.hidden = true;
    showPanel(page, "linking");
  }

  // ---- the socket ----

  function ownSocket(path, onEvent) {
    // Used only when realtime.js is not on the page.
    var backoff = BACKOFF_START_MS;
    var pingTimer = null;
    function open() {
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + window.location.host + path);
      socket.addEventListener("open", function () {
        backoff = BACKOFF_START_MS;
        pingTimer = setInterval(function () {
          if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
        }, PING_EVERY_MS);
      });
      socket.addEventListener("message", function (message) {
        var data;
        try {
          data = JSON.parse(message.data);
        } catch (e) {
          return;
        }
        if (data && data.type === "event") onEvent(data.topic, data.event);
      });
      socket.addEventListener("close", function (closed) {
        clearInterval(pingTimer);
        if (REFUSED[closed.code]) return;
        var delay = Math.min(backoff, BACKOFF_MAX_MS) * (0.5 + Math.random() / 2);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
        setTimeout(open, delay);
      });
    }
    if ("WebSocket" in window) open();
  }

  function listen(path, onEvent) {
    var realtime = window.Chorus && window.Chorus.realtime;
    if (realtime && typeof realtime.connect === "function") {
      window.ChorusNumbers.live = realtime.connect(path, onEvent, { toasts: false });
    } else {
      ownSocket(path, onEvent);
    }
  }

  function start() {
    badgeClasses = readJson("numbers-badge-classes");
    statusLabels = readJson("numbers-status-labels");
    var page = document.querySelector("[data-profile-page]");
    if (page) {
      var id = page.getAttribute("data-profile-page");
      var topic = "profile." + id;
      var base = page.getAttribute("data-ws-path") || "/ws/profiles/";
      listen(base + "?profile=" + encodeURIComponent(id), function (eventTopic, event) {
        if (eventTopic !== topic || !event) return;
        window.ChorusNumbers.events.push(event.kind);
        if (event.kind === "profile.qr") showQr(document, event);
        else if (event.kind === "profile.status") updatePage(document, event);
      });
      return;
    }
    var list = document.querySelector("[data-numbers-list]");
    if (list) {
      listen(list.getAttribute("data-ws-path") || "/ws/profiles/", function (eventTopic, event) {
        if (eventTopic === "profiles" && event && event.kind === "profile.status") updateRow(event);
      });
    }
  }

  // What arrived, for people debugging a page (and for tests): kinds of events in order.
  window.ChorusNumbers = { events: [], live: null };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
