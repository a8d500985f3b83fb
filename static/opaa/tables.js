// A table wider than its card scrolls inside it (.table-scroll); keyboard users reach the
// scrolling with Tab: such a box becomes focusable, named after the nearest heading.
(function () {
  "use strict";
  function mark() {
    document.querySelectorAll(".table-scroll").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth) {
        if (box.hasAttribute("tabindex")) return;
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        const card = box.closest("section, details, article");
        const heading = card && card.querySelector("h1, h2, h3, summary");
        box.setAttribute("aria-label", (heading ? heading.textContent.trim() + ": " : "") + "table, scrolls sideways");
      } else if (box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }
  mark();
  window.addEventListener("resize", mark);
  // Tables inside a <details> have no width until it opens.
  document.querySelectorAll("details").forEach(function (d) { d.addEventListener("toggle", mark); });
})();
