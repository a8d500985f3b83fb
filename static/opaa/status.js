// Live document statuses on the documents page: poll while anything is still in progress.
(function () {
  "use strict";
  // Translations from Django's JavaScript catalogue (base.html loads it); English without.
  const gettext = window.gettext || ((text) => text);
  const table = document.querySelector("table.documents");
  if (!table) return;
  const labels = {
    pending: gettext("Pending"), processing: gettext("Processing"),
    searchable: gettext("Searchable, improving"),
    indexed: gettext("Indexed"), failed: gettext("Failed"),
  };
  // "searchable": found by keyword already, its vectors still coming: keep polling.
  const busy = () =>
    table.querySelector(".status-pending, .status-processing, .status-searchable") !== null;

  async function refresh() {
    const response = await fetch(table.dataset.statusUrl, { credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    for (const doc of data.documents) {
      const row = table.querySelector(`tr[data-id="${doc.id}"]`);
      if (!row) continue;
      const badge = row.querySelector(".status");
      badge.className = `status status-${doc.status}`;
      badge.textContent = labels[doc.status] || doc.status;
      row.querySelector(".error-message").textContent = doc.error_message;
    }
    if (busy()) setTimeout(refresh, 1500);
  }
  if (busy()) setTimeout(refresh, 1500);
})();
