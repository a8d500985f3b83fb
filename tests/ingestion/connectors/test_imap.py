"""The IMAP connector against a real Dovecot server on loopback, with real MIME messages."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from imapclient import IMAPClient

from ingestion import sources, sync
from ingestion.models import ConnectorKind, Document, DocumentStatus, SyncRun, SyncStatus
from ingestion.storage import original_read
from search.services import answer_question
from tests.conftest import user_in
from tests.ingestion.connectors.conftest import snapshot
from tests.ingestion.connectors.imap_server import Dovecot
from workspaces.models import Workspace

MAIL = Path(__file__).resolve().parents[2] / "data" / "mail"
PASSWORD = "imap-pass-never-logged"
FLEET = "fleet_policy_with_attachment.eml"
GARAGE = "html_only_windows1252.eml"
ROOMS = "japanese_iso2022jp.eml"
REPLY = "reply_latin1_and_unknown_charset.eml"
ODDS = "odds_and_ends_attachments.eml"


@pytest.fixture(scope="module")
def dovecot():
    server = Dovecot.temporary(password=PASSWORD).start()
    yield server
    server.stop()


class Mailbox:
    def __init__(self, server: Dovecot) -> None:
        self.server = server
        self.user = f"box-{uuid.uuid4().hex[:10]}"
        self.client = server.client(self.user, PASSWORD)

    def append(self, folder: str, name: str) -> int:
        """Put the message file ``name`` into ``folder``; returns its UID."""
        answer = self.client.append(folder, (MAIL / name).read_bytes())
        return int(answer.split(b"]")[0].split()[-1])  # [APPENDUID <validity> <uid>]

    def bodies_fetched(self, since: int) -> int:
        return self.server.bodies_fetched(since, user=self.user)


@pytest.fixture
def mailbox(dovecot):
    box = Mailbox(dovecot)
    box.client.create_folder("Projects")
    yield box
    box.client.logout()


@pytest.fixture
def fetch_spy(monkeypatch) -> list[tuple[str, ...]]:
    """The data items of every FETCH the connector sends (the real command still runs)."""
    sent: list[tuple[str, ...]] = []
    real = IMAPClient.fetch

    def fetch(client, messages, data, *args, **kwargs):
        sent.append(tuple(data))
        return real(client, messages, data, *args, **kwargs)

    monkeypatch.setattr(IMAPClient, "fetch", fetch)
    return sent


def imap_source(mailbox: Mailbox, *, password: str = PASSWORD, config=None, **options):
    connector = sources.connector_create(
        name="Sales mailbox",
        kind=ConnectorKind.IMAP,
        config={"host": "127.0.0.1", "port": mailbox.server.port, "security": "none",
                "username": mailbox.user, **(config or {})},
        secrets={"password": password},
    )  # fmt: skip
    return sources.source_create(
        connector=connector,
        workspace=Workspace.objects.get(is_default=True),
        name="Sales mail",
        paths=options.pop("paths", ["INBOX", "Projects"]),
        readers=options.pop("readers", ["group:sales"]),
        **options,
    )


def ids(source) -> list[str]:
    return sorted(Document.objects.filter(synced_from=source).values_list("external_id", flat=True))


def test_first_sync_indexes_messages_and_attachments_and_they_are_answerable(
    acme, mailbox, run_sync
):
    for name in (FLEET, GARAGE, REPLY):
        mailbox.append("INBOX", name)
    mailbox.append("Projects", ROOMS)
    source = imap_source(mailbox)

    run = run_sync(source)

    assert (run.status, run.failed) == (SyncStatus.SUCCEEDED, 0), run.item_errors
    validity = mailbox.client.select_folder("INBOX", readonly=True)[b"UIDVALIDITY"]
    inbox = f"INBOX/{validity:010d}"
    documents = {d.external_id: d for d in Document.objects.filter(synced_from=source)}
    projects = next(key for key in documents if key.startswith("Projects/"))
    # Three messages and the PDF and text attachments (the PNG logo is no document).
    assert sorted(documents) == [
        f"{inbox}/0000000001",
        f"{inbox}/0000000001/att/001",
        f"{inbox}/0000000002",
        f"{inbox}/0000000003",
        f"{inbox}/0000000003/att/001",
        projects,
    ]
    assert projects.endswith("/0000000001")
    assert (run.seen, run.added) == (6, 6)
    assert {d.status for d in documents.values()} == {DocumentStatus.INDEXED}
    assert {tuple(d.readers) for d in documents.values()} == {("group:sales",)}
    assert {d.source for d in documents.values()} == {"imap"}

    fleet = documents[f"{inbox}/0000000001"]
    assert fleet.title == "Fleet policy for the sales team"
    assert fleet.original_filename == "Fleet policy for the sales team.eml"
    stored = original_read(fleet.storage_key)
    assert b'filename="fleet-policy.pdf"' in stored
    # The PDF's bytes are kept once, in its own document, not in the message's too.
    assert b"JVBERi0" not in stored
    pdf = documents[f"{inbox}/0000000001/att/001"]
    assert (pdf.original_filename, pdf.title) == ("fleet-policy.pdf", "Fleet Policy")
    assert "15000 kilometres" in pdf.chunks.get().text
    notes = documents[f"{inbox}/0000000003/att/001"]
    assert "same rules" in notes.chunks.get().text
    assert documents[f"{inbox}/0000000002"].title == "Garage and caf\u00e9 \u2013 new rules"
    assert documents[projects].title == "\u4f1a\u8b70\u5ba4\u306e\u4e88\u7d04"

    alice = user_in(acme, "alice@acme.example")
    question = answer_question(
        user=alice, workspace=source.workspace, question="How often are company cars serviced?"
    )
    assert question.citations[0]["document_id"] == pdf.pk
    question = answer_question(
        user=alice, workspace=source.workspace, question="When does the garage open?"
    )
    assert question.citations[0]["document_id"] == documents[f"{inbox}/0000000002"].pk


def test_attachments_are_named_safely_decoded_and_forwarded_mail_is_a_message(
    acme, mailbox, run_sync
):
    uid = mailbox.append("INBOX", ODDS)
    source = imap_source(mailbox, paths=["INBOX"])

    run = run_sync(source)

    assert (run.status, run.failed) == (SyncStatus.SUCCEEDED, 0), run.item_errors
    documents = {
        d.external_id.partition(f"/{uid:010d}")[2]: d
        for d in Document.objects.filter(synced_from=source)
    }
    # RFC 2231 and RFC 2047 names decoded, folders stripped from a climbing name, the
    # PNG (part 3) not a document; numbers count every attachment part.
    assert {key: d.original_filename for key, d in documents.items()} == {
        "": "Odds and ends.eml",
        "/att/001": "R\u00e9sum\u00e9 move.txt",
        "/att/002": "Caf\u00e9 menu.txt",
        "/att/004": "forwarded message.eml",
        "/att/005": "passwd.txt",
    }
    assert {d.status for d in documents.values()} == {DocumentStatus.INDEXED}
    text = {key: " ".join(d.chunks.values_list("text", flat=True)) for key, d in documents.items()}
    assert "boxes go on Friday" in text["/att/001"]  # base64
    assert "Caf\u00e9 menu: soup on Mondays." in text["/att/002"]  # quoted-printable
    assert documents["/att/004"].title == "Badge reader fixed"
    assert "east door works again" in text["/att/004"]
    assert "attic" in text["/att/005"]

    only_mail = imap_source(mailbox, paths=["INBOX"], exclude_globs=["*.txt"])
    run_sync(only_mail)
    assert sorted(d.original_filename for d in Document.objects.filter(synced_from=only_mail)) == [
        "Odds and ends.eml",
        "forwarded message.eml",
    ]


def test_second_sync_fetches_nothing_then_new_mail_comes_in_alone(
    acme, mailbox, run_sync, embed_spy, fetch_spy
):
    mailbox.append("INBOX", FLEET)
    mailbox.append("Projects", ROOMS)
    source = imap_source(mailbox)
    mark = mailbox.server.log_mark()
    run_sync(source)
    # Each message body and the attachment were downloaded once, no more.
    assert mailbox.bodies_fetched(mark) == 3
    before = snapshot(source)
    embed_spy.calls.clear()

    mark = mailbox.server.log_mark()
    fetch_spy.clear()
    run = run_sync(source)
    assert (run.seen, run.added, run.updated, run.unchanged, run.deleted) == (3, 0, 0, 3, 0)
    assert mailbox.bodies_fetched(mark) == 0  # the server sent no message body
    assert fetch_spy == []  # nor any message's structure: listing was UID SEARCH alone
    assert embed_spy.calls == []
    assert snapshot(source) == before

    uid = mailbox.append("INBOX", GARAGE)
    mark = mailbox.server.log_mark()
    fetch_spy.clear()
    run = run_sync(source)
    assert (run.added, run.unchanged, run.deleted) == (1, 3, 0)
    assert mailbox.bodies_fetched(mark) == 1
    # The new message's structure once, its body once.
    assert sorted(fetch_spy) == [("BODY.PEEK[]",), ("RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE")]
    assert len(embed_spy.calls) == 1
    new = Document.objects.get(synced_from=source, external_id__endswith=f"/{uid:010d}")
    assert new.status == DocumentStatus.INDEXED


def test_an_expunged_message_and_its_attachment_leave_the_index(acme, mailbox, run_sync):
    fleet = mailbox.append("INBOX", FLEET)
    mailbox.append("INBOX", GARAGE)
    source = imap_source(mailbox, paths=["INBOX"])
    run_sync(source)
    assert len(ids(source)) == 3

    mailbox.client.select_folder("INBOX")
    mailbox.client.delete_messages([fleet])
    mailbox.client.expunge()
    run = run_sync(source)

    assert (run.deleted, run.unchanged) == (2, 1)
    assert [Document.objects.get(external_id=i).title for i in ids(source)] == [
        "Garage and caf\u00e9 \u2013 new rules"
    ]


def test_a_new_uidvalidity_resyncs_the_folder(acme, mailbox, run_sync):
    mailbox.append("INBOX", GARAGE)
    mailbox.append("Projects", ROOMS)
    source = imap_source(mailbox)
    run_sync(source)
    old_inbox = [i for i in ids(source) if i.startswith("INBOX/")]
    old_projects = [i for i in ids(source) if i.startswith("Projects/")]

    # The server forgets the folder's UIDs: deleted and created again, same name.
    mailbox.client.delete_folder("Projects")
    mailbox.client.create_folder("Projects")
    mailbox.append("Projects", ROOMS)
    mailbox.append("Projects", REPLY)
    run = run_sync(source)

    assert run.status == SyncStatus.SUCCEEDED
    assert (run.deleted, run.added, run.unchanged) == (1, 3, 1)
    now = ids(source)
    assert [i for i in now if i.startswith("INBOX/")] == old_inbox
    projects = [i for i in now if i.startswith("Projects/")]
    assert len(projects) == 3
    assert not set(projects) & set(old_projects)
    assert {i.split("/")[1] for i in projects} != {old_projects[0].split("/")[1]}


def test_a_wrong_password_fails_the_run_readably_without_leaking_it(
    acme, mailbox, run_sync, caplog
):
    mailbox.append("INBOX", GARAGE)
    source = imap_source(mailbox, password="not-" + PASSWORD)
    caplog.set_level(logging.DEBUG)

    run = run_sync(source)

    assert run.status == SyncStatus.FAILED
    assert run.error_message == (
        f"The IMAP server 127.0.0.1 refused the login of '{mailbox.user}': "
        "check the user name and password."
    )
    assert PASSWORD not in caplog.text
    assert Document.objects.filter(synced_from=source).count() == 0


def test_a_missing_folder_fails_the_run_and_deletes_nothing(acme, mailbox, run_sync):
    mailbox.append("INBOX", GARAGE)
    mailbox.append("Projects", ROOMS)
    source = imap_source(mailbox)
    run_sync(source)
    before = ids(source)

    mailbox.client.delete_folder("Projects")
    run = run_sync(source)

    assert run.status == SyncStatus.FAILED
    assert run.error_message == (
        f"The folder 'Projects' does not exist in the mailbox '{mailbox.user}'."
    )
    assert ids(source) == before


def test_an_unreachable_server_fails_the_run_readably(acme, mailbox, run_sync, dovecot):
    source = imap_source(mailbox)
    connector = source.connector
    connector.config = {**connector.config, "port": dovecot.port + 1 if dovecot.port < 65535 else 1}
    connector.save(update_fields=["config"])

    run = run_sync(source)

    assert run.status == SyncStatus.FAILED
    assert run.error_message.startswith(f"The IMAP server 127.0.0.1:{connector.config['port']}")
    assert "could not be reached" in run.error_message


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_connections_verify_the_server_against_the_configured_ca(
    acme, mailbox, run_sync, security
):
    mailbox.append("INBOX", GARAGE)
    server = mailbox.server
    port = server.tls_port if security == "ssl" else server.port
    source = imap_source(
        mailbox,
        paths=["INBOX"],
        config={"host": "localhost", "port": port, "security": security,
                "ca_certificate": server.ca_certificate},
    )  # fmt: skip

    run = run_sync(source)

    assert (run.status, run.added) == (SyncStatus.SUCCEEDED, 1), run.error_message


def test_a_server_certificate_no_trusted_authority_signed_fails_the_run(acme, mailbox, run_sync):
    port = mailbox.server.tls_port
    source = imap_source(mailbox, config={"host": "localhost", "port": port, "security": "ssl"})

    run = run_sync(source)

    assert run.status == SyncStatus.FAILED
    assert run.error_message == (
        f"A secure connection to localhost:{port} could not be made (CERTIFICATE_VERIFY_FAILED)."
    )


def test_an_interrupted_run_resumes_without_duplicates(acme, mailbox, run_sync, monkeypatch):
    """The process dies after two items were committed; the next run finishes the job."""
    for name in (FLEET, GARAGE, REPLY):
        mailbox.append("INBOX", name)
    source = imap_source(mailbox, paths=["INBOX"])
    real_record = sync._item_record
    recorded = []

    def dying_record(*args):
        if len(recorded) == 2:
            raise SystemExit("killed")  # as if the worker died: nothing more is committed
        real_record(*args)
        recorded.append(args[2].external_id)

    monkeypatch.setattr(sync, "_item_record", dying_record)
    with pytest.raises(SystemExit):
        run_sync(source)
    monkeypatch.setattr(sync, "_item_record", real_record)
    run = SyncRun.objects.get(source=source)
    assert (run.status, run.checkpoint, run.seen) == (SyncStatus.RUNNING, recorded[-1], 2)

    mark = mailbox.server.log_mark()
    resumed = run_sync(source)

    assert resumed.pk == run.pk
    assert (resumed.status, resumed.seen, resumed.added) == (SyncStatus.SUCCEEDED, 5, 5)
    # Only the three items after the checkpoint were downloaded.
    assert mailbox.bodies_fetched(mark) == 3
    assert len(ids(source)) == len(set(ids(source))) == 5
    assert set(Document.objects.filter(synced_from=source).values_list("status", flat=True)) == {
        DocumentStatus.INDEXED
    }


@pytest.mark.parametrize(
    ("config", "secrets", "reason"),
    [
        ({"host": "mail.acme.example", "security": "none", "username": "u"}, {"password": "p"},
         "without TLS is allowed only to this machine"),
        ({"host": "127.0.0.1", "port": "99999", "security": "none", "username": "u"},
         {"password": "p"}, "port must be a number"),
        ({"host": "mail.acme.example", "security": "ssl"}, {"password": "p"}, "user name"),
        ({"host": "mail.acme.example", "username": "u"}, {}, "password"),
        ({"host": "", "username": "u"}, {"password": "p"}, "server name"),
        ({"host": "mail.acme.example", "username": "u", "ca_certificate": "not a PEM"},
         {"password": "p"}, "not a PEM certificate"),
        ({"host": "mail.acme.example", "security": "tls", "username": "u"}, {"password": "p"},
         "Security must be one of"),
    ],
)  # fmt: skip
def test_settings_that_can_never_work_are_refused(acme, config, secrets, reason):
    connector = sources.connector_create(
        name="Mail", kind=ConnectorKind.IMAP, config=config, secrets=secrets
    )
    with pytest.raises(ValidationError, match=reason):
        sources.source_create(
            connector=connector,
            workspace=Workspace.objects.get(is_default=True),
            name="Mail",
            paths=["INBOX"],
        )


def test_folder_names_with_wildcards_are_refused(acme, mailbox):
    with pytest.raises(ValidationError, match="is not a folder name"):
        imap_source(mailbox, paths=["INBOX", "Archive/*"])
