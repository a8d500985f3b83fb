"""A real Synapse (the Matrix reference homeserver, ``matrix-synapse``) on loopback for
the Matrix bot's tests: configured in a temporary directory (SQLite, no federation, rate
limits out of the way), users registered with the shared-secret admin API, and a small
client to act as people do.

Not a fake: the homeserver itself, started in a few seconds."""

from __future__ import annotations

import hashlib
import hmac
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import yaml

SERVER_NAME = "localhost"
_FAST = {"per_second": 1000, "burst_count": 1000}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Synapse:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen | None = None
        self.secret = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Synapse:
        config = self.directory / "homeserver.yaml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "synapse.app.homeserver",
                "--server-name",
                SERVER_NAME,
                "--config-path",
                str(config),
                "--data-directory",
                str(self.directory),
                "--generate-config",
                "--report-stats=no",
            ],
            cwd=self.directory,
            check=True,
            capture_output=True,
        )
        data = yaml.safe_load(config.read_text())
        data["listeners"] = [
            {
                "port": self.port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ]
        data["trusted_key_servers"] = []
        data["suppress_key_server_warning"] = True
        data["federation_domain_whitelist"] = []
        for name in ("rc_message", "rc_registration", "rc_admin_redaction"):
            data[name] = _FAST
        data["rc_joins"] = {"local": _FAST, "remote": _FAST}
        data["rc_invites"] = {"per_room": _FAST, "per_user": _FAST, "per_issuer": _FAST}
        data["rc_login"] = {"address": _FAST, "account": _FAST, "failed_attempts": _FAST}
        config.write_text(yaml.safe_dump(data))
        self.secret = data["registration_shared_secret"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "--config-path", str(config)],
            cwd=self.directory,
            stdout=(self.directory / "out.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/_matrix/client/versions", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"Synapse did not start; see {self.directory / 'out.log'}")

    def __exit__(self, *exc_info) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def register(self, username: str) -> MatrixUser:
        """A user, by the shared-secret registration (``/_synapse/admin/v1/register``)."""
        url = f"{self.url}/_synapse/admin/v1/register"
        nonce = httpx.get(url, timeout=10).json()["nonce"]
        password = uuid.uuid4().hex
        mac = hmac.new(self.secret.encode(), digestmod=hashlib.sha1)
        mac.update(
            b"\x00".join([nonce.encode(), username.encode(), password.encode(), b"notadmin"])
        )
        body = {
            "nonce": nonce,
            "username": username,
            "password": password,
            "admin": False,
            "mac": mac.hexdigest(),
        }
        found = httpx.post(url, json=body, timeout=10).json()
        return MatrixUser(self.url, found["user_id"], found["access_token"])


class MatrixUser:
    """A person's client: rooms, messages, reactions, what they see."""

    def __init__(self, url: str, user_id: str, token: str) -> None:
        self.user_id = user_id
        self.token = token
        self._client = httpx.Client(
            base_url=f"{url}/_matrix/client/v3/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )

    def call(self, method: str, path: str, **kwargs) -> dict:
        response = self._client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    def room_create(self, *, invite: list[str]) -> str:
        """A room anyone on the homeserver may join (a team's channel), inviting ``invite``."""
        body = {"invite": invite, "preset": "public_chat"}
        return self.call("POST", "createRoom", json=body)["room_id"]

    def direct_create(self, other: str) -> str:
        """A direct chat with ``other`` (``is_direct`` on the invite)."""
        body = {"invite": [other], "is_direct": True, "preset": "trusted_private_chat"}
        return self.call("POST", "createRoom", json=body)["room_id"]

    def join(self, room_id: str) -> None:
        self.call("POST", f"join/{quote(room_id, safe='')}", json={})

    def send(self, room_id: str, content: dict, event_type: str = "m.room.message") -> str:
        path = f"rooms/{quote(room_id, safe='')}/send/{event_type}/{uuid.uuid4().hex}"
        return self.call("PUT", path, json=content)["event_id"]

    def say(self, room_id: str, body: str, *, mention: str = "", thread: str = "") -> str:
        content: dict = {"msgtype": "m.text", "body": body}
        if mention:
            content["m.mentions"] = {"user_ids": [mention]}
        if thread:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread}
        return self.send(room_id, content)

    def react(self, room_id: str, event_id: str, key: str) -> str:
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        return self.send(room_id, content, "m.reaction")

    def messages(self, room_id: str) -> list[dict]:
        """The room's message events, oldest first."""
        found = self.call(
            "GET", f"rooms/{quote(room_id, safe='')}/messages", params={"dir": "b", "limit": 100}
        )
        return [e for e in reversed(found["chunk"]) if e["type"] == "m.room.message"]

    def invites(self) -> list[str]:
        return list(
            (self.call("GET", "sync", params={"timeout": "0"})["rooms"] or {}).get("invite", {})
        )
