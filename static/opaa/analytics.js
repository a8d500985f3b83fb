// The analytics period picker counts days in the browser's time zone unless a zone was
// chosen already (the server's is the default without JavaScript).
(function () {
  const field = document.querySelector("[data-analytics-tz]");
  if (!field) return;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const url = new URL(window.location.href);
  if (zone && !url.searchParams.get("tz")) field.value = zone;
  const days = document.querySelector(".analytics-picker select[name=days]");
  const dates = document.querySelectorAll(".analytics-picker input[type=date]");
  // A preset clears the custom dates, and a date chosen switches to "Custom".
  days?.addEventListener("change", () => { if (days.value) dates.forEach((d) => { d.value = ""; }); });
  dates.forEach((d) => d.addEventListener("change", () => { if (d.value && days) days.value = ""; }));
})();

// A golden run in progress: the page shows its progress again every few seconds, until
// the run is done (the server then renders no progress box).
(function () {
  if (!document.querySelector("[data-run-progress]")) return;
  setTimeout(() => window.location.reload(), 3000);
})();
