// Timestamps in the reader's own time zone and language: every <time datetime="…"> the
// server renders (in UTC, as a fallback without JavaScript) is rewritten here.
// data-style="relative" (the default): "5 minutes ago" / "in 20 minutes" within a day,
// else the local date and time; "absolute": always the local date and time; "seconds":
// the same with seconds (the audit log); "date": the local date alone.
// The full local date and time is the title either way (shown on hover).
(function () {
  "use strict";
  const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const withSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
  const full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const DAY = 86400;

  function format(element) {
    const iso = element.getAttribute("datetime");
    if (!iso) return;
    const when = new Date(iso);
    if (Number.isNaN(when.getTime())) return;
    element.title = full.format(when);
    const style = element.dataset.style;
    if (style === "date") { element.textContent = dateOnly.format(when); return; }
    if (style === "seconds") { element.textContent = withSeconds.format(when); return; }
    const seconds = Math.round((when.getTime() - Date.now()) / 1000);
    if (style === "absolute" || Math.abs(seconds) >= DAY) {
      element.textContent = absolute.format(when);
    } else if (Math.abs(seconds) < 45) {
      element.textContent = seconds <= 0 ? relative.format(0, "second") : relative.format(1, "minute");
    } else if (Math.abs(seconds) < 3600) {
      element.textContent = relative.format(Math.round(seconds / 60), "minute");
    } else {
      element.textContent = relative.format(Math.round(seconds / 3600), "hour");
    }
  }

  function formatAll(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(format);
  }

  window.opaaTime = { format, formatAll };
  formatAll();
  // Relative times ("2 minutes ago") stay true while the page is open.
  setInterval(formatAll, 30000);
})();
