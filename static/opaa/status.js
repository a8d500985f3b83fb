// Live document statuses on the documents page: poll while anything is still in progress.
(function () {
  "use strict";
  // Translations from Django's JavaScript catalogue (base.html loads it); English without.
  const gettext = window.gettext || ((text) => text);
  const ngettext = window.ngettext || ((one, many, n) => (n === 1 ? one : many));
  const interpolate = window.interpolate ||
    ((text, values) => text.replace(/%\((\w+)\)s/g, (_, name) => String(values[name])));
  const table = document.querySelector("table.documents");
  if (!table) return;
  const labels = {
    pending: gettext("Pending"), processing: gettext("Processing"),
    searchable: gettext("Searchable, improving"),
    indexed: gettext("Indexed"), failed: gettext("Failed"),
  };
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
      // Searchable with a reason: its embedding was given up, it improves no more.
      badge.textContent = doc.status === "searchable" && doc.error_message
        ? gettext("Searchable by keyword") : labels[doc.status] || doc.status;
      row.querySelector(".error-message").textContent = doc.error_message;
      // A searchable document's vectors so far ("n of m passages embedded").
      const passages = row.querySelector(".passages");
      if (passages) {
        passages.textContent = doc.passages && !doc.error_message
          ? interpolate(ngettext("%(embedded)s of %(total)s passage embedded",
            "%(embedded)s of %(total)s passages embedded", doc.passages.total), doc.passages, true)
          : "";
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
