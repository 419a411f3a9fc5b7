/* Chorus realtime client: one websocket to /ws/notifications/ on the page's own host.
 *
 * Every published event is re-dispatched on `document` as
 *   new CustomEvent("chorus:event", {detail: {topic, event}})
 * so page scripts can listen without knowing about the socket. Events whose
 * `event.kind === "notification"` are also shown as toasts.
 *
 * Include once, from base.html:
 *   <script src="{% static 'js/realtime.js' %}" defer></script>
 * Optional: data-ws-path="/ws/notifications/" on the script tag.
 *
 * Reconnects with exponential backoff (1 s doubling to 30 s, with jitter). Does not reconnect
 * when the server refused the connection on purpose: 4401 (not logged in), 4403 (not a member,
 * wrong tenant, suspended), 4404 (no tenant on this host).
 */
(function () {
  "use strict";

  var REFUSED = { 4401: "unauthenticated", 4403: "forbidden", 4404: "unknown_tenant" };
  var BACKOFF_START_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  var PING_EVERY_MS = 25000; // under the usual 30-60 s idle timeouts of proxies
  var TOAST_MS = 6000;

  var script = document.currentScript;
  var path = (script && script.dataset.wsPath) || "/ws/notifications/";
  var socket = null;
  var backoff = BACKOFF_START_MS;
  var pingTimer = null;
  var state = { connected: false, refused: null };

  function url() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + path;
  }

  function dispatch(topic, event) {
    document.dispatchEvent(new CustomEvent("chorus:event", { detail: { topic: topic, event: event } }));
  }

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

  function onMessage(message) {
    var data;
    try { data = JSON.parse(message.data); } catch (e) { return; }
    if (!data || data.type !== "event") return;
    dispatch(data.topic, data.event);
    if (data.event && data.event.kind === "notification") toast(data.event);
  }

  function connect() {
    socket = new WebSocket(url());
    socket.addEventListener("open", function () {
      state.connected = true;
      backoff = BACKOFF_START_MS;
      pingTimer = setInterval(function () {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, PING_EVERY_MS);
    });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", function (closed) {
      state.connected = false;
      clearInterval(pingTimer);
      if (REFUSED[closed.code]) {
        state.refused = REFUSED[closed.code];
        return;
      }
      var delay = Math.min(backoff, BACKOFF_MAX_MS) * (0.5 + Math.random() / 2);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      setTimeout(connect, delay);
    });
  }

  window.ChorusRealtime = state;
  if ("WebSocket" in window) connect();
})();
