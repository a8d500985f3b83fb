"""The chat platforms page: the owner connects Slack (secrets write-only), maps a channel
to a workspace and sends a test message, which the loopback Slack fake receives."""

from __future__ import annotations

from tests.fakes.chat_platforms import FakeSlackServer
from tests.portal.conftest import OWNER, VIEWER, axe_violations

SIGNING_SECRET = "portal-signing-secret-1234567890"
BOT_TOKEN = "xoxb-portal-bot-token-0987654321"


def test_owner_sets_up_slack_maps_a_channel_and_sends_a_test_message(sign_in, portal, shoot):
    with FakeSlackServer(token=BOT_TOKEN, team_id="T0PORTAL") as slack:
        page = sign_in(OWNER)
        page.goto(portal.url("/chat/"))
        page.get_by_role("heading", name="Chat platforms", exact=True).wait_for()
        slack_card = page.locator("section#slack")
        # The URLs to paste into the Slack app are shown.
        assert "/chat/slack/events" in slack_card.inner_text()
        slack_card.get_by_label("Team id").fill("T0PORTAL")
        slack_card.get_by_label("Slack API URL").fill(slack.api_url)
        slack_card.get_by_label("Signing secret").fill(SIGNING_SECRET)
        slack_card.get_by_label("Bot token (xoxb-…)").fill(BOT_TOKEN)
        slack_card.get_by_role("button", name="Save Slack").click()
        page.get_by_text("Slack settings saved.").wait_for()
        content = page.content()
        assert SIGNING_SECRET not in content
        assert BOT_TOKEN not in content
        slack_card = page.locator("section#slack")
        assert slack_card.get_by_text("Stored (encrypted). Leave empty to keep it.").count() == 2

        slack_card.get_by_label("Channel id").fill("C0PORTAL1")
        slack_card.get_by_label("Name (for this list)").fill("#help-desk")
        slack_card.get_by_role("button", name="Connect channel").click()
        page.get_by_text("Channel connected to").wait_for()
        row = page.locator("section#slack table tbody tr").filter(has_text="C0PORTAL1")
        assert row.count() == 1

        page.locator("section#slack").get_by_label("Send a test message to channel (id)").fill(
            "C0PORTAL1"
        )
        page.locator("section#slack").get_by_role("button", name="Send test message").click()
        page.get_by_text("Test message sent to C0PORTAL1.").wait_for()
        (sent,) = slack.posted("C0PORTAL1")
        assert "OPAA is connected" in sent["text"]
        shoot(page, "chat-settings")
        assert axe_violations(page) == []


def test_a_viewer_is_refused_the_chat_page(sign_in, portal):
    page = sign_in(VIEWER)
    response = page.goto(portal.url("/chat/"))
    assert response.status == 403
