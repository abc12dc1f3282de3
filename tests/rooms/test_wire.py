"""The room server's pure parts, without sockets: tokens, the signalling wire, SDP edits and
data packets."""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Callable

import jwt
import pytest
from livekit.protocol import models, rtc

from heygen_streaming.emulator.livekit import JoinRefused
from heygen_streaming.emulator.livekit import sdp as sdp_edit
from heygen_streaming.emulator.livekit.data import (
    MAX_PACKET_BYTES,
    Sequencer,
    decode_packet,
    encode_user_packet,
    user_message,
)
from heygen_streaming.emulator.livekit.ids import new_id
from heygen_streaming.emulator.livekit.tokens import TokenAuthority
from heygen_streaming.emulator.livekit.wire import (
    MAX_SIGNAL_BYTES,
    decode_join_request,
    decode_request,
    disconnect_reason,
    leave,
    parse_candidate_init,
    v0_options,
)

SECRET = "unit-secret-" + "s" * 32


# -- tokens ---------------------------------------------------------------------------------
@pytest.fixture
def authority() -> TokenAuthority:
    return TokenAuthority("APIunit", SECRET)


def test_a_minted_token_verifies_with_its_grants(authority: TokenAuthority) -> None:
    token = authority.mint(
        room="r", identity="user", name="User", metadata='{"a": 1}', can_publish=False
    )
    grant = authority.verify(token)
    assert (grant.identity, grant.room, grant.name, grant.metadata) == (
        "user",
        "r",
        "User",
        '{"a": 1}',
    )
    assert (grant.can_publish, grant.can_subscribe, grant.can_publish_data) == (False, True, True)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="APIunit")
    assert claims["sub"] == "user" and claims["video"]["roomJoin"] is True


def _raw_token(claims: dict[str, object], secret: str = SECRET) -> str:
    now = int(time.time())
    return jwt.encode({"iss": "APIunit", "nbf": now, "exp": now + 60, **claims}, secret, "HS256")


JOIN = {"roomJoin": True, "room": "r"}
INVALID = "invalid authorization token"
# Tokens are made when each test runs (made at collection, they expired before a long run
# reached them).
REFUSED_TOKENS: dict[str, tuple[Callable[[], str], int, str]] = {
    "none": (lambda: "", 401, "permissions denied"),
    "malformed": (lambda: "a.b.c", 401, INVALID),
    "bad-signature": (lambda: _raw_token({"sub": "u", "video": JOIN}, "x" * 32), 401, INVALID),
    "other-key": (
        lambda: _raw_token({"sub": "u", "video": JOIN, "iss": "o"}),
        401,
        "invalid API key",
    ),
    "expired": (
        lambda: _raw_token({"sub": "u", "video": JOIN, "exp": 0}),
        401,
        f"{INVALID}: token is expired",
    ),
    "no-exp": (
        lambda: jwt.encode({"iss": "APIunit", "sub": "u", "video": JOIN}, SECRET),
        401,
        INVALID,
    ),
    "no-roomJoin": (
        lambda: _raw_token({"sub": "u", "video": {"room": "r"}}),
        401,
        "permissions denied",
    ),
    "video-not-object": (lambda: _raw_token({"sub": "u", "video": "x"}), 401, INVALID),
    "no-video": (lambda: _raw_token({"sub": "u"}), 401, "permissions denied"),
    "no-identity": (lambda: _raw_token({"video": JOIN}), 400, "identity cannot be empty"),
    "no-room": (lambda: _raw_token({"sub": "u", "video": {"roomJoin": True}}), 400, "no room name"),
    "long-identity": (
        lambda: _raw_token({"sub": "u" * 257, "video": JOIN}),
        400,
        "participant identity length exceeds limits",
    ),
    "big-attributes": (
        lambda: _raw_token({"sub": "u", "video": JOIN, "attributes": {"a": "x" * 70_000}}),
        400,
        "attribute size exceeds limits",
    ),
    "long-room": (
        lambda: _raw_token({"sub": "u", "video": {**JOIN, "room": "r" * 257}}),
        400,
        "room name length exceeds limits",
    ),
}


