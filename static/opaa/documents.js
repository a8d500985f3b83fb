// The documents page: find by title or file name, filter by status, type and language,
// sort by any column (its header is a button; aria-sort says the order). Works on the
// rows the page holds; status.js keeps their statuses live, the filter follows.
(function () {
  "use strict";
  const table = document.querySelector("table.documents");
  const tools = document.querySelector("[data-doc-tools]");
  if (!table || !tools) return;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const count = document.querySelector("[data-doc-count]");
  const none = document.querySelector("[data-doc-none]");
  const filters = {};
  tools.querySelectorAll("[data-doc-filter]").forEach(function (el) { filters[el.dataset.docFilter] = el; });

  const typeOf = function (row) {
    const name = row.cells[1].textContent.trim();
    const dot = name.lastIndexOf(".");
    return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
  };
  const statusOf = function (row) {
    const badge = row.querySelector(".status");
    const match = /status-(\w+)/.exec(badge ? badge.className : "");
    return match ? match[1] : "";
  };

  function fill(select, values, label) {
    Array.from(new Set(values)).filter(Boolean).sort().forEach(function (value) {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = label(value);
      select.appendChild(option);
    });
  }
  fill(filters.type, rows.map(typeOf), function (v) { return v.toUpperCase(); });
  fill(filters.language, rows.map(function (r) { return r.dataset.language; }),
       function (v) { return v.charAt(0).toUpperCase() + v.slice(1); });

  function apply() {
    const text = filters.text.value.trim().toLowerCase();
    let shown = 0;
    rows.forEach(function (row) {
      const visible =
        (!text || (row.cells[0].textContent + " " + row.cells[1].textContent).toLowerCase().includes(text)) &&
        (!filters.status.value || statusOf(row) === filters.status.value) &&
        (!filters.type.value || typeOf(row) === filters.type.value) &&
        (!filters.language.value || row.dataset.language === filters.language.value);
      row.hidden = !visible;
      if (visible) shown++;
    });
    count.textContent = shown === rows.length
      ? `${rows.length} document${rows.length === 1 ? "" : "s"}`
      : `${shown} of ${rows.length} documents shown`;
    none.hidden = shown > 0;
  }

  // Sorting: each sortable header holds a button; a second press reverses the order.
  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach(function (th, column) {
    if (!th.dataset.sort) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = th.textContent;
    th.textContent = "";
    th.appendChild(button);
    button.addEventListener("click", function () {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const key = function (row) {
        const cell = row.cells[column];
        const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
        return th.dataset.sort === "number" ? Number(raw) : raw.toLowerCase();
      };
      const sorted = rows.slice().sort(function (a, b) {
        const [x, y] = [key(a), key(b)];
        if (x === y) return 0;
        if (x === "") return 1;  // rows without a value (not indexed yet) last
        if (y === "") return -1;
        return (x < y ? -1 : 1) * (ascending ? 1 : -1);
      });
      sorted.forEach(function (row) { body.appendChild(row); });
    });
  });

  Object.values(filters).forEach(function (el) { el.addEventListener("input", apply); });
  document.querySelector("[data-doc-reset]").addEventListener("click", function () {
    tools.reset();
    apply();
  });
  // Statuses change while documents are indexed: keep the status filter true.
  new MutationObserver(apply).observe(body, { subtree: true, attributes: true, attributeFilter: ["class"] });
  tools.hidden = false;
  apply();
})();
