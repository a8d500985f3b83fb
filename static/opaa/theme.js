// Light or dark: the system's preference unless the person chose one (remembered in
// localStorage). Loaded blocking in <head>, before the styles, so that the page is never
// painted in the wrong theme first.
(function () {
  "use strict";
  const KEY = "opaa-theme";
  const root = document.documentElement;

  function stored() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }

  function apply(theme) {
    if (theme === "light" || theme === "dark") root.dataset.theme = theme;
    else delete root.dataset.theme;  // follow the system (prefers-color-scheme)
  }

  apply(stored());

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[data-theme-switch]").forEach(function (select) {
      select.value = root.dataset.theme || "system";
      select.addEventListener("change", function () {
        const theme = select.value;
        try {
          if (theme === "system") localStorage.removeItem(KEY);
          else localStorage.setItem(KEY, theme);
        } catch (e) { /* private mode: the choice lasts for this page only */ }
        apply(theme);
      });
    });
  });
})();
