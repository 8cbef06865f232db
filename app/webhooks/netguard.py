"""Outgoing requests to user-supplied URLs (webhooks) without server-side request forgery.

A URL is checked twice: when it is submitted (syntax, scheme, and the addresses its host resolves to now)
and again at every delivery attempt, where the host is resolved once, every address is checked, and the
connection goes to a checked address: a DNS answer that changes between the check and the connect
(DNS rebinding) cannot point the request at a loopback, private, link-local or reserved address.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = {"http": 80, "https": 443}
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# http.client refuses these too, but later and less clearly; a URL never needs them.
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f]")


class UrlRefused(ValueError):
    """The URL may not be used: the message says why, for the caller (400 at submit, a log line later)."""


@dataclass(frozen=True)
class Target:
    """A parsed http(s) URL: where to connect and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str


def parse_url(url: str) -> Target:
    """Check the syntax of an http(s) URL; raises UrlRefused."""
    if _BAD_CHARS.search(url):
        raise UrlRefused("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"the URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UrlRefused(f"only http and https URLs are allowed, not {parts.scheme or 'a relative URL'!r}")
    if not parts.hostname:
        raise UrlRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("credentials in the URL are not supported; put a token in the path or query")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, parts.hostname, port or SCHEMES[scheme], path)


def address_refused(address: str) -> str | None:
    """What kind of non-public address ``address`` is ("a loopback address"), or None when it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # Addresses that carry an IPv4 address inside reach that IPv4 host: judge the inner one.
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            ip = inner
    # most specific first: link-local and loopback addresses are also "private" to Python
    for kind in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{kind}"):
            return f"a {kind.replace('_', '-')} address"
    if not ip.is_global:
        return "not a public address"
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to now (an IP literal resolves to itself); raises UrlRefused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"cannot resolve {host!r}: {exc}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UrlRefused(f"{host!r} resolves to no address")
    return addresses


def checked_addresses(target: Target, allow_private: bool) -> list[str]:
    """Resolve the target's host and refuse it when any of its addresses is not public (unless allowed)."""
    addresses = resolve(target.host, target.port)
    if not allow_private:
        for address in addresses:
            kind = address_refused(address)
            if kind:
                where = address if address == target.host else f"{target.host} resolves to {address},"
                raise UrlRefused(f"{where} {kind}: refused unless ENHANCE_WEBHOOK_ALLOW_PRIVATE=1")
    return addresses


def check_url(url: str, allow_private: bool) -> Target:
    """The submit-time check: syntax, scheme and (unless private targets are allowed) the addresses now."""
    target = parse_url(url)
    if not allow_private:
        checked_addresses(target, allow_private)
    return target


class _PinnedMixin:
    """Connects to an address chosen (and checked) beforehand instead of resolving the host again.

    The Host header, and for https the SNI name and the certificate check, still use the URL's host.
    """

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self._create_connection = self._connect_pinned  # http.client sets this in __init__: replace it

    def _connect_pinned(self, address, timeout, source_address=None):
        return socket.create_connection((self._address, address[1]), timeout, source_address)


class PinnedHTTPConnection(_PinnedMixin, http.client.HTTPConnection):
    """http.client.HTTPConnection that connects to a checked address."""


class PinnedHTTPSConnection(_PinnedMixin, http.client.HTTPSConnection):
    """http.client.HTTPSConnection that connects to a checked address (certificate checked for the host)."""


def post(url: str, body: bytes, headers: dict, allow_private: bool, timeout: float) -> int:
    """POST ``body`` to ``url`` after checking every address it resolves to; returns the status code.

    Raises UrlRefused (do not retry) or OSError / http.client.HTTPException (retry later). Redirects are
    not followed: a 3xx could point anywhere.
    """
    target = parse_url(url)
    addresses = checked_addresses(target, allow_private)
    cls = PinnedHTTPSConnection if target.scheme == "https" else PinnedHTTPConnection
    error: OSError | None = None
    for address in addresses:
        conn = cls(target.host, target.port, address, timeout)
        try:
            conn.connect()
        except OSError as exc:
            error = exc  # nothing was sent: the next address of the host may answer
            conn.close()
            continue
        try:
            conn.request("POST", target.path, body=body, headers=headers)
            response = conn.getresponse()
            response.read(65536)  # the receiver's answer is not needed: read a little, never all of it
            return response.status
        finally:
            conn.close()
    raise error or OSError(f"cannot connect to {target.host}")
