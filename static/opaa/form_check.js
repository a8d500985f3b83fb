// Every problem of a form at once, before it is sent: forms marked data-check-all are
// checked on submit (required fields, data-cron schedules, data-urls lines) and, when
// something is wrong, not sent; the problems are listed above the form, each linking to
// its field, as the server lists its own (templates/form_errors.html). The browser's own
// check would stop at the first problem, so it is switched off while this one runs.
(function () {
  "use strict";
  // Translations from Django's JavaScript catalogue (base.html loads it); English without.
  const gettext = window.gettext || ((text) => text);
  // Built from a string: a regex literal with "/" in it ends xgettext's reading of this
  // file, and the messages after it would never reach the catalogue.
  const HTTP_ADDRESS = new RegExp("^https?://[^\\s/]+");
  const interpolate = window.interpolate ||
    ((text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => values[key]));
  const forms = document.querySelectorAll("form[data-check-all]");
  if (!forms.length) return;

  function labelOf(field) {
    const label = field.id && document.querySelector(`label[for="${field.id}"]`);
    if (!label) return field.name;
    const own = label.cloneNode(true);
    own.querySelectorAll("small").forEach(function (small) { small.remove(); });
    return own.textContent.replace(/\(.*\)/, "").trim();
  }

  function problemsOf(form) {
    const problems = [];
    form.querySelectorAll("input, textarea, select").forEach(function (field) {
      if (field.type === "hidden" || field.disabled) return;
      const value = field.value.trim();
      field.removeAttribute("aria-invalid");
      let problem = "";
      if (field.required && !value) {
        problem = interpolate(gettext("%(field)s is required."), { field: labelOf(field) }, true);
      } else if (field.hasAttribute("data-cron") && window.opaaCron && !window.opaaCron.plausible(value)) {
        problem = interpolate(
          gettext("'%(value)s' is not a cron schedule such as '0 * * * *' (hourly)."),
          { value: value }, true);
      } else if (field.hasAttribute("data-urls")) {
        const wrong = value.split("\n").map(function (line) { return line.trim(); })
          .filter(function (line) { return line && !HTTP_ADDRESS.test(line); });
        if (wrong.length) {
          problem = interpolate(gettext("%(field)s: %(addresses)s is not an http(s) address."),
            { field: labelOf(field), addresses: wrong.join(", ") }, true);
        }
      }
      if (problem) {
        field.setAttribute("aria-invalid", "true");
        problems.push({ field: field, text: problem });
      }
    });
    return problems;
  }

  function show(form, problems) {
    let summary = form.parentNode.querySelector(".error-summary");
    if (!summary) {
      summary = document.createElement("div");
      summary.className = "error-summary";
      summary.setAttribute("role", "alert");
      summary.tabIndex = -1;
      form.parentNode.insertBefore(summary, form);
    }
    summary.textContent = "";
    const heading = document.createElement("h2");
    heading.textContent = problems.length > 1 ? gettext("Please fix these problems") :
      gettext("Please fix this problem");
    const list = document.createElement("ul");
    problems.forEach(function (problem) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `#${problem.field.id}`;
      link.textContent = problem.text;
      link.addEventListener("click", function (event) {
        event.preventDefault();
        const hidden = problem.field.closest("[hidden]");
        if (hidden) hidden.hidden = false;  // e.g. the cron field behind "How often"
        problem.field.focus();
      });
      item.appendChild(link);
      list.appendChild(item);
    });
    summary.append(heading, list);
    summary.focus();
  }

  forms.forEach(function (form) {
    form.noValidate = true;
    form.addEventListener("submit", function (event) {
      const problems = problemsOf(form);
      if (!problems.length) return;
      event.preventDefault();
      show(form, problems);
    });
  });
})();
