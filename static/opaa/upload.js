// Documents page uploads: drop files on the form (or choose several), each is sent on its
// own request so it gets its own progress bar and result; then its indexing status is
// polled until done. When every upload has finished (indexed, failed or refused), the
// documents list below is fetched again, so the new documents show without a reload.
// Without this script the form posts all files at once and still works.
(function () {
  "use strict";
  // Translations from Django's JavaScript catalogue (base.html loads it); English without.
  const gettext = window.gettext || ((text) => text);
  const interpolate = window.interpolate ||
    ((text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => values[key]));
  const form = document.querySelector("form.dropzone");
  const list = document.querySelector(".upload-results");
  if (!form || !list || !window.XMLHttpRequest || !window.FormData) return;
  const input = form.querySelector("input[type=file]");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const labels = {
    pending: gettext("Pending"), processing: gettext("Processing"),
    searchable: gettext("Searchable, improving"),
    indexed: gettext("Indexed"), failed: gettext("Failed"),
  };
  const watching = new Map(); // document id -> result element
  let queue = Promise.resolve();
  let polling = false;
  let sending = 0; // files chosen whose upload has not answered yet
  let changed = false; // a document was added or changed since the list was last shown

  function line(file) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = file.size || 1;
    bar.value = 0;
    const result = document.createElement("span");
    result.className = "muted";
    result.textContent = gettext("Waiting…");
    item.append(name, bar, result);
    list.append(item);
    return { bar, result };
  }

  function send(file, shown) {
    return new Promise((resolve) => {
      const data = new FormData();
      data.append("csrfmiddlewaretoken", csrf);
      data.append("files", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) {
          shown.bar.max = event.total;
          shown.bar.value = event.loaded;
        }
        shown.result.textContent = gettext("Uploading…");
      };
      xhr.onload = () => {
        shown.bar.value = shown.bar.max;
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        const outcome = body && body.results ? body.results[0] : null;
        if (!outcome) {
          shown.result.className = "error";
          shown.result.textContent = (body && body.detail) ||
            interpolate(gettext("The upload failed (HTTP %(status)s)."), { status: xhr.status }, true);
        } else if (outcome.outcome === "refused") {
          shown.result.className = "error";
          shown.result.textContent = outcome.detail;
        } else {
          shown.result.className = "";
          shown.result.textContent = outcome.detail;
          if (outcome.document) changed = true;
          if (outcome.document && outcome.outcome !== "duplicate") {
            const badge = document.createElement("span");
            badge.className = "status status-pending";
            badge.textContent = labels.pending;
            shown.result.after(badge);
            watching.set(outcome.document.id, badge);
          }
        }
        resolve();
      };
      xhr.onerror = () => {
        shown.result.className = "error";
        shown.result.textContent = gettext("The upload was interrupted (network error).");
        resolve();
      };
      xhr.send(data);
    });
  }

  async function poll() {
    polling = true;
    const response = await fetch(form.dataset.statusUrl, { credentials: "same-origin" });
    if (response.ok) {
      const data = await response.json();
      for (const doc of data.documents) {
        const badge = watching.get(doc.id);
        if (!badge) continue;
        badge.className = `status status-${doc.status}`;
        badge.textContent = labels[doc.status] || doc.status;
        badge.title = doc.error_message || "";
        if (doc.status === "indexed" || doc.status === "failed") watching.delete(doc.id);
      }
    }
    if (watching.size) setTimeout(poll, 1500);
    else { polling = false; settled(); }
  }

  // The documents list (the card of the find form): its count, table, pages and empty
  // state replaced by the current ones; the find form (and what is typed in it) is kept.
  async function refreshList() {
    const tools = document.querySelector("form.doc-tools");
    const card = tools && tools.closest("section");
    if (!card) { window.location.reload(); return; }
    let fresh = null;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const freshTools = page.querySelector("form.doc-tools");
      fresh = freshTools && freshTools.closest("section");
    } catch (e) { return; }
    if (!fresh) return;
    const take = (root) => {
      const nodes = [];
      for (let node = root.querySelector("form.doc-tools").nextSibling; node; node = node.nextSibling) {
        nodes.push(node);
      }
      return nodes;
    };
    // The count is a live region: its text changes in place, so it is announced.
    const count = card.querySelector(".doc-count");
    const freshCount = fresh.querySelector(".doc-count");
    take(card).forEach((node) => { if (node !== count) node.remove(); });
    for (const node of take(fresh)) {
      if (node === freshCount && count) {
        count.textContent = freshCount.textContent;
        card.append(count);
      } else {
        card.append(document.importNode(node, true));
      }
    }
    if (window.opaaTime) window.opaaTime.formatAll(card);
    // tables.js marks a table wider than its card as a scrolling region on resize.
    window.dispatchEvent(new Event("resize"));
  }

  // Every upload answered and every new document done: show them in the list.
  function settled() {
    if (sending || watching.size || !changed) return;
    changed = false;
    refreshList();
  }

  function upload(files) {
    for (const file of files) {
      const shown = line(file);
      sending += 1;
      // One file at a time: each request stays small and the bars fill in order.
      queue = queue.then(() => send(file, shown)).then(() => { sending -= 1; });
    }
    queue = queue.then(() => {
      if (watching.size && !polling) poll();
      else if (!polling) settled();
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    upload(Array.from(input.files));
    form.reset();
  });
  input.required = false;
  input.addEventListener("change", () => { upload(Array.from(input.files)); form.reset(); });
  form.addEventListener("dragover", (event) => { event.preventDefault(); form.classList.add("dragover"); });
  form.addEventListener("dragleave", () => form.classList.remove("dragover"));
  form.addEventListener("drop", (event) => {
    event.preventDefault();
    form.classList.remove("dragover");
    upload(Array.from(event.dataTransfer.files));
  });
})();
