"""Track placement and codec choice on the single connection (``/rtc/v1``), against offers
made by aiortc standing in for clients with unusual codec sets (in the server namespace;
no media flows)."""

from __future__ import annotations

from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver
from livekit.protocol import rtc

from heygen_streaming.emulator.livekit import Room
from heygen_streaming.emulator.livekit import sdp as sdp_edit
from heygen_streaming.emulator.livekit.negotiation import Negotiator
from heygen_streaming.emulator.livekit.peer import RoomPeer
from netns import NetnsLoop

from ._server import Source

pytestmark = [
    pytest.mark.netns,
    pytest.mark.requires_tool("ip", package="iproute2"),
    pytest.mark.timeout(30),
]


async def _client_offer(video_codecs: list[str]) -> str:
    """An offer with one receive-only audio and one receive-only video section."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="recvonly")
    video = pc.addTransceiver("video", direction="recvonly")
    caps = RTCRtpReceiver.getCapabilities("video").codecs
    video.setCodecPreferences([c for c in caps if c.mimeType.lower() in video_codecs])
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    await pc.close()
    return offer


async def _answer_for(codec: str, offered: list[str]) -> tuple[str, list[rtc.SignalResponse]]:
    room = Room("r")
    avatar = room.add_participant("avatar")
    avatar.publish(Source(), kind="video", codec=codec)  # type: ignore[arg-type]
    sent: list[rtc.SignalResponse] = []
    publisher = RoomPeer(lambda data, reliable: None)
    negotiator = Negotiator(publisher, None, tracks=room.server_tracks, send=sent.append, name="t")
    await negotiator.answer(await _client_offer(offered), 1)
    negotiator.close()
    await publisher.close()
    answers = [r.answer for r in sent if r.WhichOneof("message") == "answer"]
    assert len(answers) == 1
    return answers[0].sdp, sent


def _video(sdp: str) -> tuple[str, list[str]]:
    section = next(s for s in sdp.split("m=")[1:] if s.startswith("video"))
    direction = next(
        d for d in ("sendonly", "recvonly", "inactive", "sendrecv") if f"a={d}" in section
    )
    codecs = [
        line.split()[1].split("/")[0]
        for line in section.split("\r\n")
        if line.startswith("a=rtpmap:")
    ]
    return direction, codecs


@pytest.mark.parametrize(
    ("codec", "offered", "direction", "sent"),
    [
        ("h264", ["video/vp8", "video/h264", "video/rtx"], "sendonly", "H264"),
        ("vp8", ["video/h264", "video/vp8"], "sendonly", "VP8"),
        # Packets of one codec cannot be sent as another: no track for such a client.
        ("h264", ["video/vp8"], "inactive", None),
        ("vp8", ["video/h264"], "inactive", None),
    ],
    ids=["h264", "vp8", "h264-to-vp8-only-client", "vp8-to-h264-only-client"],
)
def test_the_video_codec_is_chosen_by_editing_the_clients_offer(
    server_loop: NetnsLoop, codec: str, offered: list[str], direction: str, sent: Any
) -> None:
    answer, responses = server_loop.run(_answer_for(codec, offered))
    got_direction, codecs = _video(answer)
    assert got_direction == direction
    if sent is not None:
        assert codecs[0] == sent and set(codecs) <= {sent, "rtx"}
        mid = next(s.mid for s in sdp_edit.sections(answer) if s.kind == "video")
        track_sid = responses[0].answer.mid_to_track_id[mid]
        assert track_sid.startswith("TR_") and sdp_edit.msid_track_ids(answer)[mid] == track_sid
    # A track that cannot be sent is not asked for again (no renegotiation loop).
    assert not [r for r in responses if r.WhichOneof("message") == "media_sections_requirement"]
