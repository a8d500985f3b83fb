// A document's page while its passages are embedded: its status, "n of m passages
// embedded" and whether embedding is failing change in place (polled), until it is
// indexed or its embedding given up. Nothing is polled for a document not waiting for
// its vectors (the page then has no data-status-url).
(function () {
  "use strict";
  const summary = document.querySelector("section.document-summary[data-status-url]");
  if (!summary) return;
  // The status words and the translation functions (status_labels.js, loaded before).
  const { gettext, interpolate } = window.opaaStatus;
  const badge = summary.querySelector("[data-doc-status]");
  const improving = summary.querySelector(".improving");
  const passages = summary.querySelector(".passages");
  const failing = summary.querySelector(".embedding-failing");
  const PERIOD_MS = 1500;

  function indexedAt(iso) {
    // "Last indexed": when it became indexed (in the reader's zone where time.js runs).
    const cell = summary.querySelector("[data-doc-indexed]");
    if (!cell || !iso) return;
    const time = document.createElement("time");
    time.setAttribute("datetime", iso);
    time.textContent = interpolate(gettext("%(indexed_at)s UTC"),
      { indexed_at: iso.slice(0, 16).replace("T", " ") }, true);
    cell.replaceChildren(time);
    if (window.opaaTime) window.opaaTime.format(time);
  }

  function show(doc) {
    badge.className = `status status-${doc.status}`;
    const givenUp = window.opaaStatus.givenUp(doc);
    badge.textContent = window.opaaStatus.label(doc);
    const waiting = doc.status === "searchable" && !givenUp;
    if (waiting && doc.passages) passages.textContent = window.opaaStatus.passages(doc.passages);
    improving.hidden = !waiting;
    failing.hidden = !(waiting && doc.embedding_failing);
    failing.textContent = failing.hidden ? "" : interpolate(gettext(
      "Embedding is failing. The embedding service says: “%(reason)s”. Keyword search " +
      "finds the document meanwhile; its passages are embedded once the service works again."),
    { reason: doc.embedding_failing }, true);
    if (givenUp || doc.status === "failed") {
      // The reason (and Retry, for its admins, on the next visit) replaces the progress.
      let error = summary.querySelector("p.error:not(.embedding-failing)");
      if (!error) {
        error = document.createElement("p");
        error.className = "error";
        error.setAttribute("role", "status");
        improving.before(error);
      }
      error.textContent = doc.error_message;
    }
    if (doc.status === "indexed") indexedAt(doc.indexed_at);
    return waiting;
  }

  async function refresh() {
    let more = true;
    try {
      const response = await fetch(summary.dataset.statusUrl, { credentials: "same-origin" });
      if (response.ok) {
        const [doc] = (await response.json()).documents;
        // Gone (erased, or no longer readable): stop; the next visit says so.
        more = doc ? show(doc) : false;
      } else {
        // Signed out or no longer a member: stop; a server's hiccup: try again.
        more = response.status >= 500;
      }
    } catch (error) {
      // Offline a moment: try again at the next period.
    }
    if (more) setTimeout(refresh, PERIOD_MS);
  }
  setTimeout(refresh, PERIOD_MS);
})();
