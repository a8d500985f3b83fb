"""Streamed answers in the browser: the sources and the first words show before the end.

A second development server answers with the fake OpenAI server as its LLM. That server
holds its stream after the first words until the test has seen them on the page, so the
order is checked without any timing: sources, then partial text, then the final answer.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, _Handler
from tests.portal.conftest import OWNER, SLOW_MS, Portal, _signed_in

# Chunks of the model's stream sent before it waits: the role, then three words.
SENT_BEFORE_THE_GATE = 4


class _GatedWriter:
    """The handler's output, held after ``SENT_BEFORE_THE_GATE`` stream chunks until
    the server's ``gate`` opens."""

    def __init__(self, inner, fake: GatedOpenAIServer) -> None:
        self.inner, self.fake, self.chunks = inner, fake, 0

    def write(self, data: bytes) -> int:
        if data.startswith(b"data: "):
            if self.chunks == SENT_BEFORE_THE_GATE:
                self.fake.held.set()
                self.fake.gate.wait(timeout=SLOW_MS / 1000)
            self.chunks += 1
        return self.inner.write(data)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


class _GatedHandler(_Handler):
    def _stream_chat(self, *args, **kwargs) -> None:
        self.wfile = _GatedWriter(self.wfile, self.fake)
        super()._stream_chat(*args, **kwargs)


class GatedOpenAIServer(FakeOpenAIServer):
    handler_class = _GatedHandler

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gate = threading.Event()
        self.held = threading.Event()

    def stop(self) -> None:
        self.gate.set()
        super().stop()


@pytest.fixture(scope="module")
def llm() -> Iterator[GatedOpenAIServer]:
    with GatedOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def llm_portal(portal, llm, django_db_blocker, tmp_path_factory) -> Iterator[Portal]:
    """The portal again, from a development server whose LLM is the gated fake."""
    from opaa import cli
    from tests.conftest import free_port
    from tests.opaa.test_connections import _database_env, _server, _settled

    port = free_port()
    logs = tmp_path_factory.mktemp("portal-llm-server")
    command, env = cli.processes(port=port, data_dir=logs)["web"]
    application_name = f"opaa-web-llm-{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        env = {
            **env,
            **_database_env(),
            "DJANGO_SETTINGS_MODULE": "opaa.settings.dev",
            "DATABASE_APPLICATION_NAME": application_name,
            "LLM_API_BASE": llm.base_url,
            "LLM_MODEL": "fake-chat",
        }
        host = re.sub(r":\d+$", "", portal.base_url.removeprefix("http://"))
        with _server(command, env, port, logs / "runserver.log"):
            yield Portal(
                base_url=f"http://{host}:{port}",
                workspace=portal.workspace,
                data_dir=portal.data_dir,
                server_log=logs / "runserver.log",
            )

        # Outside the browser's event loop: Django refuses database access under it.
        def settle() -> None:
            from django.db import connections

            try:
                _settled(application_name, 0)
            finally:
                connections.close_all()  # this thread's own connection

        waiting = threading.Thread(target=settle)
        waiting.start()
        waiting.join()


def test_the_answer_shows_as_it_is_written(browser, llm, llm_portal, indexed_document, shoot):
    """Issue 16: the answer arrived in one piece after a long "Searching your documents…"."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    try:
        page = _signed_in(context.new_page(), llm_portal, OWNER)
        page.goto(llm_portal.url(f"/ask/?workspace={llm_portal.workspace}"))
        question = f"How long do I have to claim a travel refund? ({uuid.uuid4().hex[:6]})"
        page.fill("#question", question)
        page.click("form.ask button[type=submit]")
        live = page.locator("#live-answer")
        # The sources are listed while the model still writes...
        live.locator("ol.sources li, ul.sources li, .sources li").first.wait_for(timeout=SLOW_MS)
        assert llm.held.wait(timeout=SLOW_MS / 1000)
        text = live.locator(".answer-text")
        page.wait_for_function(
            "() => document.querySelector('#live-answer .answer-text').textContent.trim()"
        )
        # ... and its first words show before the rest of the answer exists.
        partial = text.inner_text()
        assert partial.split(), partial
        assert len(partial.split()) <= SENT_BEFORE_THE_GATE, partial
        assert live.locator(".answer-meta").inner_text() == "Writing the answer…"
        assert "travel" in live.locator(".sources").inner_text().lower()
        shoot(page, "ask-streaming-partial")

        llm.gate.set()
        page.wait_for_url(re.compile(r"conversation=\d+"), timeout=SLOW_MS)
        final = page.locator("section.answer[id^=question-]").filter(has_text=question)
        final.locator("form.feedback").wait_for(timeout=SLOW_MS)
        answer = final.locator(".answer-text").inner_text()
        assert answer.startswith(partial.strip().split()[0])
        assert len(answer.split()) > len(partial.split())
        shoot(page, "ask-streaming-done")
    finally:
        context.close()