@pytest.mark.parametrize(
    ("make", "status", "text"), REFUSED_TOKENS.values(), ids=REFUSED_TOKENS.keys()
)
def test_refused_tokens_get_livekit_status_and_text(
    authority: TokenAuthority, make: Callable[[], str], status: int, text: str
) -> None:
    token = make()
    with pytest.raises(JoinRefused) as refused:
        authority.verify(token)
    assert (refused.value.status, refused.value.message) == (status, text)
    assert token == "" or token not in str(refused.value)


def test_expiry_has_livekit_leeway_of_a_minute(authority: TokenAuthority) -> None:
    assert authority.verify(authority.mint(room="r", identity="u", ttl=-30)).identity == "u"
    with pytest.raises(JoinRefused):
        authority.verify(authority.mint(room="r", identity="u", ttl=-90))


def test_random_keys_and_no_secret_in_repr() -> None:
    one, two = TokenAuthority(), TokenAuthority()
    assert one.api_key != two.api_key and one.api_secret != two.api_secret
    assert one.api_secret not in repr(one)
    with pytest.raises(JoinRefused):
        two.verify(one.mint(room="r", identity="u"))


def test_ids_carry_their_prefix() -> None:
    ids = {new_id("PA_") for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("PA_") and len(i) == 15 for i in ids)


# -- the join request and signal messages ---------------------------------------------------------
def _wrapped(request: rtc.JoinRequest, *, compress: bool) -> str:
    body = request.SerializeToString()
    wrapped = rtc.WrappedJoinRequest(
        compression=rtc.WrappedJoinRequest.GZIP if compress else rtc.WrappedJoinRequest.NONE,
        join_request=gzip.compress(body) if compress else body,
    )
    return base64.urlsafe_b64encode(wrapped.SerializeToString()).decode().rstrip("=")


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_the_v1_join_request_is_decoded(compress: bool) -> None:
    request = rtc.JoinRequest(
        client_info=models.ClientInfo(sdk=models.ClientInfo.PYTHON, protocol=17),
        connection_settings=rtc.ConnectionSettings(auto_subscribe=False),
        publisher_offer=rtc.SessionDescription(type="offer", sdp="v=0\r\n"),
    )
    options = decode_join_request(_wrapped(request, compress=compress))
    assert options.single_pc and not options.auto_subscribe and not options.reconnect
    assert (options.protocol, options.sdk, options.publisher_offer) == (17, "PYTHON", "v=0\r\n")


@pytest.mark.parametrize(
    ("param", "text"),
    [
        ("", "join_request is required"),
        ("!!!", "cannot base64 decode wrapped join request"),
        ("____", "cannot unmarshal wrapped join request"),
        (
            base64.urlsafe_b64encode(
                rtc.WrappedJoinRequest(
                    compression=rtc.WrappedJoinRequest.GZIP, join_request=b"not gzip"
                ).SerializeToString()
            ).decode(),
            "cannot read decompressed join request",
        ),
        (
            base64.urlsafe_b64encode(
                rtc.WrappedJoinRequest(
                    compression=rtc.WrappedJoinRequest.GZIP,
                    join_request=gzip.compress(b"\0" * (2 << 20)),
                ).SerializeToString()
            ).decode(),
            "join request too large",
        ),
        (
            base64.urlsafe_b64encode(
                rtc.WrappedJoinRequest(join_request=b"\xff\xff\xff").SerializeToString()
            ).decode(),
            "cannot unmarshal join request",
        ),
    ],
    ids=["missing", "not-base64", "not-protobuf", "not-gzip", "gzip-bomb", "bad-inner"],
)
def test_bad_join_requests_are_refused_400(param: str, text: str) -> None:
    with pytest.raises(JoinRefused) as refused:
        decode_join_request(param)
    assert (refused.value.status, refused.value.message) == (400, text)


