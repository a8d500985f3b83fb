"""The bot's own texts (the "thinking" reply, notices, help, refusals, labels) are in the
linked person's language (``User.language``), else the installation's
(``settings.LANGUAGE_CODE``); an unlinked chat user reads the installation's. Checked on
what the platform receives (Slack, Mattermost and Microsoft Teams fakes, eager tasks)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.audit import AuditContext
from accounts.models import User
from chat import services
from chat.models import ChatIdentity
from tests.chat.test_teams import APP_ID, APP_PASSWORD, _card_text, teams_configure
from tests.fakes.teams import FakeBotFramework

THINKING_DE = "Einen Moment, ich denke nach…"
PARKING = b"# Parking\n\nStaff park in garage B, level 2. Badges open the gate.\n"


def _speaks(email: str, language: str) -> User:
    user = User.objects.get(email=email)
    user.language = language
    user.save(update_fields=["language"])
    return user


def _link(platform, external_id: str, user: User) -> None:
    identity = services.identity_get(platform=platform, external_id=external_id)
    services.identity_link(identity=identity, user=user, linked_by="link", audit=AuditContext())


def test_a_german_speaker_gets_the_bots_texts_in_german(slack_platform, slack, slack_sender, send):
    _speaks("alice@acme.example", "de")
    # Not linked yet: the acknowledgement comes before anyone knows her (installation's
    # language); the worker links her by the email Slack vouches for, then replies in
    # her language. No document in General: the search finds nothing.
    ack = send(lambda: slack_sender.command("search garage", response_url=slack.response_url()))
    assert ack.json()["text"] == "Thinking…"
    assert slack.responses[-1]["text"] == "Nichts gefunden."
    assert ChatIdentity.objects.get(external_id="UALICE").user.email == "alice@acme.example"
    # Linked now: the "thinking" acknowledgement, too, is German.
    ack = send(lambda: slack_sender.command("search parking", response_url=slack.response_url()))
    assert ack.json()["text"] == THINKING_DE
    assert slack.responses[-1]["text"] == "Nichts gefunden."
    # Refusals and notices.
    send(lambda: slack_sender.command("sources", response_url=slack.response_url()))
    assert slack.responses[-1]["text"] == "Hier gibt es noch keine Antwort von mir an Sie."
    send(lambda: slack_sender.mention("Wo parken wir?", channel="CRANDOM"))
    assert slack.ephemeral[-1]["text"].startswith("Dieser Kanal ist nicht mit OPAA verbunden.")
    slack_platform.commands = ["ask"]
    slack_platform.save(update_fields=["commands"])
    send(lambda: slack_sender.command("search garage", response_url=slack.response_url()))
    assert slack.responses[-1]["text"] == "Dieser Befehl ist hier ausgeschaltet."


def test_a_german_speakers_answer_has_german_labels_around_the_documents_text(
    acme, alice_api, upload_indexed, slack_platform, slack, slack_sender, send
):
    upload_indexed(alice_api, "parking.md", PARKING, workspace="general")
    _link(slack_platform, "UALICE", _speaks("alice@acme.example", "de"))
    send(lambda: slack_sender.mention("Where do staff park?", ts="1700000000.000100"))
    placeholders = [
        r.body.get("text")
        for r in slack.requests
        if r.path == "/api/chat.postMessage" and isinstance(r.body, dict)
    ]
    assert placeholders == [THINKING_DE]
    (answer,) = slack.posted("CGEN")
    assert "garage B" in answer["text"]  # the answer itself follows the documents
    blocks = json.dumps(answer["blocks"], ensure_ascii=False)
    assert ":+1: Hilfreich" in blocks
    assert ":-1: Nicht hilfreich" in blocks
    assert "Helpful" not in blocks
    send(lambda: slack_sender.command("sources", response_url=slack.response_url()))
    assert slack.responses[-1]["text"] == "Quellen der Antwort auf „Where do staff park?“:"


@pytest.mark.parametrize("language", ["", "en"])
def test_an_english_or_browser_setting_keeps_english(
    language, slack_platform, slack, slack_sender, send
):
    _link(slack_platform, "UALICE", _speaks("alice@acme.example", language))
    ack = send(lambda: slack_sender.command("search garage", response_url=slack.response_url()))
    assert ack.json()["text"] == "Thinking…"
    assert slack.responses[-1]["text"] == "Nothing found."
    assert "/opaa search <words>" in slack_sender.command("help").json()["text"]


def test_a_german_installation_speaks_german_to_who_chose_nothing(
    slack_platform, slack, slack_sender, send, settings
):
    settings.LANGUAGE_CODE = "de"
    _link(slack_platform, "UALICE", _speaks("alice@acme.example", ""))
    _link(slack_platform, "UBOB", _speaks("bob@acme.example", "en"))
    ack = send(lambda: slack_sender.command("search garage", response_url=slack.response_url()))
    assert ack.json()["text"] == THINKING_DE
    assert slack.responses[-1]["text"] == "Nichts gefunden."
    # bob chose English: English, whatever the installation speaks.
    ack = send(
        lambda: slack_sender.command(
            "search garage", user="UBOB", channel="D0BOB", response_url=slack.response_url()
        )
    )
    assert ack.json()["text"] == "Thinking…"


@pytest.mark.parametrize(
    ("installation", "expected"),
    [
        ("en", "To ask OPAA here, link your chat account to your OPAA account first"),
        ("de", "Um OPAA hier zu fragen, verknüpfen Sie zuerst (einmalig) Ihr Chat-Konto"),
    ],
)
def test_an_unlinked_person_gets_the_link_in_the_installations_language(
    installation, expected, slack_platform, slack, slack_sender, send, settings
):
    settings.LANGUAGE_CODE = installation
    # Slack does not vouch for this email: no link by email, the one-time link instead.
    send(lambda: slack_sender.mention("Where do staff park?", user="UUNCONFIRMED"))
    (private,) = slack.ephemeral
    assert private["user"] == "UUNCONFIRMED"
    assert private["text"].startswith(expected)
    assert "http://acme.localhost/chat/link/" in private["text"]


def test_slash_command_help_is_in_the_linked_persons_language(slack_platform, slack_sender):
    _link(slack_platform, "UALICE", _speaks("alice@acme.example", "de"))
    text = slack_sender.command("help").json()["text"]
    assert text.startswith("Stellen Sie mir eine Frage zu Ihren Dokumenten")
    assert "`/opaa search <Wörter>`" in text
    # Someone else (unlinked) in the same channel: the installation's language.
    assert "/opaa search <words>" in slack_sender.command("help", user="UBOB").json()["text"]


@pytest.fixture
def bot(settings):
    from chat.adapters.teams import caches_clear

    with FakeBotFramework(app_id=APP_ID, app_password=APP_PASSWORD) as server:
        settings.CHAT_TEAMS_OPENID_METADATA_URL = server.metadata_url
        caches_clear()
        yield server
        caches_clear()


def test_teams_help_by_message_is_in_the_linked_persons_language(
    acme, world, bot, django_capture_on_commit_callbacks
):
    platform = teams_configure(bot)
    _link(platform, "29:alice", _speaks("alice@acme.example", "de"))
    client = Client(HTTP_HOST=world.acme.domain)
    for conversation in ("a:1help", "a:2help"):
        user = "29:alice" if conversation == "a:1help" else "29:nobody"
        activity = bot.activity(
            "help", conversation=conversation, conversation_type="personal", user=user
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/chat/teams/messages",
                json.dumps(activity),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {bot.sign()}",
            )
        assert response.status_code in (200, 201, 202)
    (german,) = bot.in_conversation("a:1help")
    assert "Erwähnen Sie mich oder schreiben Sie mir eine Direktnachricht" in _card_text(german)
    (english,) = bot.in_conversation("a:2help")
    assert "mention me or send me a direct message" in _card_text(english)


def test_an_upload_that_failed_is_reported_with_its_reason_in_the_uploaders_language(
    slack_platform, slack
):
    """The stored reason (a marked text in the installation's language) is translated
    with the reply around it, as the portal's document page shows it."""
    from chat.models import ChatUpload
    from chat.uploads import upload_notify
    from ingestion.indexing import EMBEDDING_UNAVAILABLE_REASON
    from ingestion.models import Document, DocumentStatus
    from workspaces.models import Workspace

    alice = _speaks("alice@acme.example", "de")
    workspace = Workspace.objects.get(slug="general")
    document = Document.objects.create(
        workspace=workspace,
        title="Figures",
        original_filename="figures.txt",
        storage_key="chat-test/figures.txt",
        mime_type="text/plain",
        size_bytes=1,
        sha256="0" * 64,
        uploaded_by=alice,
        status=DocumentStatus.FAILED,
        error_message=EMBEDDING_UNAVAILABLE_REASON,
    )
    upload = ChatUpload.objects.create(
        platform=slack_platform, workspace=workspace, document=document, channel_id="CGEN"
    )
    assert upload_notify(upload_id=upload.pk)
    assert slack.posted("CGEN")[-1]["text"] == (
        "figures.txt konnte nicht indexiert werden: Der Embedding-Endpunkt hat nach mehreren "
        "Versuchen nicht geantwortet (überlastet, fehlerhaft oder nicht erreichbar), daher "
        "konnten die Passagen dieses Dokuments nicht eingebettet werden. „Erneut versuchen“ "
        "indexiert es neu."
    )


def test_mattermost_speaks_the_linked_persons_language(
    acme, alice_api, upload_indexed, mattermost_platform, mattermost, send
):
    """Mattermost's slash command acknowledgement, help and the answer's buttons."""
    from tests.chat.test_mattermost import _command, _webhook

    upload_indexed(alice_api, "parking.md", PARKING, workspace="general")
    _link(mattermost_platform, "mmalice", _speaks("alice@acme.example", "de"))
    client = Client(HTTP_HOST=acme.domain)
    ack = send(lambda: _command(client, "search garage", response_url=mattermost.response_url()))
    assert ack.json()["text"] == THINKING_DE
    help_text = _command(client, "help").json()["text"]
    assert help_text.startswith("Stellen Sie mir eine Frage zu Ihren Dokumenten")
    # Someone unlinked in the same channel: the installation's language.
    assert _command(client, "help", user="mmbob").json()["text"].startswith("Ask me")
    send(lambda: _webhook(client, mattermost, "@opaa Where do staff park?"))
    (posted,) = [p for p in mattermost.in_channel("mmgeneral") if p.get("props")]
    labels = [action["name"] for action in posted["props"]["attachments"][0]["actions"]]
    assert labels == ["👍 Hilfreich", "👎 Nicht hilfreich"]
