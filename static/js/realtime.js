/* Chorus realtime client: websockets to the page's own tenant host, with reconnects and toasts.
 *
 * Loaded by templates/layouts/app.html on every portal page, where it opens
 * /ws/notifications/ (the script tag's data-ws-path; data-autoconnect="false" opens nothing)
 * and shows events whose `event.kind === "notification"` as toasts. Its state is
 * window.ChorusRealtime = {connected, refused}.
 *
 * Page scripts open other sockets through the same code:
 *
 *   var live = window.Chorus.realtime.connect("/ws/profiles/?profile=12", function (topic, event) {
 *     // every {"type": "event"} message: topic "profile.12", event {"kind": "profile.qr", ...}
 *   }, {
 *     onMessage: function (data) {},   // every other message ({"type": "subscribed"|"error", ...})
 *     onOpen: function (live) {},      // after each (re)connect: send subscriptions again here
 *     onState: function (state) {},    // state changed: {connected: bool, refused: null|reason}
 *     toasts: true                     // show notification events as toasts (default true)
 *   });
 *   live.send({type: "subscribe", profile: 13});  // false when the socket is not open
 *   live.state;                                   // {connected, refused}
 *   live.close();                                 // close for good (no reconnect)
 *   window.Chorus.realtime.toast({level: "success", message: "Saved"});  // a toast, no socket
 *
 * realtime.js is a plain script at the end of the layout's body, so inline and deferred page
 * scripts (the layout's `scripts` block) find window.Chorus.realtime already defined.
 * Every event is also re-dispatched on `document` as
 *   new CustomEvent("chorus:event", {detail: {path, topic, event}})
 * for scripts that only listen. Topics are whatever the server's consumer joined for this
 * connection; the server scopes them to this host's tenant, so nothing here filters tenants.
 *
 * Reconnects with exponential backoff (1 s doubling to 30 s, with jitter) and pings every 25 s.
 * Does not reconnect when the server refused the connection on purpose: 4401 (not logged in),
 * 4403 (not a member, wrong tenant, suspended), 4404 (no tenant on this host); `state.refused`
 * then names the reason.
 */
(function () {
  "use strict";

  var REFUSED = { 4401: "unauthenticated", 4403: "forbidden", 4404: "unknown_tenant" };
  var BACKOFF_START_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  var PING_EVERY_MS = 25000; // under the usual 30-60 s idle timeouts of proxies
  var TOAST_MS = 6000;
  var DEFAULT_PATH = "/ws/notifications/";

  window.Chorus = window.Chorus || {};
  if (window.Chorus.realtime) return; // loaded twice: the first copy already runs

  var script = document.currentScript;

  function socketUrl(path) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + path;
  }

  // ---- toasts ----

  function toastContainer() {
    var box = document.getElementById("chorus-toasts");
    if (box) return box;
    box = document.createElement("div");
    box.id = "chorus-toasts";
    box.setAttribute("role", "status");
    box.setAttribute("aria-live", "polite");
    box.style.cssText =
      "position:fixed;bottom:1rem;inset-inline-end:1rem;z-index:1000;display:flex;" +
      "flex-direction:column;gap:.5rem;max-width:min(24rem,calc(100vw - 2rem));";
    document.body.appendChild(box);
    return box;
  }

  var LEVEL_COLOURS = { info: "#2563eb", success: "#16a34a", warning: "#d97706", error: "#dc2626" };

  function toast(event) {
    var el = document.createElement("div");
    el.className = "chorus-toast chorus-toast-" + (event.level || "info");
    el.textContent = event.message || "";
    el.style.cssText =
      "padding:.75rem 1rem;border-radius:.5rem;box-shadow:0 4px 12px rgba(0,0,0,.2);" +
      "background:Canvas;color:CanvasText;border-inline-start:4px solid " +
      (LEVEL_COLOURS[event.level] || LEVEL_COLOURS.info) + ";cursor:pointer;";
    el.addEventListener("click", function () { el.remove(); });
    toastContainer().appendChild(el);
    setTimeout(function () { el.remove(); }, TOAST_MS);
  }

  // ---- connections ----

  function call(callback, arg) {
    if (typeof callback !== "function") return;
    try {
      callback(arg);
    } catch (e) {
      // A broken page handler must not take the socket (and every other handler) down with it.
      if (window.console) window.console.error(e);
    }
  }

  function connect(path, onEvent, options) {
    options = options || {};
    var showToasts = options.toasts !== false;
    var state = { connected: false, refused: null };
    var socket = null;
    var backoff = BACKOFF_START_MS;
    var pingTimer = null;
    var retryTimer = null;
    var closed = false;

    var live = {
      path: path,
      state: state,
      send: function (data) {
        if (!socket || socket.readyState !== WebSocket.OPEN) return false;
        socket.send(JSON.stringify(data));
        return true;
      },
      close: function () {
        closed = true;
        clearTimeout(retryTimer);
        clearInterval(pingTimer);
        if (socket) socket.close(1000);
      }
    };

    function setState(connected, refused) {
      state.connected = connected;
      state.refused = refused;
      call(options.onState, state);
    }

    function onMessage(message) {
      var data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      if (!data || typeof data !== "object" || data.type === "pong") return;
      if (data.type !== "event") {
        call(options.onMessage, data);
        return;
      }
      if (typeof onEvent === "function") {
        try {
          onEvent(data.topic, data.event);
        } catch (e) {
          if (window.console) window.console.error(e);
        }
      }
      document.dispatchEvent(
        new CustomEvent("chorus:event", { detail: { path: path, topic: data.topic, event: data.event } })
      );
      if (showToasts && data.event && data.event.kind === "notification") toast(data.event);
    }

    function open() {
      socket = new WebSocket(socketUrl(path));
      socket.addEventListener("open", function () {
        backoff = BACKOFF_START_MS;
        setState(true, null);
        pingTimer = setInterval(function () { live.send({ type: "ping" }); }, PING_EVERY_MS);
        call(options.onOpen, live);
      });
      socket.addEventListener("message", onMessage);
      socket.addEventListener("close", function (event) {
        clearInterval(pingTimer);
        if (closed) {
          setState(false, null);
          return;
        }
        if (REFUSED[event.code]) {
          setState(false, REFUSED[event.code]);
          return;
        }
        setState(false, null);
        var delay = Math.min(backoff, BACKOFF_MAX_MS) * (0.5 + Math.random() / 2);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
        retryTimer = setTimeout(open, delay);
      });
    }

    if ("WebSocket" in window) open();
    return live;
  }

  window.Chorus.realtime = { connect: connect, toast: toast };

  // ---- the page's notifications socket ----

  var autoconnect = !(script && script.dataset.autoconnect === "false");
  var notificationsPath = (script && script.dataset.wsPath) || DEFAULT_PATH;
  if (autoconnect) {
    window.ChorusRealtime = connect(notificationsPath, null).state;
  }
})();
