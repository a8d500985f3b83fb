"""Where an organization may make OPAA connect: a guard against server-side request
forgery through the addresses its admins type in.

Connectors (Confluence, web directories, S3 endpoints, IMAP servers) and an
organization's identity provider are reached from OPAA's own network. On-premises
that is the point (the Confluence is internal); on a shared, managed installation it
would let one customer's admin probe the operator's network or a cloud metadata
endpoint (``169.254.169.254``). With ``OUTBOUND_PRIVATE_NETWORKS_ALLOWED=false`` every
such destination must resolve to public addresses only: loopback, private (RFC 1918,
unique-local), link-local, carrier-grade NAT, multicast and reserved ranges are refused,
checked again for every request an HTTP connector sends (redirects included).

What it does not cover: a name that resolves to a public address when checked and to a
private one a moment later (DNS rebinding). An egress proxy or firewall that allows
only the public internet closes that too; this guard is the application's part.
Destinations the operator configures (``LLM_API_BASE``, ``EMBEDDING_API_BASE``, the
database, Redis, S3 storage) are trusted and not checked.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

DEFAULT_PORTS = {"http": 80, "https": 443, "imap": 143, "imaps": 993}


class OutboundRefused(ValueError):
    """A destination this installation does not connect to; the message says why."""


def private_networks_allowed() -> bool:
    return settings.OUTBOUND_PRIVATE_NETWORKS_ALLOWED


def host_check(host: str, port: int) -> None:
    """Raise OutboundRefused unless ``host`` resolves only to public addresses (when
    private networks are not allowed; otherwise nothing is checked)."""
    if private_networks_allowed():
        return
    host = (host or "").strip().strip("[]")
    if not host:
        raise OutboundRefused("No host given.")
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundRefused(f"{host} could not be resolved.") from exc
    for *_, address in found:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            raise OutboundRefused(
                f"{host} is on a private or local network ({ip}): this installation "
                "connects only to public addresses."
            )


def url_check(url: str) -> None:
    """``host_check`` for the host and port of ``url``."""
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 443)
    except ValueError as exc:
        raise OutboundRefused(f"{url} has no valid port.") from exc
    host_check(parts.hostname or "", port)


def httpx_request_check(request) -> None:
    """An httpx ``request`` event hook: every request a client sends, redirects too."""
    url_check(str(request.url))
