/* The simulator's "phone": link pending QR codes and play scenarios on linked accounts.
 * It only calls the control API under /_sim/ (the same one tests use). */
(function () {
  "use strict";

  var REFRESH_MS = 1000;
  var pairingsEl = document.getElementById("pairings");
  var accountsEl = document.getElementById("accounts");
  var typed = {}; // keeps what the user typed across refreshes, by input name

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { if (c) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return el;
  }

  function control(method, path, body) {
    return fetch("/_sim" + path, {
      method: method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
      cache: "no-store"
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error((data.error && data.error.message) || "HTTP " + r.status);
        return data;
      });
    });
  }

  function input(name, placeholder, value) {
    var el = h("input", { name: name, placeholder: placeholder });
    el.value = typed[name] !== undefined ? typed[name] : value || "";
    el.addEventListener("input", function () { typed[name] = el.value; });
    return el;
  }

  function button(label, onClick, secondary) {
    var b = h("button", { type: "button", class: secondary ? "secondary" : "" }, [label]);
    b.addEventListener("click", function () {
      onClick().then(refresh, function (err) { alert(err.message); });
    });
    return b;
  }

  function busy() {
    var active = document.activeElement;
    return active && active.tagName === "INPUT";
  }

  function renderPairings(pairings) {
    pairingsEl.textContent = "";
    if (!pairings.length) {
      pairingsEl.appendChild(h("p", { class: "empty" }, ["No QR code on screen. Open the simulator's WhatsApp Web page in a browser."]));
      return;
    }
    pairings.forEach(function (p, i) {
      var phone = input("pair-phone-" + i, "Phone number to link as, e.g. 919876543210", "91987654321" + i);
      var name = input("pair-name-" + i, "Name (optional)", "");
      pairingsEl.appendChild(h("div", { class: "item" }, [
        h("div", { class: "ref" }, [p.ref.slice(0, 40) + "…  (" + p.age_s + " s" + (p.stalled ? ", expired" : "") + ")"]),
        phone, name,
        button("Link", function () {
          return control("POST", "/link", { ref: p.ref, phone: phone.value, name: name.value || null });
        })
      ]));
    });
  }

  function renderAccounts(accounts) {
    accountsEl.textContent = "";
    if (!accounts.length) {
      accountsEl.appendChild(h("p", { class: "empty" }, ["No account yet."]));
      return;
    }
    accounts.forEach(function (a) {
      var from = input("in-from-" + a.phone, "From (number)", "447700900123");
      var fromName = input("in-name-" + a.phone, "Sender name (optional)", "");
      var text = input("in-text-" + a.phone, "Incoming message text", "");
      accountsEl.appendChild(h("div", { class: "item" }, [
        h("div", {}, [
          h("strong", {}, [a.name + " (+" + a.phone + ")"]),
          " — " + a.sessions.length + " linked device(s), " + a.messages + " message(s)",
          a.banned ? h("span", { class: "flag" }, ["banned"]) : null,
          a.rate_limited ? h("span", { class: "flag" }, ["rate-limited"]) : null
        ]),
        from, fromName, text,
        button("Receive message", function () {
          return control("POST", "/accounts/" + a.phone + "/incoming", { from: from.value, name: fromName.value || null, text: text.value });
        }),
        button("Unlink devices", function () { return control("POST", "/accounts/" + a.phone + "/unlink", {}); }, true),
        button(a.banned ? "Unban" : "Ban", function () {
          return control("POST", "/accounts/" + a.phone + "/flags", { banned: !a.banned });
        }, true),
        button(a.rate_limited ? "Lift rate limit" : "Rate-limit", function () {
          return control("POST", "/accounts/" + a.phone + "/flags", { rate_limited: !a.rate_limited });
        }, true)
      ]));
    });
  }

  function refresh() {
    if (busy()) return Promise.resolve();
    return Promise.all([control("GET", "/pairings"), control("GET", "/accounts")]).then(function (res) {
      if (busy()) return;
      renderPairings(res[0].pairings);
      renderAccounts(res[1].accounts);
    }, function () {});
  }

  refresh();
  setInterval(refresh, REFRESH_MS);
})();
