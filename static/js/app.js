/* Chorus portal behaviour. Loaded in <head> without defer: the theme is applied before the
 * first paint; everything that needs the DOM waits for DOMContentLoaded. No dependencies
 * besides htmx (static/vendor/htmx.min.js), which is optional for everything here. */
(function () {
  "use strict";

  var THEME_KEY = "chorus-theme";
  var root = document.documentElement;

  // ---- theme: the system preference unless the user picked one (kept in localStorage) ----

  function storedTheme() {
    try {
      var value = window.localStorage.getItem(THEME_KEY);
      return value === "light" || value === "dark" ? value : null;
    } catch (e) {
      return null; // storage blocked (private mode, policy): follow the system
    }
  }

  function systemTheme() {
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function effectiveTheme() {
    return root.getAttribute("data-theme") || systemTheme();
  }

  function applyTheme(theme) {
    if (theme) {
      root.setAttribute("data-theme", theme);
    } else {
      root.removeAttribute("data-theme");
    }
  }

  function toggleTheme() {
    var next = effectiveTheme() === "dark" ? "light" : "dark";
    applyTheme(next);
    try {
      window.localStorage.setItem(THEME_KEY, next);
    } catch (e) {
      /* not persisted; still applied for this page */
    }
    updateToggleLabels();
  }

  function updateToggleLabels() {
    var dark = effectiveTheme() === "dark";
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      button.setAttribute("aria-pressed", dark ? "true" : "false");
    });
  }

  applyTheme(storedTheme());

  // ---- CSRF for htmx: every non-GET htmx request carries Django's token ----

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) return meta.content;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var verb = (event.detail.verb || "get").toLowerCase();
    if (verb !== "get") {
      event.detail.headers["X-CSRFToken"] = csrfToken();
    }
  });

  // ---- navigation drawer on small screens ----

  function setNav(open) {
    var shell = document.querySelector("[data-shell]");
    if (!shell) return;
    shell.classList.toggle("nav-open", open);
    document.querySelectorAll("[data-nav-toggle]").forEach(function (button) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
    document.querySelectorAll(".nav-backdrop").forEach(function (backdrop) {
      backdrop.hidden = !open;
    });
    if (open) {
      var first = shell.querySelector(".sidebar .nav-link");
      if (first) first.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;

    if (target.closest("[data-theme-toggle]")) {
      toggleTheme();
      return;
    }
    if (target.closest("[data-nav-toggle]")) {
      var shell = document.querySelector("[data-shell]");
      setNav(!(shell && shell.classList.contains("nav-open")));
      return;
    }
    if (target.closest("[data-nav-close]")) {
      setNav(false);
      return;
    }
    var dismiss = target.closest("[data-dismiss]");
    if (dismiss) {
      var message = dismiss.closest(".message");
      if (message) message.remove();
      return;
    }
    var copy = target.closest("[data-copy]");
    if (copy) {
      var source = document.getElementById(copy.getAttribute("data-copy"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          var done = copy.getAttribute("data-copied-label");
          if (done) copy.querySelector("span").textContent = done;
        });
      }
      return;
    }
    // A click outside an open menu closes it.
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(target)) menu.removeAttribute("open");
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    setNav(false);
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
  });

  // ---- forms: confirmation prompts and auto-submitting selects ----

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!(field instanceof HTMLSelectElement)) return;
    var form = field.form;
    if (form && form.hasAttribute("data-autosubmit")) {
      form.submit();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    root.classList.add("js");
    updateToggleLabels();
  });

  if (window.matchMedia) {
    var query = window.matchMedia("(prefers-color-scheme: dark)");
    var onChange = function () {
      updateToggleLabels();
    };
    if (query.addEventListener) query.addEventListener("change", onChange);
  }
})();
