"""Where the HLS reader may go: the playlist's origin, where it redirects, and hosts the
user allows; never a link-local or cloud metadata address.

A playlist is written by a server the SDK does not trust, and every URI it lists becomes a
GET from the user's machine: without a rule, a hostile playlist makes the reader fetch
``http://169.254.169.254/...`` (cloud credentials) or ``http://10.0.0.1:6379/`` (a service
on the user's network). So by default a variant, init section or segment URI (and every
redirect hop) must be on the origin (scheme, host, port) of the playlist URL the service
gave, or of where that playlist's requests were redirected; ``hls_hosts`` allows more
(``"cdn.example.com"``, ``"cdn.example.com:8443"``, ``"*.example.com"``, ``"*"``). Link-local
addresses (``169.254.0.0/16``, ``fe80::/10``) and the metadata services' addresses and
names are refused whatever the options say. Host names are checked as written: the reader
does not resolve them first (a name that resolves to such an address is not caught here).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from urllib.parse import urlsplit

from ..._errors import ConfigurationError, HlsError

__all__ = ["HostPolicy", "check_hosts"]

_METADATA_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "metadata.azure.internal"}
)
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200", "169.254.169.254")
)

Origin = tuple[str, str, int]


def _origin(url: str) -> Origin:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise HlsError("an HLS URI has a malformed port") from None
    default = 443 if scheme == "https" else 80
    return scheme, (parts.hostname or "").lower().rstrip("."), port or default


def _forbidden(host: str) -> bool:
    """True for link-local and cloud metadata hosts (refused whatever the options)."""
    if host in _METADATA_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_link_local or address in _METADATA_ADDRESSES


def check_hosts(hosts: Collection[str]) -> tuple[str, ...]:
    """``hosts`` as `HostPolicy` takes them (`ConfigurationError` for anything else)."""
    if isinstance(hosts, str):
        raise ConfigurationError("hls_hosts must be a collection of host names, not a string")
    checked: list[str] = []
    for host in hosts:
        if not isinstance(host, str) or not host.strip() or "/" in host:
            raise ConfigurationError(
                f"hls_hosts: {host!r} is not a host ('cdn.example.com', 'host:port', "
                "'*.example.com' or '*')"
            )
        checked.append(host.strip().lower().rstrip("."))
    return tuple(checked)


class HostPolicy:
    """The hosts one HLS reader may fetch from (see the module docs).

    Args:
        playlist_url: the playlist URL the service gave (its origin is allowed).
        hosts: more hosts allowed (`check_hosts` form).
    """

    def __init__(self, playlist_url: str, hosts: Collection[str] = ()) -> None:
        self._origins: set[Origin] = set()
        self._hosts = tuple(hosts)
        self.landed(playlist_url)

    def landed(self, playlist_url: str) -> None:
        """A playlist was served from ``playlist_url`` (after redirects): its origin is
        allowed from now on (unless it is a forbidden host)."""
        self.check(playlist_url, "playlist", origin_only=False)
        self._origins.add(_origin(playlist_url))

    def check(self, url: str, what: str, *, origin_only: bool = True) -> None:
        """Raise `HlsError` unless ``url`` may be fetched (``what`` names it)."""
        scheme, host, port = origin = _origin(url)
        if scheme not in ("http", "https") or not host:
            raise HlsError(f"HLS {what} URI is not an http(s) URL: refused")
        if _forbidden(host):
            raise HlsError(f"HLS {what} URI is on a link-local or metadata address: refused")
        if not origin_only or origin in self._origins or self._allowed(host, port):
            return
        raise HlsError(
            f"HLS {what} URI is on another host than the playlist ({host}): refused; "
            "allow it with StreamingClient(hls_hosts=[...])"
        )

    def _allowed(self, host: str, port: int) -> bool:
        for pattern in self._hosts:
            name, _, wanted = pattern.rpartition(":") if _has_port(pattern) else (pattern, "", "")
            name = name.strip("[]")
            if wanted and wanted != str(port):
                continue
            if name == "*" or name == host or (name.startswith("*.") and host.endswith(name[1:])):
                return True
        return False


def _has_port(pattern: str) -> bool:
    head, sep, tail = pattern.rpartition(":")
    return bool(sep) and tail.isdigit() and not head.endswith(":")
