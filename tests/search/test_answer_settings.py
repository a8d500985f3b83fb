"""An organization's own LLM (with a fallback chain) and fusion weights override the env."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings

from infra.crypto import decrypt
from search.admin import AnswerSettingsForm
from search.models import AnswerSettings
from search.services import fusion_weights, llm_chain
from tests.fakes.openai_server import FakeOpenAIServer

NOTE = b"# Canteen\n\n## Hours\n\nThe canteen serves lunch from 11:30 to 14:00.\n"


def _settings(**fields) -> AnswerSettings:
    form = AnswerSettingsForm(data={**fields})
    assert form.is_valid(), form.errors
    return form.save()


def test_keys_are_stored_encrypted_and_write_only(acme):
    saved = _settings(llm_api_base="http://127.0.0.1:9/v1", llm_api_key="sk-org-secret")
    assert "sk-org-secret" not in saved.llm_api_key_encrypted
    assert decrypt(saved.llm_api_key_encrypted) == "sk-org-secret"
    with connection.cursor() as cursor:
        cursor.execute("SELECT llm_api_key_encrypted FROM search_answersettings")
        assert "sk-org-secret" not in cursor.fetchone()[0]
    # Saving the form again without a key keeps the stored one.
    form = AnswerSettingsForm(data={"llm_api_base": "http://127.0.0.1:9/v1"}, instance=saved)
    assert form.is_valid()
    assert decrypt(form.save().llm_api_key_encrypted) == "sk-org-secret"
    assert 'value="' not in str(form["llm_api_key"])


def test_organization_llm_and_fallback_chain(acme, alice_api, upload_indexed):
    upload_indexed(alice_api, "canteen.md", NOTE)
    with (
        FakeOpenAIServer(api_key="sk-primary") as primary,
        FakeOpenAIServer(
            api_key="sk-second", reply=lambda m: "Lunch is 11:30-14:00 [1]."
        ) as second,
        override_settings(LLM_API_BASE=""),  # the environment has no LLM
    ):
        _settings(
            llm_api_base=primary.base_url,
            llm_model="primary-model",
            llm_api_key="sk-primary",
            fallback_llm_api_base=second.base_url,
            fallback_llm_model="second-model",
            fallback_llm_api_key="sk-second",
        )
        assert [c.model for c in llm_chain()] == ["primary-model", "second-model"]
        primary.fail_status = 502
        body = alice_api.post("/api/v1/ask", {"question": "When is lunch served?"}).json()
        assert len(primary.chat_requests()) == 1
        assert second.chat_requests()[-1].headers["authorization"] == "Bearer sk-second"
    assert body["mode"] == "llm"
    assert body["answer"] == "Lunch is 11:30-14:00 [1]."


def test_other_organizations_keep_the_environment(globex, db):
    connection.set_tenant(globex.organization)
    with override_settings(LLM_API_BASE="http://127.0.0.1:9/v1", LLM_MODEL="env-model"):
        assert [c.model for c in llm_chain()] == ["env-model"]


@pytest.mark.parametrize(("keyword", "vector"), [(2.0, 0.5), (0.0, 1.0)])
def test_fusion_weights_per_organization(acme, keyword, vector):
    assert fusion_weights() == (1.0, 1.0)
    _settings(fusion_keyword_weight=keyword, fusion_vector_weight=vector)
    assert fusion_weights() == (keyword, vector)


def test_an_organization_llm_on_a_private_network_is_refused_on_a_shared_installation(
    acme, settings
):
    settings.OUTBOUND_PRIVATE_NETWORKS_ALLOWED = False
    form = AnswerSettingsForm(data={"llm_api_base": "http://169.254.169.254/v1"})
    assert not form.is_valid()
    assert "private or local network" in str(form.errors["llm_api_base"])
    # One saved while it was allowed (or whose name now resolves elsewhere) is skipped:
    # the environment's LLM, or the extractive answer, takes over.
    settings.OUTBOUND_PRIVATE_NETWORKS_ALLOWED = True
    _settings(llm_api_base="http://127.0.0.1:9/v1", llm_model="own")
    assert [c.model for c in llm_chain()] == ["own"]
    settings.OUTBOUND_PRIVATE_NETWORKS_ALLOWED = False
    with override_settings(LLM_API_BASE="https://93.184.216.34/v1", LLM_MODEL="env-model"):
        assert [c.model for c in llm_chain()] == ["env-model"]
