"""``make run``'s web server loads the embedding model at start-up, not on the first question."""

from __future__ import annotations

import time

from tests.portal.conftest import SLOW_MS


def test_the_development_server_loads_the_embedding_model_without_a_question(portal):
    """Issue 16: the first question after ``make run`` took about 19 s, the model loading
    on the first request. The server now answers at once (the fixture waited for
    /healthz) and loads the model in the background."""
    deadline = time.monotonic() + SLOW_MS / 1000
    while "embedding model ready" not in portal.server_log.read_text():
        assert time.monotonic() < deadline, portal.server_log.read_text()[-3000:]
        time.sleep(0.5)
    assert "warming the embedding model failed" not in portal.server_log.read_text()
