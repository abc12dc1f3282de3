"""TLS for every transport: httpx's verifying context, built once and only when needed.

Loading the CA bundle costs ~20 ms at start-up, and a client of an ``http://`` URL (the
emulator) never needs it: the API's transport starts with a `DeferredSSLContext`, which
builds the real one (`ssl_context`) on the first TLS connection.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Iterable

import httpx

__all__ = ["DeferredSSLContext", "ssl_context"]


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once (it costs ~20 ms per client)."""
    return httpx.create_ssl_context()


class DeferredSSLContext(ssl.SSLContext):
    """Stands for `ssl_context` until the first TLS connection, which builds it.

    The TLS calls httpcore makes are delegated to the real context; this one holds no CA,
    so any other use fails verification (closed, not open).
    """

    def set_alpn_protocols(self, alpn_protocols: Iterable[str]) -> None:
        ssl_context().set_alpn_protocols(alpn_protocols)

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        return ssl_context().wrap_bio(
            incoming,
            outgoing,
            server_side=server_side,
            server_hostname=server_hostname,
            session=session,
        )

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        return ssl_context().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session,
        )
