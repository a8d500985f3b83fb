// Live progress on the sources page: poll while a run is queued or running.
(function () {
  "use strict";
  // Translations from Django's JavaScript catalogue (base.html loads it); English without.
  const gettext = window.gettext || ((text) => text);
  const interpolate = window.interpolate ||
    ((text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => values[key]));
  const table = document.querySelector("table.sources-table");
  if (!table) return;
  const busy = () => table.querySelector(".status-queued, .status-running") !== null;

  function counts(run) {
    return interpolate(gettext("%(seen)s seen · %(added)s added · %(updated)s updated · %(unchanged)s unchanged · %(deleted)s deleted · %(failed)s failed"), run, true);
  }

  async function refresh() {
    const response = await fetch(table.dataset.statusUrl, { credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    for (const source of data.sources) {
      const row = table.querySelector(`tr[data-id="${source.id}"]`);
      if (!row || !source.run) continue;
      const badge = row.querySelector(".run-status");
      const bar = row.querySelector("progress");
      if (badge) {
        badge.className = `status run-status status-${source.run.status}`;
        badge.textContent = source.run.status.charAt(0).toUpperCase() + source.run.status.slice(1);
      }
      const active = source.run.status === "queued" || source.run.status === "running";
      // Only a sync under way shows progress: a failed one is no full bar but its reason.
      if (bar) {
        // No value: an indeterminate bar, until the sync has counted its items.
        if (source.run.percent === null) {
          bar.removeAttribute("value");
          bar.textContent = "";
        } else {
          bar.value = source.run.percent;
          bar.textContent = `${source.run.percent}%`;
        }
        bar.hidden = !active;
      }
      const eta = row.querySelector(".run-eta");
      if (eta) {
        eta.textContent = source.run.eta_seconds === null ? "" :
          interpolate(gettext("%(seen)s of %(total)s items · %(eta_text)s"), source.run, true);
        eta.hidden = !active || source.run.eta_seconds === null;
      }
      const error = row.querySelector(".run .error-message");
      if (error) {
        error.textContent = source.run.error_message || "";
        error.hidden = !source.run.error_message;
      }
      const when = row.querySelector(".run-when");
      const at = source.run.finished_at || source.run.started_at;
      if (when && at) {
        when.textContent = (source.run.finished_at ? gettext("finished") : gettext("started")) + " ";
        const time = document.createElement("time");
        time.setAttribute("datetime", at);
        time.textContent = at;
        when.appendChild(time);
        if (window.opaaTime) window.opaaTime.format(time);
      }
      const cell = row.querySelector(".counts");
      const indexing = cell.querySelector(".indexing");
      indexing.textContent = interpolate(
        ngettext("%(documents)s document", "%(documents)s documents", source.documents),
        source, true) +
        (source.indexing ? interpolate(gettext(", %(indexing)s indexing"), source, true) : "");
      // Its documents found by keyword already, their vectors still coming.
      let embedding = cell.querySelector(".embedding");
      if (source.passages) {
        if (!embedding) {
          embedding = document.createElement("small");
          embedding.className = "muted embedding";
          indexing.after(embedding);
        }
        embedding.textContent = interpolate(ngettext(
          "%(improving)s searchable, improving: %(embedded)s of %(total)s passages embedded",
          "%(improving)s searchable, improving: %(embedded)s of %(total)s passages embedded",
          source.improving), {improving: source.improving, ...source.passages}, true);
      } else if (embedding) {
        embedding.remove();
      }
      cell.firstChild.textContent = counts(source.run) + " ";
    }
    if (busy()) setTimeout(refresh, 1500);
  }
  if (busy()) setTimeout(refresh, 1500);
})();
