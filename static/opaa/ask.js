// Streams the answer on the ask page: sources first, then the text as it is written,
// then the final answer with its validated citations. Without JavaScript, or if the
// stream cannot start, the form posts normally and the page shows the whole answer.
(function () {
  "use strict";
  // Translations from Django's JavaScript catalogue (base.html loads it); English without.
  const gettext = window.gettext || ((text) => text);
  const interpolate = window.interpolate ||
    ((text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => values[key]));
  // "Copy answer": the answer's text and its numbered sources, as plain text.
  if (navigator.clipboard) {
    for (const button of document.querySelectorAll("button.copy-answer")) {
      const card = document.getElementById(button.dataset.answer);
      if (!card) continue;
      button.hidden = false;
      button.addEventListener("click", async () => {
        const answer = card.querySelector(".answer-text").innerText.trim();
        const sources = [...card.querySelectorAll("ol.sources > li")].map(
          (item) => `[${item.value}] ${item.querySelector("a").textContent} <${item.querySelector("a").href}>`
        );
        const text = sources.length ? `${answer}\n\n${gettext("Sources:")}\n${sources.join("\n")}` : answer;
        try {
          await navigator.clipboard.writeText(text);
          button.textContent = gettext("Copied");
        } catch (error) {
          button.textContent = gettext("Copy failed");
        }
        setTimeout(() => (button.textContent = gettext("Copy answer")), 2000);
      });
    }
  }

  // The [n] markers of an answer: a link to its source n, showing the passage on hover
  // and on keyboard focus (the passage also describes the link for screen readers).
  function linkCitations(card) {
    const answer = card.querySelector(".answer-text");
    if (!answer) return;
    const walker = document.createTreeWalker(answer, NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    for (const node of nodes) {
      const parts = node.textContent.split(/(\[\d+\])/);
      if (parts.length === 1) continue;
      const fragment = document.createDocumentFragment();
      for (const part of parts) {
        const number = /^\[(\d+)\]$/.exec(part);
        const source = number && card.querySelector(`#source-${card.dataset.turn}-${number[1]}`);
        if (!source) {
          fragment.append(part);
          continue;
        }
        const passage = source.querySelector("blockquote");
        const link = document.createElement("a");
        link.className = "cite";
        link.href = `#${source.id}`;
        link.textContent = part;
        link.setAttribute("aria-label", `Source ${number[1]}: ${source.querySelector("a").textContent}`);
        if (passage) {
          link.setAttribute("aria-describedby", passage.id);
          const popup = document.createElement("span");
          popup.className = "cite-passage";
          popup.setAttribute("aria-hidden", "true");
          popup.textContent = passage.textContent;
          link.append(popup);
        }
        fragment.append(link);
      }
      node.replaceWith(fragment);
    }
  }
  for (const card of document.querySelectorAll("section.answer[data-turn]")) linkCitations(card);

  const form = document.querySelector("form.ask[data-stream-url]");
  const live = document.getElementById("live-answer");
  // Enter sends the question; Shift+Enter starts a new line (and Enter while an input
  // method is composing a character is left to it).
  if (form) {
    form.question.addEventListener("keydown", (key) => {
      if (key.key !== "Enter" || key.shiftKey || key.isComposing) return;
      key.preventDefault();
      if (form.requestSubmit) form.requestSubmit();
      else if (form.reportValidity()) form.submit();
    });
  }
  if (!form || !live || !window.fetch || !window.ReadableStream) return;
  const text = live.querySelector(".answer-text");
  const meta = live.querySelector(".answer-meta");
  const list = live.querySelector(".sources");
  const modes = {
    llm: gettext("Written from your documents"),
    extractive: gettext("Quoted from your documents"),
    no_answer: gettext("No answer found in your documents"),
  };

  function showSources(sources) {
    list.replaceChildren();
    for (const s of sources) {
      const item = document.createElement("li");
      item.value = s.number;
      const link = document.createElement("a");
      link.href = s.url;
      link.textContent = s.document_title;
      item.append(link);
      if (s.heading_path.length) {
        const path = document.createElement("span");
        path.className = "muted";
        path.textContent = " — " + s.heading_path.join(" › ");
        item.append(path);
      }
      const quote = document.createElement("blockquote");
      quote.textContent = s.text.split(/\s+/).slice(0, 60).join(" ");
      item.append(quote);
      list.append(item);
    }
  }

  function handle(event, data) {
    if (event === "sources") {
      showSources(data.sources);
      meta.textContent = gettext("Writing the answer…");
    } else if (event === "delta") {
      text.textContent += data.text;
    } else if (event === "done") {
      text.textContent = data.answer;
      meta.textContent = `${modes[data.mode] || data.mode} · ${data.latency_ms} ms`;
      showSources(data.citations);
      // Show the conversation as the server renders it: the whole thread, with the
      // feedback buttons of the new answer.
      const url = new URL(form.action, window.location.href);
      url.searchParams.set("conversation", data.conversation);
      url.hash = `question-${data.id}`;
      form.question.value = "";
      const here = new URL(window.location.href);
      if (here.pathname === url.pathname && here.search === url.search) {
        // A follow-up: only the fragment differs, and assigning it would merely scroll.
        window.history.replaceState(null, "", url.toString());
        window.location.reload();
      } else {
        window.location.assign(url.toString());
      }
    } else if (event === "error") {
      meta.textContent = data.detail;
    }
  }

  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    live.hidden = false;
    live.querySelector(".question").textContent = form.question.value;
    text.textContent = "";
    list.replaceChildren();
    meta.textContent = gettext("Searching your documents…");
    let response;
    try {
      response = await fetch(form.dataset.streamUrl, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
      });
    } catch (error) {
      form.submit();
      return;
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      meta.textContent = body.detail ||
        interpolate(gettext("The question could not be answered (HTTP %(status)s)."),
          { status: response.status }, true);
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = /^event: (.*)$/m.exec(block);
        const data = /^data: (.*)$/m.exec(block);
        if (name && data) handle(name[1], JSON.parse(data[1]));
      }
    }
  });
})();
