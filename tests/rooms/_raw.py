"""A minimal LiveKit client made of aiohttp + aiortc, and raw HTTP/WebSocket helpers: the
attacker of the hostile-input table (it sends what no official client would)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from livekit.protocol import models, rtc


def join_request_param(offer_sdp: str | None = None, *, reconnect: bool = False) -> str:
    """A ``/rtc/v1`` ``join_request`` value (uncompressed ``WrappedJoinRequest``)."""
    request = rtc.JoinRequest(
        client_info=models.ClientInfo(sdk=models.ClientInfo.PYTHON, protocol=16),
        connection_settings=rtc.ConnectionSettings(auto_subscribe=True),
        reconnect=reconnect,
    )
    if offer_sdp is not None:
        request.publisher_offer.CopyFrom(rtc.SessionDescription(type="offer", sdp=offer_sdp))
    wrapped = rtc.WrappedJoinRequest(join_request=request.SerializeToString())
    return base64.urlsafe_b64encode(wrapped.SerializeToString()).decode()


def rtc_url(base: str, token: str | None, *, v1: bool = False, **query: str) -> str:
    """``http://host:port/rtc[/v1]?...`` with the token as ``access_token``."""
    params = dict(query)
    if token is not None:
        params["access_token"] = token
    if v1 and "join_request" not in params:
        params["join_request"] = join_request_param()
    return f"{base}/rtc{'/v1' if v1 else ''}?{urlencode(params)}"


async def http_get(url: str, **headers: str) -> tuple[int, str]:
    """(status, text) of a plain GET."""
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, await response.text()


class RawSignal:
    """A signalling WebSocket, message by message."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.received: list[rtc.SignalResponse] = []

    @classmethod
    async def open(cls, url: str) -> RawSignal:
        """Connect (raises aiohttp.WSServerHandshakeError with the status when refused)."""
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(url, max_msg_size=0)
        except BaseException:
            await session.close()
            raise
        return cls(session, ws)

    async def send(self, request: rtc.SignalRequest) -> None:
        await self.ws.send_bytes(request.SerializeToString())

    async def next(self, kind: str, within: float = 5.0) -> rtc.SignalResponse:
        """The next response of ``kind`` (``join``, ``offer``, ``pong_resp``, ...)."""
        async with asyncio.timeout(within):
            while True:
                message = await self.ws.receive()
                if message.type != aiohttp.WSMsgType.BINARY:
                    raise ConnectionError(f"{message.type.name} before {kind}")
                response = rtc.SignalResponse.FromString(message.data)
                self.received.append(response)
                if response.WhichOneof("message") == kind:
                    return response

    async def responsive(self, within: float = 3.0) -> bool:
        """Whether a ping is answered within ``within`` s."""
        try:
            await self.send(rtc.SignalRequest(ping_req=rtc.Ping(timestamp=1)))
            await self.next("pong_resp", within)
        except (TimeoutError, ConnectionError, ConnectionResetError):
            return False
        return True

    async def closed_with(self, within: float = 5.0) -> int | None:
        """The close code once the server closes the connection (None: still open)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while not self.ws.closed:
                    message = await self.ws.receive()
                    if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                        break
        return self.ws.close_code if self.ws.closed else None

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


class RawClient:
    """Joins on ``/rtc/v1`` with an aiortc offer carrying ``_reliable``/``_lossy`` channels."""

    def __init__(self, signal: RawSignal, pc: RTCPeerConnection, channels: dict[str, Any]) -> None:
        self.signal = signal
        self.pc = pc
        self.channels = channels

    @classmethod
    async def join(cls, base: str, token: str) -> RawClient:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        channels = {
            "reliable": pc.createDataChannel("_reliable"),
            "lossy": pc.createDataChannel("_lossy", ordered=False, maxRetransmits=0),
        }
        opened = asyncio.get_running_loop().create_future()
        channels["reliable"].on("open", lambda: opened.done() or opened.set_result(None))
        await pc.setLocalDescription(await pc.createOffer())
        param = join_request_param(pc.localDescription.sdp)
        try:
            signal = await RawSignal.open(rtc_url(base, token, v1=True, join_request=param))
            await signal.next("join")
            answer = await signal.next("answer")
            await pc.setRemoteDescription(RTCSessionDescription(answer.answer.sdp, "answer"))
            await asyncio.wait_for(opened, 10)
        except BaseException:
            await pc.close()
            raise
        return cls(signal, pc, channels)

    def send_packet(self, data: bytes, *, reliable: bool = True) -> None:
        self.channels["reliable" if reliable else "lossy"].send(data)

    async def close(self) -> None:
        await self.signal.close()
        await self.pc.close()
