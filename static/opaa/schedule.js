// A source's schedule: presets (hourly, daily, weekly) fill the cron expression, which
// stays the advanced option ("Custom"); the next runs are shown in the reader's time.
// Sources run on cron in UTC (ingestion/sources.py), as computed here. Without
// JavaScript the cron field is shown alone, as before.
(function () {
  "use strict";
  // Translations from Django's JavaScript catalogue (base.html loads it); English without.
  const gettext = window.gettext || ((text) => text);
  // form_check.js refuses only what cannot be cron at all (five fields of cron's
  // characters); names (mon, jan) and the server's other forms are left to the server.
  window.opaaCron = {
    plausible: function (text) {
      const parts = text.trim().split(/\s+/);
      return parts.length === 5 && parts.every(function (p) { return /^[\w*,\/\-?#]+$/.test(p); });
    },
  };
  const input = document.querySelector("input[data-cron]");
  const preset = document.querySelector("select[data-schedule-preset]");
  const advanced = document.querySelector("[data-cron-field]");
  const output = document.querySelector("[data-next-runs]");
  if (!input || !preset || !advanced || !output) return;

  // One field of a cron expression -> the set of allowed values, or null if invalid.
  function field(text, min, max) {
    const allowed = new Set();
    for (const part of text.split(",")) {
      const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
      if (!match) return null;
      let low = min, high = max;
      if (match[2] !== undefined) {
        low = Number(match[2]);
        high = match[3] !== undefined ? Number(match[3]) : (match[4] ? max : low);
      }
      const step = match[4] ? Number(match[4]) : 1;
      if (low < min || high > max || low > high || step < 1) return null;
      for (let v = low; v <= high; v += step) allowed.add(v);
    }
    return allowed;
  }

  function parse(expression) {
    const parts = expression.trim().split(/\s+/);
    if (parts.length !== 5) return null;
    const [minute, hour, day, month, weekday] = [
      field(parts[0], 0, 59), field(parts[1], 0, 23), field(parts[2], 1, 31),
      field(parts[3], 1, 12), field(parts[4], 0, 7),
    ];
    if (!minute || !hour || !day || !month || !weekday) return null;
    if (weekday.has(7)) weekday.add(0);  // 0 and 7 are both Sunday
    return {
      minute, hour, day, month, weekday,
      // As cron: when both day fields are restricted, either may match.
      anyDay: parts[2] === "*", anyWeekday: parts[4] === "*",
    };
  }

  function dayMatches(cron, when) {
    const byDay = cron.day.has(when.getUTCDate());
    const byWeekday = cron.weekday.has(when.getUTCDay());
    if (cron.anyDay) return byWeekday;
    if (cron.anyWeekday) return byDay;
    return byDay || byWeekday;
  }

  // The next `count` times after now that match, in UTC (at most a few years ahead).
  function nextRuns(cron, count) {
    const runs = [];
    const when = new Date();
    when.setUTCSeconds(0, 0);
    when.setUTCMinutes(when.getUTCMinutes() + 1);
    for (let steps = 0; runs.length < count && steps < 200000; steps++) {
      if (!cron.month.has(when.getUTCMonth() + 1)) {
        when.setUTCMonth(when.getUTCMonth() + 1, 1);
        when.setUTCHours(0, 0);
      } else if (!dayMatches(cron, when)) {
        when.setUTCDate(when.getUTCDate() + 1);
        when.setUTCHours(0, 0);
      } else if (!cron.hour.has(when.getUTCHours())) {
        when.setUTCHours(when.getUTCHours() + 1, 0);
      } else if (!cron.minute.has(when.getUTCMinutes())) {
        when.setUTCMinutes(when.getUTCMinutes() + 1);
      } else {
        runs.push(new Date(when));
        when.setUTCMinutes(when.getUTCMinutes() + 1);
      }
    }
    return runs;
  }

  const format = new Intl.DateTimeFormat(undefined, {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  });

  // The value the server refused already has its message under the field.
  const refused = input.getAttribute("aria-invalid") === "true" ? input.value : null;

  function show() {
    const cron = parse(input.value);
    output.textContent = "";
    output.classList.toggle("error", !cron);
    if (!cron && input.value === refused) return;
    if (!cron && window.opaaCron.plausible(input.value)) {
      output.classList.remove("error");
      output.textContent = gettext("The next runs are shown once the schedule is saved.");
      return;
    }
    if (!cron) {
      output.textContent = gettext("Not a cron expression: five fields, minute hour day month weekday (e.g. 0 * * * * for hourly).");
      return;
    }
    const runs = nextRuns(cron, 3);
    if (!runs.length) { output.textContent = gettext("This schedule never runs."); return; }
    output.append(gettext("Next runs (your time):") + " ");
    runs.forEach(function (run, index) {
      const time = document.createElement("time");
      time.dateTime = run.toISOString();
      time.textContent = format.format(run);
      output.append(time);
      if (index < runs.length - 1) output.append(" · ");
    });
  }

  function syncPreset() {
    const value = input.value.trim();
    const known = Array.from(preset.options).some(function (o) { return o.value && o.value === value; });
    preset.value = known ? value : "";
    advanced.hidden = known;
  }

  preset.closest("[data-schedule-presets]").hidden = false;
  syncPreset();
  show();
  preset.addEventListener("change", function () {
    if (preset.value) input.value = preset.value;
    advanced.hidden = Boolean(preset.value);
    if (!preset.value) input.focus();
    show();
  });
  input.addEventListener("input", show);
  // A schedule with a problem (from the server) stays open for correction.
  if (input.getAttribute("aria-invalid") === "true") advanced.hidden = false;
})();
