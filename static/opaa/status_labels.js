// A document's status as both live pages say it, the documents list (status.js) and a
// document's page (document_status.js): window.opaaStatus. Loaded before them.
(function () {
  "use strict";
  // Translations from Django's JavaScript catalogue (base.html loads it); English without.
  const gettext = window.gettext || ((text) => text);
  const ngettext = window.ngettext || ((one, many, n) => (n === 1 ? one : many));
  const interpolate = window.interpolate ||
    ((text, values) => text.replace(/%\((\w+)\)s/g, (_, name) => String(values[name])));
  const labels = {
    pending: gettext("Pending"), processing: gettext("Processing"),
    searchable: gettext("Searchable, improving"),
    indexed: gettext("Indexed"), failed: gettext("Failed"),
  };

  // Searchable with a reason: its embedding was given up (Retry brings it back), it
  // improves no more.
  const givenUp = (doc) => doc.status === "searchable" && Boolean(doc.error_message);

  window.opaaStatus = {
    gettext, ngettext, interpolate, givenUp,
    // The status badge's word for a document of the status JSON.
    label: (doc) => (givenUp(doc) ? gettext("Searchable by keyword") : labels[doc.status] || doc.status),
    // How far its vectors are ({embedded, total}): "n of m passages embedded".
    passages: (passages) => interpolate(ngettext("%(embedded)s of %(total)s passage embedded",
      "%(embedded)s of %(total)s passages embedded", passages.total), passages, true),
  };
})();
