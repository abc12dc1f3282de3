"""How ``heygen-streaming`` words a failure: one line, in the command line's own terms.

The SDK's messages name its Python arguments (``api_key=``, ``base_url=``); a user of the
command typed flags and environment variables, so `cli_words` renames them, and `hint`
adds what to check (the key after a 401, the base URL after a connection error).
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .. import (
    APIConnectionError,
    AuthenticationError,
    ConfigurationError,
    ConnectionFailed,
    ConnectTimeout,
    HeyGenError,
    NotFoundError,
    SessionClosed,
)

if TYPE_CHECKING:
    from .run import Config

__all__ = ["SDK_WORDS", "cli_words", "exit_code", "hint", "one_line"]

SDK_WORDS: dict[str, str] = {
    # _client.StreamingClient: no key
    "pass api_key=..., set the HEYGEN_API_KEY environment variable, or pass token=... "
    "(from streaming.create_token)": "pass --api-key KEY or set HEYGEN_API_KEY",
    # _client.StreamingClient: a bad base URL
    "base_url (or $HEYGEN_BASE_URL)": "--base-url (or $HEYGEN_BASE_URL)",
    # _http.transport (connection errors), _http.decode (404 hints)
    "base_url= or $HEYGEN_BASE_URL": "--base-url or $HEYGEN_BASE_URL",
    # _liveavatar.client.LiveAvatarClient: no key
    "pass api_key=..., set $LIVEAVATAR_API_KEY, or pass token=... (a session token from "
    "create_session_token)": "pass --api-key KEY or set LIVEAVATAR_API_KEY",
    # _v1.core and _liveavatar.core: no media in time
    "within connect_timeout=": "within --connect-timeout ",
}
"""SDK phrases and what the command line says instead (a test checks each still exists)."""


def cli_words(text: str, config: Config | None = None) -> str:
    """``text`` with the SDK's argument names replaced by the command line's flags.

    The SDK's shared HTTP layer names ``$HEYGEN_BASE_URL`` whichever client failed: for a
    command on another service (``live``), its own variable is named instead.
    """
    for sdk, cli in SDK_WORDS.items():
        text = text.replace(sdk, cli)
    if config is not None and config.service.base_env != "HEYGEN_BASE_URL":
        text = text.replace("$HEYGEN_BASE_URL", f"${config.service.base_env}")
    return text


def exit_code(exc: BaseException) -> int:
    """2 for what the command line refused before sending anything, else 1."""
    from .run import UsageError

    return 2 if isinstance(exc, UsageError | ConfigurationError) else 1


def one_line(exc: BaseException, config: Config | None = None) -> str:
    """The failure as one line, at most 500 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, OSError | ValueError | TimeoutError) and not isinstance(exc, HeyGenError):
        text = f"{type(exc).__name__}: {text}"
    return cli_words(text, config)[:500]


def only_loopback() -> bool:
    """Whether this machine (network namespace) has no network interface but loopback."""
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        return False
    return all(name.startswith("lo") for name in names)


def hint(exc: BaseException, config: Config) -> str:
    """The end reason of a session, or what to check: the key, the base URL, the network."""
    service = config.service
    failed = isinstance(exc, ConnectTimeout | ConnectionFailed)
    if failed and service.name == "LiveAvatar" and only_loopback():
        return (
            " (the LiveKit client sends media over a network interface other than loopback, "
            "and this machine has none: see 'Against the emulator' in docs/liveavatar.md)"
        )
    if isinstance(exc, SessionClosed) and exc.reason not in str(exc):
        return f" (reason: {exc.reason})"
    base = (config.base_url or service.default_base).rstrip("/")
    if isinstance(exc, AuthenticationError):
        return (
            f" (check your key: --api-key or ${service.key_env}, for {base}; a "
            "`heygen-streaming emulator` accepts the --api-key it was started with)"
        )
    if isinstance(exc, APIConnectionError) and base not in str(exc):
        return f" (service at {base}: is it running and is --base-url / ${service.base_env} right?)"
    if isinstance(exc, NotFoundError) and urlsplit(base).path not in ("", "/"):
        root = base[: len(base) - len(urlsplit(base).path)]
        return f" (base URL {base} has a path: use the service root, e.g. {root})"
    return ""
