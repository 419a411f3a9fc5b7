/* WhatsApp Web simulator page. Plain JavaScript, no dependencies, nothing from the internet.
 *
 * The DOM imitates what automation code relies on in the real web.whatsapp.com:
 * div[data-ref] + canvas on the QR screen, #side / #pane-side / #main when logged in, the
 * lexical-style compose box (div[contenteditable][data-tab="10"] > p), button[aria-label="Send"],
 * .message-out / .message-in bubbles with data-id, data-pre-plain-text and tick icons, chat-list
 * rows showing the last message's ticks (status-time / status-check / status-dblcheck).
 * Like the real app, a click on a chat link inside the page (https://api.whatsapp.com/send?phone=…
 * or https://wa.me/…) opens that chat in place instead of loading a new page.
 * Attachments go the way they do in the real app: the Attach button in the composer opens a menu
 * whose items hold hidden <input type=file> (Document; Photos & videos); a chosen file opens a
 * preview pane with a caption box and its own Send button. The file is uploaded first, then the
 * message that refers to it; the bubble shows an image's thumbnail or a document's chip, with the
 * caption as its text, and walks the same ticks as a text message.
 * The session token lives in IndexedDB ("wawc" / "user"), like the real app's keys, plus a cookie.
 */
(function () {
  "use strict";

  var API = "/_sim/api";
  var IDB_NAME = "wawc";
  var IDB_STORE = "user";
  var TOKEN_KEY = "sim-session-token";
  var PAIRING_POLL_MS = 500;
  var RETRY_MS = 1000;
  var SEARCH_DEBOUNCE_MS = 150;

  var ICONS = {
    search: '<svg viewBox="0 0 24 24" width="20" height="20"><path fill="currentColor" d="M15.9 14.3h-.8l-.3-.3c1-1.1 1.6-2.6 1.6-4.2a6.3 6.3 0 1 0-6.3 6.3c1.6 0 3.1-.6 4.2-1.6l.3.3v.8l4.8 4.8 1.4-1.4-4.9-4.7zm-5.8 0a4.5 4.5 0 1 1 0-9 4.5 4.5 0 0 1 0 9z"/></svg>',
    send: '<svg viewBox="0 0 24 24" width="24" height="24"><path fill="currentColor" d="M1.1 21.8 23 12 1.1 2.2v7.6L16.8 12 1.1 14.2z"/></svg>',
    ptt: '<svg viewBox="0 0 24 24" width="24" height="24"><path fill="currentColor" d="M12 15a3 3 0 0 0 3-3V6a3 3 0 1 0-6 0v6a3 3 0 0 0 3 3zm5.3-3a5.3 5.3 0 0 1-10.6 0H5a7 7 0 0 0 6 6.9V22h2v-3.1a7 7 0 0 0 6-6.9h-1.7z"/></svg>',
    "msg-time": '<svg viewBox="0 0 16 15" width="16" height="15"><path fill="currentColor" d="M9.8 8.3V4.8H8.4v4.2l3 1.8.7-1.1-2.3-1.4zM9 1.8a6 6 0 1 0 0 12 6 6 0 0 0 0-12zm0 10.6a4.6 4.6 0 1 1 0-9.2 4.6 4.6 0 0 1 0 9.2z"/></svg>',
    "msg-check": '<svg viewBox="0 0 16 15" width="16" height="15"><path fill="currentColor" d="m10.9 3.3-.5-.4a.4.4 0 0 0-.5.1L4.3 9.4 1.8 7a.4.4 0 0 0-.5 0l-.4.5a.4.4 0 0 0 0 .5l3.1 3.3a.5.5 0 0 0 .7 0l6.2-7.5a.4.4 0 0 0 0-.5z"/></svg>',
    "msg-dblcheck": '<svg viewBox="0 0 16 15" width="16" height="15"><path fill="currentColor" d="m15 3.3-.5-.4a.4.4 0 0 0-.5.1L8 9.4l-.7-.7-.8 1 1.3 1.4a.5.5 0 0 0 .7 0l6.5-7.3a.4.4 0 0 0 0-.5zm-4.1 0-.5-.4a.4.4 0 0 0-.5.1L4.3 9.4 1.8 7a.4.4 0 0 0-.5 0l-.4.5a.4.4 0 0 0 0 .5l3.1 3.3a.5.5 0 0 0 .7 0l6.2-7.5a.4.4 0 0 0 0-.5z"/></svg>',
    "status-time": '<svg viewBox="0 0 18 18" width="18" height="18"><path fill="currentColor" d="M9.8 9.3V5.8H8.4v4.2l3 1.8.7-1.1-2.3-1.4zM9 2.8a6 6 0 1 0 0 12 6 6 0 0 0 0-12zm0 10.6a4.6 4.6 0 1 1 0-9.2 4.6 4.6 0 0 1 0 9.2z"/></svg>',
    "status-check": '<svg viewBox="0 0 18 18" width="18" height="18"><path fill="currentColor" d="m12.4 5.1-.6-.4a.4.4 0 0 0-.6.1l-6.4 8.2-2.9-2.7a.4.4 0 0 0-.5 0l-.5.5a.4.4 0 0 0 0 .6l3.6 3.5a.5.5 0 0 0 .8 0l7.2-9.2a.4.4 0 0 0-.1-.6z"/></svg>',
    "status-dblcheck": '<svg viewBox="0 0 18 18" width="18" height="18"><path fill="currentColor" d="m17.4 5-.6-.4a.4.4 0 0 0-.6.1l-6.4 8.2a.4.4 0 0 1-.6 0l-.4-.4a.4.4 0 0 0-.6 0l-.5.6a.4.4 0 0 0 0 .6l1.3 1.3a.5.5 0 0 0 .8 0l7.7-9.4a.4.4 0 0 0-.1-.6zm-5 0-.6-.4a.4.4 0 0 0-.6.1l-6.4 8.2-2.9-2.7a.4.4 0 0 0-.5 0l-.5.5a.4.4 0 0 0 0 .6l3.6 3.5a.5.5 0 0 0 .8 0l7.2-9.2a.4.4 0 0 0-.1-.6z"/></svg>',
    "refresh-large": '<svg viewBox="0 0 24 24" width="48" height="48"><path fill="currentColor" d="M17.6 6.4A8 8 0 1 0 19.7 14h-2.1a6 6 0 1 1-1.4-6.2L13 11h7V4l-2.4 2.4z"/></svg>',
    plus: '<svg viewBox="0 0 24 24" width="24" height="24"><path fill="currentColor" d="M19 13h-6v6h-2v-6H5v-2h6V5h2v6h6v2z"/></svg>',
    x: '<svg viewBox="0 0 24 24" width="24" height="24"><path fill="currentColor" d="m19.1 17.2-5.3-5.2 5.3-5.3-1.9-1.9-5.2 5.3-5.3-5.3-1.9 1.9 5.3 5.3-5.3 5.3 1.9 1.9 5.3-5.3 5.2 5.3z"/></svg>',
    document: '<svg viewBox="0 0 24 24" width="26" height="30"><path fill="currentColor" d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8l-6-6zm4 18H6V4h7v5h5v11z"/></svg>',
    video: '<svg viewBox="0 0 24 24" width="26" height="30"><path fill="currentColor" d="M17 10.5V7a1 1 0 0 0-1-1H4a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1v-3.5l4 4v-11l-4 4z"/></svg>',
    "attach-document": '<svg viewBox="0 0 24 24" width="20" height="20"><path fill="currentColor" d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8l-6-6zm4 18H6V4h7v5h5v11z"/></svg>',
    "attach-image": '<svg viewBox="0 0 24 24" width="20" height="20"><path fill="currentColor" d="M21 19V5a2 2 0 0 0-2-2H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2zM8.5 13.5l2.5 3 3.5-4.5 4.5 6H5l3.5-4.5z"/></svg>',
    "status-image": '<svg viewBox="0 0 16 16" width="16" height="16"><path fill="currentColor" d="M13.8 3.4h-2.1l-1-1.3H5.3l-1 1.3H2.2c-.7 0-1.2.5-1.2 1.2v7.8c0 .7.5 1.2 1.2 1.2h11.6c.7 0 1.2-.5 1.2-1.2V4.6c0-.7-.5-1.2-1.2-1.2zM8 11.6a3.1 3.1 0 1 1 0-6.2 3.1 3.1 0 0 1 0 6.2z"/></svg>',
    "status-video": '<svg viewBox="0 0 16 16" width="16" height="16"><path fill="currentColor" d="M11.5 7V4.7a.7.7 0 0 0-.7-.7H2.7a.7.7 0 0 0-.7.7v6.6c0 .4.3.7.7.7h8.1c.4 0 .7-.3.7-.7V9l2.5 2.5v-7L11.5 7z"/></svg>',
    "status-document": '<svg viewBox="0 0 16 16" width="16" height="16"><path fill="currentColor" d="M9.3 1.3H4a1.3 1.3 0 0 0-1.3 1.4v10.6c0 .8.6 1.4 1.3 1.4h8c.7 0 1.3-.6 1.3-1.4V5.3l-4-4zM12 13.3H4V2.7h4.7V6H12v7.3z"/></svg>'
  };
  var TICKS = {
    pending: ["msg-time", " Pending "],
    failed: ["msg-time", " Pending "],
    sent: ["msg-check", " Sent "],
    delivered: ["msg-dblcheck", " Delivered "],
    read: ["msg-dblcheck", " Read "]
  };

  // The chat list shows the last outgoing message's ticks with icons of its own.
  var LIST_TICKS = {
    pending: ["status-time", " Pending "],
    failed: ["status-time", " Pending "],
    sent: ["status-check", " Sent "],
    delivered: ["status-dblcheck", " Delivered "],
    read: ["status-dblcheck", " Read "]
  };

  // The two ways to attach, as in the real menu: photos and videos (shown with a thumbnail) and
  // documents (any file, shown as a chip).
  var ATTACH_ACCEPT = { media: "image/*,video/mp4,video/3gpp,video/quicktime", document: "*" };
  var MEDIA_LIST_TEXT = { image: "Photo", video: "Video" };

  // Acks only move forward, whichever of the send reply and the poll arrives first.
  var RANK = { pending: 0, failed: 1, sent: 2, delivered: 3, read: 4 };
  // Chat links the app opens in place (like the real app's router) instead of leaving the page.
  var CHAT_LINK = /^https?:\/\/(?:api\.whatsapp\.com\/send\/?|wa\.me\/(\d+)\/?)(?:\?(.*))?$/i;

  var root = document.getElementById("app");
  var token = null;
  var me = null;
  var screenGen = 0; // bumped whenever the screen changes; stale loops stop themselves
  var chatsCache = [];
  var version = 0;
  var listSince = 0; // server time of the chat list shown (ticks after it are news)
  var opening = 0; // bumped per chat being opened; a slower earlier lookup does not win
  // Chats this page just sent to: their row shows that message until a chat list the server
  // made after storing it arrives (an older list never takes the row back). phone -> {id, row, version}
  var sentRows = new Map();
  var open = null; // {phone, title, since, bubbles: Map}
  var pollAbort = null;
  var searchTimer = null;
  var searching = false;

  // --- small helpers ------------------------------------------------------------------------

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) el.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return el;
  }

  function icon(name, attrs) {
    var span = h("span", Object.assign({ "data-icon": name }, attrs || {}));
    span.innerHTML = ICONS[name] || "";
    return span;
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function clock(ts) {
    var d = new Date(ts);
    return pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function prePlain(ts, author) {
    var d = new Date(ts);
    return "[" + clock(ts) + ", " + pad(d.getDate()) + "/" + pad(d.getMonth() + 1) + "/" + d.getFullYear() + "] " + author + ": ";
  }

  function randomHex(n) {
    var bytes = new Uint8Array(Math.ceil(n / 2));
    crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return pad16(b); }).join("").slice(0, n).toUpperCase();
  }

  function pad16(b) { return (b < 16 ? "0" : "") + b.toString(16); }

  function api(method, path, body, signal) {
    var headers = {};
    if (token) headers["X-Sim-Session"] = token;
    if (body) headers["Content-Type"] = "application/json";
    return fetch(API + path, {
      method: method,
      headers: headers,
      body: body ? JSON.stringify(body) : undefined,
      signal: signal,
      credentials: "same-origin",
      cache: "no-store"
    }).then(apiResult);
  }

  function uploadFile(file) {
    // The file itself is the body; its name travels in a header (a fetch of a File sends none).
    var headers = { "Content-Type": file.type || "application/octet-stream", "X-Sim-Filename": encodeURIComponent(file.name) };
    if (token) headers["X-Sim-Session"] = token;
    return fetch(API + "/media", { method: "POST", headers: headers, body: file, credentials: "same-origin", cache: "no-store" })
      .then(apiResult);
  }

  function apiResult(r) {
    if (r.status === 401) {
      var err = new Error("logged out");
      err.loggedOut = true;
      throw err;
    }
    if (r.status === 204) return null;
    return r.json().then(function (data) {
      if (!r.ok) {
        var e = new Error((data.error && data.error.message) || "HTTP " + r.status);
        e.status = r.status;
        throw e;
      }
      return data;
    });
  }

  // --- IndexedDB session (what storage_state(indexed_db=True) carries) ------------------------

  function idb() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(IDB_NAME, 1);
      req.onupgradeneeded = function () {
        if (!req.result.objectStoreNames.contains(IDB_STORE)) req.result.createObjectStore(IDB_STORE, { keyPath: "key" });
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function idbRun(mode, work) {
    return idb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(IDB_STORE, mode);
        var result = work(tx.objectStore(IDB_STORE));
        tx.oncomplete = function () { db.close(); resolve(result && "result" in result ? result.result : undefined); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function sessionLoad() {
    return idbRun("readonly", function (store) { return store.get(TOKEN_KEY); }).then(function (row) {
      return row ? row.value : null;
    });
  }

  function sessionStore(value, phone) {
    return idbRun("readwrite", function (store) {
      store.put({ key: TOKEN_KEY, value: value });
      store.put({ key: "last-wid-md", value: phone + ":1@c.us" });
    }).then(function () {
      localStorage.setItem("last-wid-md", JSON.stringify(phone + ":1@c.us"));
    });
  }

  function sessionForget() {
    token = null;
    me = null;
    document.cookie = "wa_sim_session=; Max-Age=0; path=/";
    localStorage.removeItem("last-wid-md");
    return idbRun("readwrite", function (store) { store.clear(); }).catch(function () {});
  }

  // --- boot ---------------------------------------------------------------------------------

  function boot() {
    sessionLoad().catch(function () { return null; }).then(function (saved) {
      if (!saved) return showQr();
      token = saved;
      return api("GET", "/session").then(function (info) {
        me = info;
        showApp();
      }, function (err) {
        if (err.loggedOut) return sessionForget().then(showQr);
        return sleep(RETRY_MS).then(boot);
      });
    });
  }

  function leaveScreen() {
    screenGen += 1;
    if (pollAbort) pollAbort.abort();
    pollAbort = null;
    open = null;
    return screenGen;
  }

  // --- QR screen ----------------------------------------------------------------------------

  function showQr() {
    var gen = leaveScreen();
    root.textContent = "";
    var qrSlot = h("div", { class: "qr-slot" }, [h("div", { class: "qr-spinner" }, ["Loading…"])]);
    root.appendChild(
      h("div", { class: "landing-wrapper" }, [
        h("div", { class: "landing-header" }, [h("span", { class: "landing-logo" }, ["WhatsApp"])]),
        h("div", { class: "landing-window" }, [
          h("div", { class: "landing-main" }, [
            h("div", { class: "landing-title" }, [
              h("h1", {}, ["Log into WhatsApp Web"]),
              h("ol", {}, [
                h("li", {}, ["Open WhatsApp on your phone (here: open /phone on the simulator)"]),
                h("li", {}, ["Tap Menu or Settings and select Linked devices"]),
                h("li", {}, ["Tap Link a device and point your phone to this screen"])
              ])
            ]),
            qrSlot
          ])
        ])
      ])
    );
    pairingLoop(gen, qrSlot);
  }

  function pairingLoop(gen, slot) {
    var pairing = null;
    var box = null;
    var canvas = null;

    function apply(view) {
      if (!box) {
        slot.textContent = "";
        canvas = h("canvas", { "aria-label": "Scan this QR code to link a device!", role: "img", width: "264", height: "264" });
        box = h("div", { class: "qr-box", "data-ref": view.ref }, [canvas]);
        slot.appendChild(box);
      }
      box.setAttribute("data-ref", view.ref);
      if (view.matrix) drawQr(canvas, view.matrix);
      var reload = box.querySelector(".qr-reload");
      if (view.stalled && !reload) {
        var button = h("button", { type: "button", class: "qr-reload-button" }, [
          icon("refresh-large"),
          h("div", {}, ["Click to reload QR code"])
        ]);
        button.addEventListener("click", function () {
          api("POST", "/pairing/" + pairing.id + "/reload").then(function (next) {
            if (gen === screenGen) apply(next);
          });
        });
        box.classList.add("stalled");
        box.appendChild(h("div", { class: "qr-reload" }, [button]));
      } else if (!view.stalled && reload) {
        box.classList.remove("stalled");
        reload.remove();
      }
    }

    function start() {
      return api("POST", "/pairing").then(function (view) {
        pairing = view;
        if (gen === screenGen) apply(view);
      });
    }

    (async function () {
      while (gen === screenGen) {
        try {
          if (!pairing) {
            await start();
          } else {
            var view = await api("GET", "/pairing/" + pairing.id + "?known=" + encodeURIComponent(box ? box.getAttribute("data-ref") : ""));
            if (gen !== screenGen) return;
            if (view.linked) {
              await sessionStore(view.token, view.phone);
              token = view.token;
              me = await api("GET", "/session");
              if (gen === screenGen) showApp();
              return;
            }
            apply(view);
          }
          await sleep(PAIRING_POLL_MS);
        } catch (err) {
          if (err.status === 404) pairing = null; // forgotten (e.g. simulator reset): new QR
          await sleep(RETRY_MS);
        }
      }
    })();
  }

  function drawQr(canvas, matrix) {
    var ctx = canvas.getContext("2d");
    var size = canvas.width;
    var n = matrix.length;
    var quiet = 2;
    var scale = Math.max(1, Math.floor(size / (n + 2 * quiet)));
    var offset = Math.floor((size - scale * n) / 2);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, size, size);
    ctx.fillStyle = "#122e31";
    for (var y = 0; y < n; y++) {
      var row = matrix[y];
      for (var x = 0; x < row.length; x++) {
        if (row.charCodeAt(x) === 49) ctx.fillRect(offset + x * scale, offset + y * scale, scale, scale);
      }
    }
  }

  // --- logged-in screen -----------------------------------------------------------------------

  function showApp() {
    var gen = leaveScreen();
    version = 0;
    listSince = 0;
    sentRows = new Map();
    chatsCache = [];
    root.textContent = "";
    var searchBox = h("div", {
      contenteditable: "true", role: "textbox", "data-tab": "3", class: "search-box",
      "aria-label": "Search input textbox", title: "Search input textbox"
    });
    var searchButton = h("button", { type: "button", class: "search-button", "aria-label": "Search or start new chat" }, [icon("search")]);
    searchButton.addEventListener("click", function () { searchBox.focus(); });
    searchBox.addEventListener("input", function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(function () { runSearch(gen, searchBox.textContent.trim()); }, SEARCH_DEBOUNCE_MS);
    });
    searchBox.addEventListener("keydown", function (e) { if (e.key === "Enter") e.preventDefault(); });
    root.appendChild(
      h("div", { class: "app-wrapper" }, [
        h("div", { id: "sim-banners", class: "banners" }),
        h("div", { class: "two", tabindex: "-1" }, [
          h("div", { id: "side", class: "side" }, [
            h("header", { class: "side-header" }, [
              h("div", { class: "avatar me-avatar", title: me.name }),
              h("div", { class: "side-title" }, ["Chats"]),
              h("div", { class: "me-phone" }, ["+" + me.phone])
            ]),
            h("div", { class: "side-search" }, [searchButton, searchBox]),
            h("div", { id: "pane-side", class: "pane-side" }, [h("div", { "aria-label": "Chat list", role: "grid", class: "chat-list" })])
          ]),
          h("div", { class: "main-slot" }, [introPanel()])
        ])
      ])
    );
    renderBanners();
    if (location.pathname === "/send") openFromUrl(gen);
    pollLoop(gen);
  }

  function introPanel() {
    return h("div", { class: "intro" }, [
      h("h1", {}, ["WhatsApp Web"]),
      h("p", {}, ["Send and receive messages without keeping your phone online."]),
      h("p", { class: "intro-sim" }, ["(WhatsApp Web simulator)"])
    ]);
  }

  function renderBanners() {
    var slot = document.getElementById("sim-banners");
    if (!slot || !me) return;
    slot.textContent = "";
    if (me.banned) {
      slot.appendChild(h("div", { "data-testid": "banned-banner", role: "alert", class: "banner banner-banned" }, [
        "This account is not allowed to use WhatsApp"
      ]));
    }
    if (me.rate_limited) {
      slot.appendChild(h("div", { "data-testid": "rate-limit-notice", role: "alert", class: "banner banner-rate" }, [
        "You're sending messages too quickly. Please wait a while before sending more messages."
      ]));
    }
  }

  function renderChats(rows) {
    var list = document.querySelector("#pane-side [role=grid]");
    if (!list) return;
    list.textContent = "";
    list.setAttribute("aria-rowcount", String(rows.length));
    rows.forEach(function (chat) {
      var selected = open && open.phone === chat.phone;
      var last = [];
      if (chat.last_out) {
        var t = LIST_TICKS[chat.last_status] || LIST_TICKS.pending;
        last.push(icon(t[0], { "aria-label": t[1], class: "list-tick list-tick-" + (chat.last_status || "pending") }));
      }
      if (chat.last_media) last.push(icon("status-" + chat.last_media, { class: "list-media" }));
      last.push(h("span", { dir: "ltr", class: "chat-last", title: chat.last_text }, [chat.last_text]));
      var sub = [h("span", { "data-testid": "last-msg-status", class: "chat-last-msg" }, last)];
      var badge = null;
      if (chat.unread > 0) {
        var label = chat.unread + (chat.unread === 1 ? " unread message" : " unread messages");
        badge = h("span", { "aria-label": label, class: "unread-badge" }, [String(chat.unread)]);
      }
      var cell = h("div", { role: "gridcell", tabindex: "0", "aria-selected": selected ? "true" : "false", class: "chat-cell" }, [
        h("div", { class: "avatar" }),
        h("div", { class: "chat-body" }, [
          h("div", { class: "chat-line" }, [
            h("div", { "data-testid": "cell-frame-title", class: "chat-title-slot" }, [
              h("span", { dir: "auto", title: chat.title, class: "chat-title" }, [chat.title])
            ]),
            h("div", { class: "chat-time" }, [clock(chat.last_ts)])
          ]),
          h("div", { class: "chat-line" }, [h("div", { class: "chat-sub" }, sub), badge])
        ])
      ]);
      var row = h("div", { role: "listitem", class: "chat-row" + (selected ? " selected" : ""), "data-chat": chat.phone }, [cell]);
      row.addEventListener("click", function () { openChat(chat.phone, chat.title, ""); });
      list.appendChild(row);
    });
  }

  function runSearch(gen, query) {
    if (!query) {
      searching = false;
      renderChats(chatsCache);
      return;
    }
    searching = true;
    api("GET", "/chats?q=" + encodeURIComponent(query)).then(function (data) {
      if (gen === screenGen && searching) renderChats(data.chats);
    }, function () {});
  }

  function openFromUrl(gen) {
    var params = new URLSearchParams(location.search);
    openFromParams(gen, params.get("phone") || "", params.get("text") || "");
  }

  function openFromParams(gen, phone, text) {
    var mine = ++opening;
    api("GET", "/contact?phone=" + encodeURIComponent(phone)).then(function (info) {
      if (gen !== screenGen || mine !== opening) return;
      if (!info.on_whatsapp) return invalidNumberDialog();
      openChat(info.phone, info.title, text);
    }, function (err) {
      if (err.loggedOut) loggedOut();
    });
  }

  function chatLinkParams(href) {
    var match = CHAT_LINK.exec(href || "");
    if (!match) return null;
    var params = new URLSearchParams(match[2] || "");
    return { phone: match[1] || params.get("phone") || "", text: params.get("text") || "" };
  }

  // A chat link clicked inside the app opens the chat here (no page load), like the real app.
  document.addEventListener("click", function (e) {
    var link = e.target && e.target.closest ? e.target.closest("a[href]") : null;
    var params = link ? chatLinkParams(link.href) : null;
    if (!params) return;
    e.preventDefault();
    if (!token || !document.getElementById("pane-side")) return; // not logged in: nothing to open
    openFromParams(screenGen, params.phone, params.text);
  }, true);

  function invalidNumberDialog() {
    var ok = h("div", { role: "button", tabindex: "0", class: "popup-ok", "data-testid": "popup-controls-ok" }, [h("div", {}, ["OK"])]);
    var overlay = h("div", { class: "overlay", "data-animate-modal-backdrop": "true" }, [
      h("div", { role: "dialog", "aria-modal": "true", class: "popup", "data-animate-modal-popup": "true" }, [
        h("div", { class: "popup-body" }, ["Phone number shared via url is invalid."]),
        h("div", { class: "popup-controls" }, [ok])
      ])
    ]);
    function close() { overlay.remove(); }
    ok.addEventListener("click", close);
    ok.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") close(); });
    document.body.appendChild(overlay);
    ok.focus();
  }

  function openChat(phone, title, text) {
    var slot = document.querySelector(".main-slot");
    if (!slot) return;
    open = { phone: phone, title: title, since: 0, bubbles: new Map() };
    var list = h("div", { class: "message-list", role: "application", tabindex: "-1" });
    var editor = h("div", {
      contenteditable: "true", role: "textbox", spellcheck: "true", "data-tab": "10", "data-lexical-editor": "true",
      "aria-label": "Type a message", "aria-placeholder": "Type a message", title: "Type a message", class: "compose-box"
    });
    var sendButton = h("button", { type: "button", "aria-label": "Send", "data-tab": "11", class: "send-button" }, [icon("send")]);
    var attachButton = h("button", { type: "button", title: "Attach", "aria-label": "Attach", class: "attach-button" }, [icon("plus")]);
    var pttButton = h("button", { type: "button", "aria-label": "Voice message", class: "ptt-button" }, [icon("ptt")]);
    var footer = h("footer", { class: "compose" }, [attachButton, h("div", { class: "lexical-rich-text-input" }, [editor]), sendButton, pttButton]);
    slot.textContent = "";
    slot.appendChild(
      h("div", { id: "main", class: "main" }, [
        h("header", { class: "main-header" }, [
          h("div", { class: "avatar" }),
          h("div", { class: "chat-info" }, [
            h("span", { dir: "auto", title: title, class: "chat-title" }, [title]),
            h("span", { class: "chat-phone" }, ["+" + phone])
          ])
        ]),
        h("div", { class: "copyable-area" }, [list]),
        footer
      ])
    );
    editorSetText(editor, text);
    function refreshButtons() {
      var hasText = editorText(editor).trim() !== "";
      sendButton.style.display = hasText ? "" : "none";
      pttButton.style.display = hasText ? "none" : "";
    }
    editor.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        sendFrom(editor, refreshButtons);
      }
    });
    editor.addEventListener("input", function () {
      editorNormalize(editor);
      refreshButtons();
    });
    editor.addEventListener("paste", function (e) {
      e.preventDefault();
      document.execCommand("insertText", false, e.clipboardData.getData("text/plain"));
    });
    sendButton.addEventListener("click", function () { sendFrom(editor, refreshButtons); });
    var chat = open;
    attachButton.addEventListener("click", function () { toggleAttachMenu(chat, footer); });
    refreshButtons();
    editor.focus();
    caretToEnd(editor);
    renderChats(chatsCache);
    restartPoll();
  }

  // --- the lexical-style editor: <div contenteditable> > <p> > <span data-lexical-text> -------

  function editorLine(text) {
    var p = h("p", { class: "selectable-text copyable-text", dir: "ltr" });
    if (text) p.appendChild(h("span", { class: "selectable-text copyable-text", "data-lexical-text": "true" }, [text]));
    else p.appendChild(document.createElement("br"));
    return p;
  }

  function editorSetText(editor, text) {
    editor.textContent = "";
    (text ? text.split("\n") : [""]).forEach(function (line) { editor.appendChild(editorLine(line)); });
  }

  function editorText(editor) {
    var lines = [];
    var current = null;
    editor.childNodes.forEach(function (node) {
      if (node.nodeType === Node.TEXT_NODE) {
        current = (current === null ? "" : current) + node.textContent;
      } else if (node.nodeName === "BR") {
        lines.push(current === null ? "" : current);
        current = null;
      } else {
        if (current !== null) lines.push(current);
        current = null;
        var text = nodeText(node);
        lines.push(text.slice(-1) === "\n" ? text.slice(0, -1) : text); // the last <br> is a placeholder
      }
    });
    if (current !== null) lines.push(current);
    return lines.join("\n");
  }

  function nodeText(node) {
    // Shift+Enter puts a <br> inside the paragraph, as in the real editor.
    if (node.nodeType === Node.TEXT_NODE) return node.textContent;
    if (node.nodeName === "BR") return "\n";
    var out = "";
    node.childNodes.forEach(function (child) { out += nodeText(child); });
    return out;
  }

  function editorNormalize(editor) {
    // Keep the lexical shape after fill()/typing: only top-level <p>, text inside spans.
    var messy = Array.prototype.some.call(editor.childNodes, function (node) {
      if (node.nodeName !== "P") return true;
      return Array.prototype.some.call(node.childNodes, function (c) { return c.nodeType === Node.TEXT_NODE; });
    });
    if (!messy) return;
    var text = editorText(editor);
    editorSetText(editor, text);
    caretToEnd(editor);
  }

  function caretToEnd(editor) {
    var range = document.createRange();
    range.selectNodeContents(editor.lastChild || editor);
    range.collapse(false);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function sendFrom(editor, refreshButtons) {
    var text = editorText(editor).trim();
    if (!text || !open) return;
    var chat = open;
    var id = "3EB0" + randomHex(16);
    var ts = Date.now();
    upsertBubble(chat, { id: id, data_id: "true_" + chat.phone + "@c.us_" + id, out: true, text: text, author: "Me", ts: ts, status: "pending" });
    listShowSent(chat, id, text, ts);
    editorSetText(editor, "");
    caretToEnd(editor);
    refreshButtons();
    api("POST", "/messages", { id: id, chat: chat.phone, text: text }).then(function (m) {
      listSentStored(chat.phone, id, m.version);
      upsertBubble(chat, m);
    }, function (err) {
      listSentStored(chat.phone, id, 0);
      if (err.loggedOut) loggedOut(); // the bubble keeps its clock: never sent
    });
  }

  function listShowSent(chat, id, text, ts, mediaKind) {
    // The list moves the chat to the top with the message on its clock at once, as the real
    // app does from its local store; the server's list brings the ticks.
    var row = {
      phone: chat.phone, title: chat.title, unread: 0, last_text: text, last_media: mediaKind || null,
      last_out: true, last_status: "pending", last_ts: ts
    };
    sentRows.delete(chat.phone); // re-inserted: the map stays in sending order
    sentRows.set(chat.phone, { id: id, row: row, version: Infinity });
    chatsCache = listWithSent(chatsCache);
    if (!searching) renderChats(chatsCache);
  }

  function listSentStored(phone, id, serverVersion) {
    var sent = sentRows.get(phone);
    if (sent && sent.id === id) sent.version = serverVersion;
  }

  function listWithSent(rows) {
    // Rows of chats just sent to stay as sent until the server's list includes that message.
    var ahead = [];
    sentRows.forEach(function (sent, phone) {
      if (version >= sent.version) sentRows.delete(phone);
      else ahead.unshift(sent.row); // the latest send first
    });
    if (!ahead.length) return rows;
    return ahead.concat(rows.filter(function (c) { return !sentRows.has(c.phone); }));
  }

  // --- attachments ----------------------------------------------------------------------------

  function mediaKind(mime) {
    var major = (mime || "").split("/")[0];
    return major === "image" || major === "video" ? major : "document";
  }

  function humanSize(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " kB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function toggleAttachMenu(chat, footer) {
    var shown = footer.querySelector(".attach-menu");
    if (shown) {
      shown.remove();
      return;
    }
    footer.appendChild(h("div", { class: "attach-menu", role: "menu" }, [
      attachItem(chat, "document", "Document", "attach-document"),
      attachItem(chat, "media", "Photos & videos", "attach-image")
    ]));
  }

  function attachItem(chat, kind, label, iconName) {
    var input = h("input", { type: "file", accept: ATTACH_ACCEPT[kind], class: "attach-input", style: "display: none" });
    var item = h("div", { role: "menuitem", tabindex: "0", class: "attach-item attach-" + kind }, [icon(iconName), h("span", {}, [label]), input]);
    item.addEventListener("click", function (e) { if (e.target !== input) input.click(); });
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      var menu = item.closest(".attach-menu");
      if (menu) menu.remove();
      if (file && open === chat) showMediaEditor(chat, file);
    });
    return item;
  }

  function documentChip(name, size, kind, attrs) {
    return h("div", attrs, [
      icon(kind === "video" ? "video" : "document"),
      h("div", { class: "doc-info" }, [h("span", { class: "doc-name", title: name }, [name]), h("span", { class: "doc-size" }, [humanSize(size)])])
    ]);
  }

  function mediaBlock(media) {
    if (media.kind === "image" && media.url) {
      return h("div", { class: "msg-media msg-image", "data-testid": "image-thumb" }, [h("img", { src: media.url, alt: "" })]);
    }
    return documentChip(media.name, media.size, media.kind, { class: "msg-media msg-document", "data-testid": "document-thumb" });
  }

  function closeMediaEditor() {
    var shown = document.querySelector(".media-editor");
    if (shown) shown.remove();
  }

  function showMediaEditor(chat, file) {
    var slot = document.querySelector(".main-slot");
    if (!slot) return;
    closeMediaEditor();
    var url = URL.createObjectURL(file);
    var kind = mediaKind(file.type);
    var caption = h("div", {
      contenteditable: "true", role: "textbox", spellcheck: "true", "data-lexical-editor": "true",
      "aria-label": "Add a caption", "aria-placeholder": "Add a caption", title: "Add a caption", class: "caption-box"
    });
    var send = h("div", { role: "button", tabindex: "0", "aria-label": "Send", class: "media-send" }, [icon("send")]);
    var close = h("div", { role: "button", tabindex: "0", "aria-label": "Close", class: "media-close" }, [icon("x")]);
    var preview = kind === "image"
      ? h("img", { class: "media-preview-image", src: url, alt: file.name })
      : documentChip(file.name, file.size, kind, { class: "media-preview-document" });
    var pane = h("div", { class: "media-editor", "data-testid": "media-editor" }, [
      h("header", { class: "media-editor-header" }, [close, h("span", { class: "media-editor-title", title: file.name }, [file.name])]),
      h("div", { class: "media-preview" }, [preview]),
      h("div", { class: "media-caption" }, [h("div", { class: "lexical-rich-text-input" }, [caption]), send])
    ]);
    editorSetText(caption, "");
    var sent = false;
    function go() {
      if (sent || open !== chat) return;
      sent = true;
      var text = editorText(caption).trim();
      pane.remove();
      sendMedia(chat, file, url, text);
    }
    function cancel() {
      pane.remove();
      URL.revokeObjectURL(url);
    }
    caption.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        go();
      } else if (e.key === "Escape") {
        cancel();
      }
    });
    caption.addEventListener("input", function () { editorNormalize(caption); });
    caption.addEventListener("paste", function (e) {
      e.preventDefault();
      document.execCommand("insertText", false, e.clipboardData.getData("text/plain"));
    });
    send.addEventListener("click", go);
    send.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") go(); });
    close.addEventListener("click", cancel);
    slot.appendChild(pane);
    caption.focus();
    caretToEnd(caption);
  }

  function sendMedia(chat, file, url, text) {
    var id = "3EB0" + randomHex(16);
    var ts = Date.now();
    var media = { name: file.name, mime: file.type || "application/octet-stream", size: file.size, kind: mediaKind(file.type), url: url };
    upsertBubble(chat, { id: id, data_id: "true_" + chat.phone + "@c.us_" + id, out: true, text: text, media: media, author: "Me", ts: ts, status: "pending" });
    listShowSent(chat, id, text || MEDIA_LIST_TEXT[media.kind] || media.name, ts, media.kind);
    // Uploaded first, then the message that refers to it (like the real app).
    uploadFile(file).then(function (upload) {
      return api("POST", "/messages", { id: id, chat: chat.phone, text: text, media: upload.id });
    }).then(function (m) {
      listSentStored(chat.phone, id, m.version);
      upsertBubble(chat, m);
    }, function (err) {
      listSentStored(chat.phone, id, 0);
      if (err.loggedOut) loggedOut(); // the bubble keeps its clock: never sent
    });
  }

  // --- bubbles --------------------------------------------------------------------------------

  function tick(status) {
    var t = TICKS[status] || TICKS.pending;
    return icon(t[0], { "aria-label": t[1], class: "tick tick-" + status });
  }

  function upsertBubble(chat, m) {
    if (!open || chat !== open) return;
    var list = document.querySelector("#main .message-list");
    if (!list) return;
    var known = chat.bubbles.get(m.id);
    if (known) {
      if (m.out && RANK[m.status] > RANK[known.status]) {
        var old = known.el.querySelector(".tick");
        old.replaceWith(tick(m.status));
        known.status = m.status;
      }
      return;
    }
    var parts = [];
    if (m.media) parts.push(mediaBlock(m.media));
    // An attachment's caption is the bubble's text (none without a caption).
    if (m.text || !m.media) {
      parts.push(h("div", { class: "msg-text" }, [h("span", { dir: "ltr", class: "selectable-text copyable-text" }, [h("span", {}, [m.text])])]));
    }
    var inner = h("div", { class: "copyable-text", "data-pre-plain-text": prePlain(m.ts, m.author) }, parts);
    var meta = h("div", { class: "msg-meta" }, [h("span", { class: "msg-clock" }, [clock(m.ts)]), m.out ? tick(m.status) : null]);
    var bubble = h("div", {
      class: (m.out ? "message-out" : "message-in") + " focusable-list-item",
      "data-id": m.data_id,
      tabindex: "-1"
    }, [h("div", { class: "bubble" + (m.status === "failed" ? " failed" : "") }, [inner, meta])]);
    var row = h("div", { role: "row" }, [bubble]);
    chat.bubbles.set(m.id, { el: row, status: m.status });
    list.appendChild(row);
    list.parentNode.scrollTop = list.parentNode.scrollHeight;
  }

  // --- long-poll ------------------------------------------------------------------------------

  function restartPoll() {
    if (pollAbort) pollAbort.abort();
  }

  function pollLoop(gen) {
    (async function () {
      var first = true;
      while (gen === screenGen) {
        var chat = open;
        var params = new URLSearchParams({ version: String(version), wait: first ? "0" : "1" });
        if (listSince) params.set("lsince", String(listSince));
        if (chat) {
          params.set("chat", chat.phone);
          params.set("since", String(chat.since));
        }
        pollAbort = new AbortController();
        try {
          var data = await api("GET", "/poll?" + params.toString(), null, pollAbort.signal);
          first = false;
          if (gen !== screenGen) return;
          if (!data) continue;
          if (data.crash) return crash(data.crash);
          applyPoll(data, chat);
        } catch (err) {
          if (gen !== screenGen) return;
          if (err.loggedOut) return loggedOut();
          if (err.name !== "AbortError") await sleep(RETRY_MS);
        }
      }
    })();
  }

  function applyPoll(data, chat) {
    var flagsChanged = !me || me.banned !== data.me.banned || me.rate_limited !== data.me.rate_limited;
    me = data.me;
    if (flagsChanged) renderBanners();
    if (chat && chat === open) {
      data.messages.forEach(function (m) { upsertBubble(chat, m); });
      chat.since = data.now;
    }
    if (data.chats) {
      version = data.version;
      listSince = data.now;
      chatsCache = listWithSent(data.chats);
      if (!searching) renderChats(chatsCache);
    }
  }

  function loggedOut() {
    sessionForget().then(showQr);
  }

  function crash(mode) {
    leaveScreen();
    if (mode === "hang") {
      for (;;) { /* a hung renderer: nothing on this page answers any more */ }
    }
    document.body.innerHTML =
      '<div id="sim-crash" data-testid="sim-crash" role="alert" class="crash"><h1>Aw, Snap!</h1>' +
      "<p>Something went wrong while displaying this webpage.</p><p>Error code: SIM_PAGE_CRASHED</p></div>";
    throw new Error("simulated page crash");
  }

  boot();
})();
