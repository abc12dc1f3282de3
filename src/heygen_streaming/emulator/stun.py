"""A STUN binding responder on loopback, listed in the emulator's ``ice_servers2``.

HeyGen listed STUN/TURN servers in every ``streaming.new``; published clients fall back to a
public STUN host when the list is empty, so an emulator answering ``[]`` made test runs reach
the internet. The emulator instead lists this responder (``stun:127.0.0.1:<port>``): it
answers RFC 5389 binding requests with the sender's address (XOR-MAPPED-ADDRESS) and
ignores everything else. Never a host outside this machine.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aioice import stun

__all__ = ["StunResponder"]

logger = logging.getLogger("heygen_streaming.emulator")


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: StunResponder) -> None:
        self.owner = owner
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            request = stun.parse_message(data)
        except ValueError:
            return
        if request.message_method != stun.Method.BINDING:
            return
        if request.message_class != stun.Class.REQUEST:
            return
        response = stun.Message(
            message_method=stun.Method.BINDING,
            message_class=stun.Class.RESPONSE,
            transaction_id=request.transaction_id,
        )
        response.attributes["XOR-MAPPED-ADDRESS"] = (addr[0], addr[1])
        response.add_fingerprint()
        if self.transport is not None:
            self.transport.sendto(bytes(response), addr)
            self.owner.answered += 1


class StunResponder:
    """``await start()`` binds ``host`` (UDP, any free port); `urls` then names it."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.bound_host = host
        self.answered = 0
        self._transport: asyncio.DatagramTransport | None = None

    def urls_for(self, host: str) -> list[str]:
        """``["stun:host:port"]``: this responder as reached at ``host`` (a local address)."""
        host = host.removeprefix("::ffff:")
        return [f"stun:[{host}]:{self.port}" if ":" in host else f"stun:{host}:{self.port}"]

    @property
    def wildcard(self) -> bool:
        """Bound to every local address (then listed at the one each client reached)."""
        return self.bound_host in ("0.0.0.0", "::")

    @property
    def urls(self) -> list[str]:
        """``["stun:host:port"]`` once started (the bound address; 127.0.0.1 if wildcard)."""
        return self.urls_for("127.0.0.1" if self.wildcard else self.bound_host)

    def ice_server(self, host: str | None = None) -> dict[str, Any]:
        """The ``ice_servers2`` entry, shaped like the captured STUN entry."""
        urls = self.urls if host is None else self.urls_for(host)
        return {"credentialType": "password", "urls": urls}

    async def start(self) -> None:
        """Bind the UDP socket."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(self.host, 0)
        )
        self._transport = transport
        sockname = transport.get_extra_info("sockname")
        self.bound_host = str(sockname[0])
        self.port = int(sockname[1])

    def close(self) -> None:
        """Stop answering."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
