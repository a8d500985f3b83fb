// A citation links to /documents/<id>/#chunk-<passage>. A long document's preview is cut
// into parts: when the passage is not in the part shown, open the part that holds it.
(function () {
  "use strict";
  const wanted = /^#chunk-(\d+)$/.exec(window.location.hash);
  if (!wanted || document.getElementById("chunk-" + wanted[1])) return;
  if (new URLSearchParams(window.location.search).get("chunk") === wanted[1]) return;
  window.location.replace("?chunk=" + wanted[1] + window.location.hash);
})();
