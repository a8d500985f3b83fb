// Copy buttons: <button data-copy="ID">, hidden without JavaScript or a clipboard, copy
// the text of the element ID and say so for two seconds.
(function () {
  "use strict";
  // Translations from Django's JavaScript catalogue (base.html loads it); English without.
  const gettext = window.gettext || ((text) => text);
  if (!navigator.clipboard) return;
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) continue;
    const label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        button.textContent = gettext("Copied");
      } catch (error) {
        button.textContent = gettext("Copy failed: select the text and copy it");
      }
      setTimeout(() => (button.textContent = label), 2000);
    });
  }
})();
