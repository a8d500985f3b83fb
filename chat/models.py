"""Chat platforms an organization connects (Slack, Mattermost; Teams and Matrix later),
the channels mapped to workspaces, the chat users linked to members, and the threads,
answers and uploads the bot is keeping track of."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from workspaces.models import Workspace


class PlatformKind(models.TextChoices):
    SLACK = "slack", "Slack"
    MATTERMOST = "mattermost", "Mattermost"
    TEAMS = "teams", "Microsoft Teams"
    MATRIX = "matrix", "Matrix"


class Command(models.TextChoices):
    """What people may ask the bot for; each can be switched off per platform."""

    ASK = "ask", "Ask (questions, mentions, direct messages)"
    SEARCH = "search", "Search (passages without an answer)"
    SOURCES = "sources", "Sources (of the last answer)"
    UPLOAD = "upload", "Upload (a file attached to a mention)"


def commands_default() -> list[str]:
    return [Command.ASK, Command.SEARCH, Command.SOURCES]


class ChatPlatform(models.Model):
    """One chat platform connected to the organization (at most one of each kind).

    ``secrets_encrypted`` holds the platform's secrets (Slack: signing secret and bot
    token; Mattermost: bot token and the slash command's and webhook's tokens) as one
    JSON object encrypted with ``infra.crypto``; it is never shown or logged.
    """

    kind = models.CharField(max_length=16, choices=PlatformKind.choices, unique=True)
    enabled = models.BooleanField(default=True)
    # Slack: the team (workspace) id the requests must carry, e.g. "T0123"; Mattermost:
    # the team id (empty: any team of the server).
    team_id = models.CharField(max_length=64, blank=True)
    # Slack: the Web API's base (https://slack.com/api/, GovSlack: https://slack-gov.com/api/);
    # Mattermost: the server's URL. Checked by the outbound guard on every call.
    api_url = models.URLField(max_length=500)
    secrets_encrypted = models.TextField(blank=True)
    commands = models.JSONField(default=commands_default)
    # The portal's address, for links in answers (taken from the request that saved it).
    portal_url = models.URLField(max_length=500)
    # The bot's own user id on the platform, learnt from it (its messages are ignored).
    bot_user_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.get_kind_display()


class ChannelMapping(models.Model):
    """A channel whose questions are answered from one workspace."""

    platform = models.ForeignKey(ChatPlatform, on_delete=models.CASCADE, related_name="channels")
    channel_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "channel_id"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "channel_id"], name="one_mapping_a_channel")
        ]

    def __str__(self) -> str:
        return self.name or self.channel_id


class ChatIdentity(models.Model):
    """A chat user, linked (``user`` set) or waiting for their one-time link."""

    platform = models.ForeignKey(ChatPlatform, on_delete=models.CASCADE, related_name="identities")
    external_id = models.CharField(max_length=64)
    display_name = models.CharField(max_length=200, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="chat_identities",
    )
    # How it was linked: "email" (the platform vouched for it) or "link".
    linked_by = models.CharField(max_length=16, blank=True)
    linked_at = models.DateTimeField(null=True, blank=True)
    # SHA-256 of the pending one-time link's token; its expiry.
    link_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    link_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "external_id"], name="one_identity_a_chat_user"
            )
        ]

    def __str__(self) -> str:
        return self.display_name or self.external_id


class ChatEventSeen(models.Model):
    """An incoming event already taken (Slack's retries carry the same event id)."""

    platform = models.ForeignKey(ChatPlatform, on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=128)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "event_id"], name="one_event_once")
        ]

    def __str__(self) -> str:
        return self.event_id


class ChatThread(models.Model):
    """A thread on the platform continuing one person's OPAA conversation."""

    platform = models.ForeignKey(ChatPlatform, on_delete=models.CASCADE, related_name="+")
    channel_id = models.CharField(max_length=64)
    thread_id = models.CharField(max_length=64)
    identity = models.ForeignKey(ChatIdentity, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "search.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "channel_id", "thread_id", "identity"],
                name="one_conversation_a_thread_and_person",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}/{self.thread_id}"


class ChatAnswer(models.Model):
    """An answer the bot posts (or is still posting) for a question.

    Delivery is resumable: ``parts`` is the rendered answer, ``parts_posted`` how many
    are on the platform, so a retry after a rate limit posts only what is missing. Once
    delivered, ``parts`` is emptied: no copy of an answer outlives the erasure of what
    it cites (``search.erasure``). The platform keeps its own copy of the messages.
    """

    platform = models.ForeignKey(ChatPlatform, on_delete=models.CASCADE, related_name="+")
    # The event it answers: a redelivered task resumes this answer instead of asking again.
    event_id = models.CharField(max_length=128)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    question = models.ForeignKey(
        "search.Question", null=True, on_delete=models.CASCADE, related_name="+"
    )
    channel_id = models.CharField(max_length=64)
    thread_id = models.CharField(max_length=64, blank=True)
    # Slack's response_url of a slash command (answers it privately), else empty.
    response_url = models.URLField(max_length=1000, blank=True)
    placeholder_id = models.CharField(max_length=64, blank=True)
    # The message ids of the posted parts; the first carries the feedback buttons.
    message_ids = models.JSONField(default=list)
    parts = models.JSONField(default=list)
    parts_posted = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["platform", "channel_id", "-created_at"])]
        constraints = [
            models.UniqueConstraint(fields=["platform", "event_id"], name="one_answer_an_event")
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}/{self.event_id}"


class ChatUpload(models.Model):
    """A file attached to a mention, uploaded into the channel's workspace; the bot
    replies in the thread once it is indexed or failed."""

    platform = models.ForeignKey(ChatPlatform, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey("ingestion.Document", on_delete=models.CASCADE, related_name="+")
    channel_id = models.CharField(max_length=64)
    thread_id = models.CharField(max_length=64, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.channel_id}: document {self.document_id}"


class TeamsConversation(models.Model):
    """Where the bot answers a Microsoft Teams conversation: its Bot Framework
    ``serviceUrl`` and full conversation id, learnt from the (verified) activities.

    The framework knows a Teams channel or chat by ``key`` (its ``channel_id``): the
    conversation id without ``;messageid=…`` when it fits 64 characters (a channel's
    ``19:…@thread.tacv2``), else a hash of it (personal chats' ``a:…`` ids are longer).
    """

    platform = models.ForeignKey(ChatPlatform, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    conversation_id = models.TextField()
    service_url = models.URLField(max_length=500)
    tenant_id = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "key"], name="one_teams_conversation")
        ]

    def __str__(self) -> str:
        return self.key


class MatrixSync(models.Model):
    """Where the Matrix bot's ``/sync`` goes on from: the homeserver's ``next_batch``
    token (empty: the first sync, whose history is skipped, not answered)."""

    platform = models.OneToOneField(ChatPlatform, on_delete=models.CASCADE, related_name="+")
    next_batch = models.TextField(blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.platform}: {self.next_batch[:16]}"


class MattermostSync(models.Model):
    """Where the Mattermost bot's reading of its direct messages goes on from
    (``chat.mattermost_poll``): each direct channel's ``last_post_at`` already read, and
    the server's newest post time at the first reading (``baseline_ms``: empty, the
    first reading is still to come; what was posted before it is not answered)."""

    platform = models.OneToOneField(ChatPlatform, on_delete=models.CASCADE, related_name="+")
    baseline_ms = models.BigIntegerField(null=True, blank=True)
    # channel id -> the last_post_at (ms) read up to
    channels = models.JSONField(default=dict)
    synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.platform}: {len(self.channels)} direct channels"
