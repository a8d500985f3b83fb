// Live document statuses on the documents page: poll while anything is still in progress.
(function () {
  "use strict";
  const table = document.querySelector("table.documents");
  if (!table) return;
  // The status words and the translation functions (status_labels.js, loaded before).
  const { gettext, interpolate } = window.opaaStatus;
  // "searchable": found by keyword already, its vectors still coming: keep polling
  // (unless their embedding was given up: searchable with an error, Retry brings it back).
  // A row's status badge is marked (data-doc-status): a shared document's row has a
  // "Shared from" badge before it, of the same look.
  const BADGE = "[data-doc-status]";
  const busy = () =>
    table.querySelector(`${BADGE}.status-pending, ${BADGE}.status-processing`) !== null ||
    Array.from(table.querySelectorAll(`${BADGE}.status-searchable`)).some(
      (badge) => !badge.closest("tr").querySelector(".error-message").textContent.trim());

  async function refresh() {
    const response = await fetch(table.dataset.statusUrl, { credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    for (const doc of data.documents) {
      const row = table.querySelector(`tr[data-id="${doc.id}"]`);
      if (!row) continue;
      const badge = row.querySelector(BADGE);
      if (!badge) continue;
      badge.className = `status status-${doc.status}`;
      badge.textContent = window.opaaStatus.label(doc);
      row.querySelector(".error-message").textContent = doc.error_message;
      // A searchable document's vectors so far ("n of m passages embedded").
      const passages = row.querySelector(".passages");
      if (passages) {
        passages.textContent = doc.passages && !doc.error_message
          ? window.opaaStatus.passages(doc.passages) : "";
      }
      // Its vectors wait while embedding fails: the provider's reason (to admins).
      const failing = row.querySelector(".embedding-failing");
      if (failing) {
        failing.textContent = doc.embedding_failing
          ? interpolate(gettext("Embedding is failing: “%(reason)s”"),
            { reason: doc.embedding_failing }, true)
          : "";
      }
    }
    if (busy()) setTimeout(refresh, 1500);
  }
  if (busy()) setTimeout(refresh, 1500);
})();
