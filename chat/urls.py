from django.urls import path

from chat import views, webhooks

app_name = "chat"

urlpatterns = [
    path("", views.settings_view, name="settings"),
    path("platforms/<str:kind>", views.platform_view, name="platform"),
    path("platforms/<str:kind>/test", views.test_message_view, name="test-message"),
    path("channels", views.mapping_add_view, name="mapping-add"),
    path("channels/<int:pk>/delete", views.mapping_delete_view, name="mapping-delete"),
    path("link/<str:token>", views.link_view, name="link"),
    # Called by the platforms (signed or carrying a token; no session, no CSRF).
    path("slack/events", webhooks.slack_events, name="slack-events"),
    path("slack/commands", webhooks.slack_commands, name="slack-commands"),
    path("slack/interactivity", webhooks.slack_interactivity, name="slack-interactivity"),
    path("mattermost/command", webhooks.mattermost_command, name="mattermost-command"),
    path("mattermost/webhook", webhooks.mattermost_webhook, name="mattermost-webhook"),
    path("mattermost/actions", webhooks.mattermost_actions, name="mattermost-actions"),
    path("teams/messages", webhooks.teams_messages, name="teams-messages"),
]
