// The document readers box: completion over the organization's members and groups, and
// what each line will be (person, group, or not known: the server then refuses it).
(function () {
  "use strict";
  // Translations from Django's JavaScript catalogue (base.html loads it); English without.
  const gettext = window.gettext || ((text) => text);
  const interpolate = window.interpolate ||
    ((text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => values[key]));
  const box = document.getElementById("readers");
  const data = document.getElementById("reader-choices-data");
  if (!box || !data) return;
  const choices = JSON.parse(data.textContent);
  const picker = document.querySelector(".reader-picker");
  const input = document.getElementById("reader-add");
  const options = document.getElementById("reader-choices");
  const list = document.querySelector(".reader-list");
  const summary = document.getElementById("reader-summary");
  const kinds = { person: gettext("Person"), group: gettext("Group"), unknown: gettext("Unknown") };

  for (const choice of choices) {
    const option = document.createElement("option");
    option.value = choice.kind === "group" ? choice.name : choice.detail;
    option.label = `${kinds[choice.kind]} · ${choice.name}` +
      (choice.kind === "person" && choice.name !== choice.detail ? ` (${choice.detail})` : "");
    options.append(option);
  }

  // What one typed line names, matched as the server matches it.
  function resolve(line) {
    const value = line.trim().toLowerCase();
    const bare = value.replace(/^(user|group):/, "");
    return choices.find((c) =>
      c.principal === value ||
      (c.kind === "group" && (c.name.toLowerCase() === value || c.detail === bare)) ||
      (c.kind === "person" && c.detail === bare));
  }

  function lines() {
    return box.value.split(/[\n,;]/).map((l) => l.trim()).filter(Boolean);
  }

  function render() {
    list.replaceChildren();
    let unknown = 0;
    for (const line of lines()) {
      const choice = resolve(line);
      const item = document.createElement("li");
      const kind = document.createElement("span");
      kind.className = "reader-kind";
      item.className = `reader reader-${choice ? choice.kind : "unknown"}`;
      kind.textContent = choice ? kinds[choice.kind] : kinds.unknown;
      item.append(kind, " ", choice ? choice.name : line);
      if (choice && choice.kind === "person" && choice.detail !== choice.name) {
        const detail = document.createElement("span");
        detail.className = "muted";
        detail.textContent = choice.detail;
        item.append(" ", detail);
      }
      if (!choice) {
        unknown += 1;
        const why = document.createElement("span");
        why.className = "error";
        why.textContent = " — " + gettext("no member or group of this name: saving will be refused");
        item.append(why);
      }
      list.append(item);
    }
    summary.textContent = !lines().length
      ? gettext("Every member of the workspace will read it.")
      : unknown ? interpolate(gettext("Who will read it (%(unknown)s not known):"), { unknown: unknown }, true)
        : gettext("Who will read it:");
  }

  function add() {
    const value = input.value.trim();
    if (!value) return;
    const choice = resolve(value);
    const line = choice ? (choice.kind === "group" ? choice.name : choice.detail) : value;
    if (!lines().includes(line)) {
      box.value = (box.value.trim() ? box.value.trim() + "\n" : "") + line;
    }
    input.value = "";
    render();
    input.focus();
  }

  picker.hidden = false;
  box.addEventListener("input", render);
  document.querySelector("[data-reader-add]").addEventListener("click", add);
  input.addEventListener("keydown", (key) => {
    if (key.key === "Enter") {
      key.preventDefault();
      add();
    }
  });
  // A choice picked from the list is added at once.
  input.addEventListener("change", () => {
    if (resolve(input.value)) add();
  });
  render();
})();
