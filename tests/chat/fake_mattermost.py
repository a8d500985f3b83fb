"""The loopback Mattermost fake (``tests.fakes.chat_platforms.FakeMattermostServer``)
with what the bot's direct messages and private replies need, from the REST API v4's
documented shapes:

- ``GET /api/v4/users/me/channels``: the bot's channels (``id``, ``type`` ``O``/``P``/
  ``D``/``G``, ``name``, ``team_id``, ``last_post_at`` in ms);
- ``GET /api/v4/channels/{id}/posts?since=<ms>``: a ``PostList`` (``order``, ``posts``
  by id) of the posts changed at or after ``since``; posts carry ``create_at``,
  ``update_at``, ``delete_at``, ``type`` ("" for people's posts), ``root_id`` and
  ``file_ids``;
- ``POST /api/v4/channels/direct`` with ``[user_id, other_id]``: the direct channel of
  the two (created once, named ``<id>__<id>`` with the ids sorted);
- ``POST /api/v4/posts/ephemeral`` answering 403 (Mattermost's error body) when the bot
  lacks ``create_post_ephemeral`` (``ephemeral_allowed = False``).
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.chat_platforms import FakeMattermostServer, Recorded


class FakeMattermost(FakeMattermostServer):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.channels: dict[str, dict] = {}
        self.ephemeral_allowed = True
        self._clock = 0

    def _now_ms(self) -> int:
        with self._lock:  # strictly increasing, like the order posts were made in
            self._clock = max(self._clock + 1, int(time.time() * 1000))
            return self._clock

    def channel_add(self, channel_id: str, *, kind: str = "O", name: str = "") -> dict:
        channel = {
            "id": channel_id,
            "type": kind,
            "name": name or channel_id,
            "team_id": "" if kind in ("D", "G") else "mmteam",
            "last_post_at": 0,
            "delete_at": 0,
        }
        self.channels[channel_id] = channel
        return channel

    def direct(self, user_id: str) -> str:
        """The bot's direct channel with ``user_id`` (made once)."""
        name = "__".join(sorted([self.bot_user_id, user_id]))
        for channel in self.channels.values():
            if channel["name"] == name:
                return channel["id"]
        return self.channel_add(f"dm{self._next_id():024d}", kind="D", name=name)["id"]

    def add_post(
        self,
        *,
        channel_id: str,
        user_id: str,
        message: str,
        root_id: str = "",
        file_ids: tuple[str, ...] = (),
        kind: str = "",
    ) -> str:
        post_id = super().add_post(
            channel_id=channel_id, user_id=user_id, message=message, root_id=root_id
        )
        now = self._now_ms()
        self.posts[post_id].update(
            create_at=now, update_at=now, delete_at=0, type=kind, file_ids=list(file_ids)
        )
        if channel_id in self.channels:
            self.channels[channel_id]["last_post_at"] = now
        return post_id

    def route(self, request: Recorded) -> tuple[int, dict, Any]:
        path, method = request.path, request.method
        if request.headers.get("authorization") == f"Bearer {self.token}":
            rest = path.removeprefix("/api/v4/").strip("/").split("/")
            if rest == ["users", "me", "channels"] and method == "GET":
                return 200, {}, list(self.channels.values())
            if rest[0] == "channels" and len(rest) == 3 and rest[2] == "posts":
                if rest[1] not in self.channels:
                    return self._error(404, "Unable to find the channel.")
                since = int((request.body or {}).get("since") or 0)
                posts = {
                    p["id"]: p
                    for p in self.posts.values()
                    if p["channel_id"] == rest[1] and p.get("update_at", 0) >= since
                }
                order = sorted(posts, key=lambda i: posts[i].get("create_at", 0), reverse=True)
                return 200, {}, {"order": order, "posts": posts, "next_post_id": ""}
            if rest == ["channels", "direct"] and method == "POST":
                ids = request.body if isinstance(request.body, list) else []
                if len(ids) != 2 or self.bot_user_id not in ids:
                    return self._error(400, "Invalid or missing user_ids in request body.")
                other = ids[1] if ids[0] == self.bot_user_id else ids[0]
                return 201, {}, self.channels[self.direct(other)]
            if rest == ["posts", "ephemeral"] and not self.ephemeral_allowed:
                return self._error(403, "You do not have the appropriate permissions.")
        return super().route(request)

    def in_thread(self, channel_id: str, root_id: str) -> list[dict]:
        return [
            p
            for p in sorted(self.posts.values(), key=lambda p: p.get("create_at", 0))
            if p["channel_id"] == channel_id and root_id in (p["id"], p["root_id"])
        ]