def test_v0_query_options() -> None:
    options = v0_options(
        {"auto_subscribe": "0", "protocol": "17", "sdk": "python", "reconnect": "1"}
    )
    assert not options.single_pc and not options.auto_subscribe and options.reconnect
    assert (options.protocol, options.sdk) == (17, "python")
    assert v0_options({"protocol": "x"}).auto_subscribe and v0_options({}).protocol == 0


def test_signal_requests_decode_from_binary_and_json_and_refuse_garbage() -> None:
    ping = rtc.SignalRequest(ping_req=rtc.Ping(timestamp=5))
    assert decode_request(ping.SerializeToString()) == ping
    assert decode_request('{"pingReq": {"timestamp": "5"}, "unknownField": 1}') == ping
    assert decode_request(b"").WhichOneof("message") is None  # empty: nothing to do
    for garbage in (b"\xff\xff\xff", "{not json", "[" * 100_000, b"\0" * (MAX_SIGNAL_BYTES + 1)):
        with pytest.raises(ValueError):
            decode_request(garbage)


def test_candidate_inits() -> None:
    line = "candidate:1 1 udp 2122260223 10.99.0.2 5000 typ host"
    init = json.dumps({"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0})
    assert parse_candidate_init(init) == (line, "0", 0)
    assert parse_candidate_init('{"candidate": ""}') == ("", None, None)  # end of candidates
    assert parse_candidate_init('{"candidate": "x", "sdpMLineIndex": true}')[2] is None
    for bad in ("nope", "[]", '{"candidate": 5}', json.dumps({"candidate": "x" * 5000})):
        with pytest.raises(ValueError):
            parse_candidate_init(bad)


def test_leave_and_reasons() -> None:
    message = leave("ROOM_DELETED").leave
    assert (message.reason, message.action) == (
        models.DisconnectReason.ROOM_DELETED,
        rtc.LeaveRequest.DISCONNECT,
    )
    assert leave("STATE_MISMATCH", reconnect=True).leave.action == rtc.LeaveRequest.RECONNECT
    assert disconnect_reason("SERVER_SHUTDOWN") == models.DisconnectReason.SERVER_SHUTDOWN
    with pytest.raises(ValueError, match="ROOM_DELETED"):
        disconnect_reason("GONE")


# -- SDP edits ------------------------------------------------------------------------------------
# A libwebrtc-shaped offer: data, one receive-only audio, one receive-only video with several
# codecs (RTX per codec), and the client's own microphone.
OFFER = "\r\n".join([
    "v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1 2 3",
    "a=msid-semantic: WMS",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:0", "a=sctp-port:5000",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:1", "a=recvonly", "a=rtpmap:111 opus/48000/2",
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 98", "a=mid:2", "a=recvonly",
    "a=rtpmap:96 VP8/90000", "a=rtcp-fb:96 nack", "a=rtpmap:97 rtx/90000", "a=fmtp:97 apt=96",
    "a=rtpmap:102 H264/90000", "a=rtcp-fb:102 nack pli",
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
    "a=rtpmap:103 rtx/90000", "a=fmtp:103 apt=102", "a=rtpmap:98 VP9/90000",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:3", "a=sendonly",
    "a=msid:- c5a3b7e0-mic", "a=rtpmap:111 opus/48000/2",
]) + "\r\n"  # fmt: skip


def test_sections_bundle_and_msids_of_an_offer() -> None:
    found = [(s.mid, s.kind, s.direction) for s in sdp_edit.sections(OFFER)]
    assert found == [
        ("0", "application", "sendrecv"),
        ("1", "audio", "recvonly"),
        ("2", "video", "recvonly"),
        ("3", "audio", "sendonly"),
    ]
    assert sdp_edit.bundle_mid(OFFER) == "0"
    assert sdp_edit.msid_track_ids(OFFER) == {"3": "c5a3b7e0-mic"}


@pytest.mark.parametrize(
    ("codec", "payloads"), [("h264", "102 103"), ("vp8", "96 97")], ids=["h264", "vp8"]
)
def test_keep_codec_leaves_one_codec_and_its_rtx(codec: str, payloads: str) -> None:
    edited, missing = sdp_edit.keep_codec(OFFER, {"2"}, codec)
    assert missing == set()
    video = edited.split("m=video")[1].split("m=audio")[0]
    assert video.startswith(f" 9 UDP/TLS/RTP/SAVPF {payloads}\r\n")
    kept = {
        line.split(":")[1].split()[0] for line in video.split("\r\n") if line.startswith("a=rtpmap")
    }
    assert kept == set(payloads.split())
    assert edited.split("m=video")[0] == OFFER.split("m=video")[0]  # other sections untouched


def test_keep_codec_reports_a_section_without_the_codec() -> None:
    edited, missing = sdp_edit.keep_codec(OFFER, {"1"}, "h264")
    assert missing == {"1"} and edited == OFFER


def test_stream_ids_are_set_on_the_named_sections_only() -> None:
    answer = OFFER.replace("a=recvonly", "a=sendonly").replace(
        "a=mid:2\r\n",
        "a=mid:2\r\na=msid:random-uuid track-uuid\r\na=ssrc:5 msid:random-uuid track-uuid\r\n",
    )
    edited = sdp_edit.set_stream_ids(
        answer, {"1": ("PA_a|TR_1", "TR_1"), "2": ("PA_a|TR_2", "TR_2")}
    )
    sections = edited.split("m=")
    assert "a=mid:1\r\na=msid:PA_a|TR_1 TR_1\r\n" in sections[2]
    assert "a=msid:PA_a|TR_2 TR_2" in sections[3] and "random-uuid" not in edited
    assert "a=ssrc:5 msid:PA_a|TR_2 TR_2" in sections[3]
    assert "a=msid:- c5a3b7e0-mic" in sections[4]


# -- data packets -------------------------------------------------------------------------------
def test_user_packets_round_trip_and_are_capped() -> None:
    raw = encode_user_packet(
        b"hi", sender_identity="avatar", sender_sid="PA_x", topic="t", sequence=3,
        destination_identities=["user"],
    )  # fmt: skip
    packet = decode_packet(raw)
    assert (packet.participant_identity, packet.participant_sid, packet.sequence) == (
        "avatar",
        "PA_x",
        3,
    )
    assert (packet.user.payload, packet.user.topic, list(packet.destination_identities)) == (
        b"hi",
        "t",
        ["user"],
    )
    message = user_message(packet, sender="real-sender", reliable=False)
    assert message is not None
    assert (message.sender, message.topic, message.payload, message.reliable) == (
        "real-sender",
        "t",
        b"hi",
        False,
    )
    assert message.destination_identities == ("user",)
    with pytest.raises(ValueError):
        encode_user_packet(b"x" * MAX_PACKET_BYTES, sender_identity="a", sender_sid="PA_x")
    with pytest.raises(ValueError):
        encode_user_packet(b"x", sender_identity="a", sender_sid="PA_x", topic="t" * 300)
    with pytest.raises(ValueError):
        decode_packet(b"\0" * (MAX_PACKET_BYTES + 1))
    with pytest.raises(ValueError):
        decode_packet(b"\xff\xff")


def test_a_packet_without_topic_or_user_payload() -> None:
    bare = decode_packet(encode_user_packet(b"x", sender_identity="a", sender_sid="PA_x"))
    message = user_message(bare, sender="a", reliable=True)
    assert message is not None and message.topic is None
    rpc = models.DataPacket(rpc_ack=models.RpcAck(request_id="1"))
    assert user_message(rpc, sender="a", reliable=True) is None


def test_sequences_increase_from_one() -> None:
    first, second = Sequencer(), Sequencer()
    assert [first.next() for _ in range(3)] == [1, 2, 3]
    assert second.next() == 1
