// Timestamps in the reader's own time zone and language: every <time datetime="…"> the
// server renders (in UTC, as a fallback without JavaScript) is rewritten here.
// data-style="relative" (the default): "5 minutes ago" / "in 20 minutes" within a day,
// else the local date and time; "absolute": always the local date and time; "seconds":
// the same with seconds (the audit log); "date": the local date alone.
// The full local date and time is the title either way (shown on hover).
(function () {
  "use strict";
  // The page's language (<html lang>: the person's setting, else the browser's), so a
  // German page shows German dates even in an English browser; when the browser speaks the
  // page's language, its own regional format (en-GB, de-AT) is kept.
  const page = document.documentElement.lang || "";
  const browser = navigator.language || "";
  const locale = !page || browser.split("-")[0] === page.split("-")[0] ? undefined : page;
  const absolute = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
  const withSeconds = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "medium" });
  const dateOnly = new Intl.DateTimeFormat(locale, { dateStyle: "medium" });
  const full = new Intl.DateTimeFormat(locale, { dateStyle: "full", timeStyle: "long" });
  const relative = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
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
