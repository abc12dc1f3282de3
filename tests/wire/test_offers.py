"""Captured server offers: the emulator's offer has their shape, and the SDK answers them.

No test sends a packet to an address found in a capture: candidates are rewritten to
127.0.0.1 and the ICE server list is empty before an offer is applied.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from heygen_streaming.emulator import Emulator

from ._corpus import OFFERS, addresses, loopback_only, offer, structure


def test_the_captured_offers_share_one_structure() -> None:
    shapes = [structure(offer(name)) for name in OFFERS]
    assert shapes[0] == shapes[1] == shapes[2]
    media = shapes[0]["media"]
    assert [m["kind"] for m in media] == ["video", "audio", "application"]
    assert [m["direction"] for m in media] == [["sendonly"], ["sendrecv"], ["sendrecv"]]
    assert shapes[0]["bundle"] == ["a=group:BUNDLE 0 1 2"]
    # The partial fourth capture agrees as far as it goes.
    partial = structure(offer("offer_4_partial.sdp"))["media"][0]
    assert {k: partial[k] for k in ("kind", "mid", "codecs", "direction")} == {
        k: media[0][k] for k in ("kind", "mid", "codecs", "direction")
    }


async def _emulator_offer(**options: Any) -> str:
    async with (
        Emulator(api_key="k", **options) as emu,
        httpx.AsyncClient(base_url=emu.base_url, headers={"X-Api-Key": "k"}) as http,
    ):
        response = await http.post("/v1/streaming.new", json={"quality": "low"})
        data = response.json()["data"]
        await http.post("/v1/streaming.stop", json={"session_id": data["session_id"]})
    sdp: str = data["sdp"]["sdp"]
    return sdp


async def test_emulator_offer_has_the_captured_structure() -> None:
    """m-line order, mids, directions, BUNDLE, candidates only in mid 0 then
    end-of-candidates, no rtcp-fb, VP8/96 and opus/111 alone, sctp-port 5000."""
    sdp = await _emulator_offer()
    assert sdp.endswith("\r\n") and "\n" not in sdp.replace("\r\n", "")
    assert structure(sdp) == structure(offer("offer_3.sdp"))
    assert "a=rtcp-fb" not in sdp


async def test_rtcp_feedback_option_offers_nack_pli_and_rtx() -> None:
    shape = structure(await _emulator_offer(rtcp_feedback=True))
    video = shape["media"][0]
    assert video["codecs"][0] == "96 VP8/90000"
    assert {"rtcp-fb:96 nack", "rtcp-fb:96 nack pli"} <= set(video["rtcp_fb"])
    assert any(codec.endswith("rtx/90000") for codec in video["codecs"])
    # Everything else keeps the captured shape.
    captured = structure(offer("offer_3.sdp"))
    assert shape["bundle"] == captured["bundle"]
    assert shape["media"][1:] == captured["media"][1:]


def test_loopback_rewrite_leaves_no_captured_address() -> None:
    for name in (*OFFERS, "offer_4_partial.sdp"):
        original = offer(name)
        assert addresses(original) - {"127.0.0.1", "0.0.0.0"}
        assert addresses(loopback_only(original)) == {"127.0.0.1"}


@pytest.mark.parametrize("name", OFFERS)
@pytest.mark.timeout(30)
async def test_sdk_peer_answers_every_captured_offer(name: str) -> None:
    """aiortc (the SDK's WebRTC stack) accepts each pion offer and answers all three
    sections: video received, audio answered, the data channel kept."""
    sdp = loopback_only(offer(name))
    assert addresses(sdp) == {"127.0.0.1"}
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        answer = structure(pc.localDescription.sdp)
    finally:
        await asyncio.wait_for(pc.close(), 10)
    media = answer["media"]
    assert [m["kind"] for m in media] == ["video", "audio", "application"]
    assert [m["mid"] for m in media] == ["0", "1", "2"]
    assert media[0]["direction"] == ["recvonly"]
    assert media[0]["codecs"] == ["96 VP8/90000"]
    assert media[1]["codecs"] == ["111 opus/48000/2"]
    assert media[1]["direction"][0] in ("recvonly", "sendrecv", "inactive")
    assert media[2]["port"] != "0"  # the data channel is accepted
    assert answer["bundle"] == ["a=group:BUNDLE 0 1 2"]
