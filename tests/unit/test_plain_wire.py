"""The connect path's hand-built bodies and hand-read answers equal what the models give.

A fresh process opens a session without importing pydantic (``_v1.options``,
``_v1.created``, ``_v1.envelope``): for plain values the bodies are built, and
``streaming.new``'s answer read, by hand, from the wire table (``_v1.wire``, ``_v1.enums``)
the models declare too. These tests pin that the hand path sends the same bytes, accepts the same
answers with the same values, and fails the same way as the pydantic models it stands for.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest

from heygen_streaming import (
    ConfigurationError,
    Quality,
    ResponseValidationError,
    TaskMode,
    TaskType,
    VideoEncoding,
)
from heygen_streaming._v1.created import CreatedSession
from heygen_streaming._v1.enums import QualityName, TaskModeName, TaskTypeName, VideoEncodingName
from heygen_streaming._v1.envelope import decode
from heygen_streaming._v1.models import (
    IceCandidate,
    IceRequest,
    NewSessionInfo,
    NewSessionRequest,
    SessionDescription,
    SessionIdRequest,
    StartSessionRequest,
    TaskRequest,
)
from heygen_streaming._v1.options import (
    _plain_new_body,
    _validated_new_body,
    ice_body,
    new_session_body,
    session_body,
    start_body,
    task_body,
)
from heygen_streaming._v1.wire import (
    ICE_CANDIDATE,
    IDLE_TIMEOUT,
    NEW_SESSION_INFO,
    NEW_SESSION_REQUEST,
)

CORPUS = Path(__file__).parents[1] / "wire" / "fixtures" / "v1"


def _wire(body: Any) -> bytes:
    """The bytes httpx sends for ``json=body``."""
    return httpx.Request("POST", "http://x", json=body).content


NEW_VALUES: dict[str, list[Any]] = {
    "quality": [None, "low", "high", Quality.MEDIUM, "LOW", "ultra", 3],
    "avatar_name": [None, "", "Anna"],
    "voice": [None, "", "v1", {"voice_id": "v1", "rate": 1.2}, {"rate": 9}, 7],
    "video_encoding": [None, "VP8", VideoEncoding.H264, "vp8", ""],
    "knowledge_base": [None, "be brief"],
    "disable_idle_timeout": [None, True, False],
    "activity_idle_timeout": [None, 30, 3600, 29, 3601, 120],
}


def _new_cases() -> list[dict[str, Any]]:
    """Every value of each field with the others plain, and a few mixed rows."""
    base = {key: values[1] for key, values in NEW_VALUES.items()}
    cases = [{**base, key: v} for key, values in NEW_VALUES.items() for v in values]
    cases += [dict(zip(NEW_VALUES, row, strict=True)) for row in itertools.islice(
        itertools.product(*NEW_VALUES.values()), 0, None, 997
    )]  # fmt: skip
    return cases


def _outcome(build: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", _wire(build(*args))
    except ConfigurationError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("fields", _new_cases())
def test_new_body_by_hand_is_the_models_body(fields: dict[str, Any]) -> None:
    """Same bytes for every plain value; what is not plain goes through the model, so the
    same body or the same `ConfigurationError`."""
    plain = _plain_new_body(dict(fields))
    model = _outcome(_validated_new_body, dict(fields))
    if plain is not None:
        assert model == ("ok", _wire(plain))
    kwargs = {"avatar" if k == "avatar_name" else k: v for k, v in fields.items()}
    assert _outcome(lambda: new_session_body(**kwargs)) == model


@pytest.mark.parametrize("task_type", ["repeat", "chat", TaskType.CHAT, "REPEAT", None, 1])
@pytest.mark.parametrize("task_mode", [None, "sync", "async", TaskMode.ASYNC, "later"])
@pytest.mark.parametrize("session_id", ["s1", 5])
def test_task_body_by_hand_is_the_models_body(
    task_type: Any, task_mode: Any, session_id: Any
) -> None:
    fields = {"session_id": session_id, "text": "Hi", "task_type": task_type}
    fields["task_mode"] = task_mode

    def by_model() -> Any:
        try:
            return TaskRequest.model_validate(fields).to_json()
        except ValueError:
            raise ConfigurationError("refused") from None

    def by_sdk() -> Any:
        return task_body(
            session_id, "Hi", task_type=task_type, task_mode=task_mode, extra_body=None
        )

    expected = _outcome(by_model)
    got = _outcome(by_sdk)
    assert got[0] == expected[0]
    if got[0] == "ok":
        assert got == expected


def test_start_and_session_bodies_by_hand_are_the_models_bodies() -> None:
    sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"
    model = StartSessionRequest(
        session_id="s1", sdp=SessionDescription(type="answer", sdp=sdp)
    ).to_json()
    assert _wire(start_body("s1", sdp)) == _wire(model)
    assert start_body(5, sdp) is None  # type: ignore[arg-type]
    assert _wire(session_body("s1")) == _wire(SessionIdRequest(session_id="s1").to_json())
    assert session_body(5) is None  # type: ignore[arg-type]


ICE_CASES: list[Any] = [
    {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0},
    {"sdpMLineIndex": 0, "candidate": "", "sdpMid": "0"},  # order of the model, not the input
    {"candidate": "", "sdpMid": None, "sdpMLineIndex": None, "usernameFragment": "uf"},
    {},
    {"candidate": None},
    {"candidate": "", "sdpMLineIndex": "0"},
    {"candidate": "", "sdpMLineIndex": True},
    {"candidate": "", "sdp_mid": "0"},
    {"candidate": "", "extra": 1},
]


@pytest.mark.parametrize("candidate", ICE_CASES)
def test_ice_body_by_hand_is_the_models_body(candidate: Any) -> None:
    """A dict the hand path takes gives the model's body; the rest is left to the model."""
    body = ice_body("s1", candidate)
    if body is None:
        return
    model = IceRequest(session_id="s1", candidate=IceCandidate.model_validate(candidate))
    assert _wire(body) == _wire(model.to_json())


def test_the_hand_path_takes_what_the_session_sends() -> None:
    """The bodies a session's connect sends are all built by hand (no model loaded)."""
    assert new_session_body(quality="low") == {"quality": "low"}
    assert _plain_new_body({**dict.fromkeys(NEW_VALUES), "quality": "low"}) is not None
    for candidate in ICE_CASES[:4]:
        assert ice_body("s1", candidate) is not None


# -- streaming.new answers ----------------------------------------------------------------

_SDP = {"type": "offer", "sdp": "v=0\r\n"}
_GOOD = {
    "session_id": "s1",
    "sdp": _SDP,
    "access_token": "tok",
    "url": "wss://x",
    "realtime_endpoint": "wss://y",
    "ice_servers": ["stun:a.test"],
    "ice_servers2": [{"urls": ["turn:b.test"], "username": "u", "credential": "c", "x": 1}],
    "is_paid": True,
    "session_duration_limit": 600,
    "extra": {"kept": True},
}
_ODD: list[Any] = [None, 0, 1.5, 600.0, True, "", "600", [], {}, ["x"], {"type": "offer"}]


def _answers() -> list[Any]:
    rows: list[Any] = [_GOOD, {"session_id": "s1"}, {"session_id": "s1", "sdp": None}, None]
    rows += [[_GOOD], "s1", {}]
    rows += [{**_GOOD, key: odd} for key in _GOOD for odd in _ODD]
    rows += [{k: v for k, v in _GOOD.items() if k != key} for key in _GOOD]
    rows += [{**_GOOD, "sdp": {**_SDP, "type": odd}} for odd in _ODD]
    rows += [{**_GOOD, "sdp": {**_SDP, "sdp": odd}} for odd in _ODD]
    return rows


def _view(info: NewSessionInfo) -> tuple[Any, ...]:
    def servers(items: Any) -> Any:
        if items is None:
            return None
        return [(s.urls, s.username, s.credential) for s in items]

    return (
        info.session_id,
        info.sdp.sdp if info.sdp else None,
        (info.sdp.type if info.sdp else None) or "offer",
        servers(info.ice_servers),
        servers(info.ice_servers2),
    )


def _created_view(created: CreatedSession) -> tuple[Any, ...]:
    def servers(items: Any) -> Any:
        if items is None:
            return None
        return [(s["urls"], s.get("username"), s.get("credential")) for s in items]

    return (
        created.session_id,
        created.offer,
        created.offer_type,
        servers(created.ice_servers),
        servers(created.ice_servers2),
    )


@pytest.mark.parametrize("data", _answers())
def test_created_session_reads_what_the_model_reads(data: Any) -> None:
    """Accepted by both with the same values, or refused by both with the same error; and
    ``model()`` is the model of the same data."""
    try:
        from heygen_streaming._http.decode import parse

        expected: Any = _view(parse(NewSessionInfo, data, "streaming.new"))
    except ResponseValidationError as exc:
        expected = str(exc)
    try:
        created = CreatedSession.parse(data)
    except ResponseValidationError as exc:
        assert str(exc) == expected
        return
    assert _created_view(created) == expected
    model = created.model()
    assert _view(model) == expected
    assert model == NewSessionInfo.model_validate(data)


@pytest.mark.parametrize("name", ["new_response_2.json", "new_response_3.json"])
def test_captured_new_answers_are_read_by_hand(name: str) -> None:
    data = json.loads((CORPUS / name).read_text("utf-8"))["data"]
    created = CreatedSession.parse(data)
    assert created._model is None  # no model was needed
    assert _created_view(created) == _view(NewSessionInfo.model_validate(data))


# -- envelopes -----------------------------------------------------------------------------

_ENVELOPES: list[Any] = [
    {"code": 100, "message": "success", "data": {"a": 1}},
    {"code": "100", "message": "success", "data": None},
    {"code": "SUCCESS", "data": 1},
    {"error": None, "data": {"token": "t"}},
    {"error": {"code": 400}, "data": None},
    {"code": 100.0, "message": "success", "data": 2},
    {"code": 100.5, "message": "success", "data": 2},
    {"code": True, "message": "success", "data": 2},
    {"code": 100, "message": 5, "data": 2},
    {"code": 100, "message": None, "data": 2},
    {"code": [100], "data": 2},
    {"code": 10001, "message": "bad"},
]


def _decoded(payload: Any, via_model: bool) -> Any:
    response = httpx.Response(200, json=payload, request=httpx.Request("POST", "http://x"))
    try:
        if via_model:
            from heygen_streaming._v1 import envelope as _response

            plain = _response._PLAIN_CODE
            _response._PLAIN_CODE = ()  # type: ignore[assignment]
            try:
                return "ok", decode(response, "e")
            finally:
                _response._PLAIN_CODE = plain
        return "ok", decode(response, "e")
    except Exception as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("payload", _ENVELOPES, ids=lambda p: json.dumps(p)[:40])
def test_envelopes_read_by_hand_as_by_the_model(payload: Any) -> None:
    assert _decoded(payload, via_model=False) == _decoded(payload, via_model=True)


# -- the wire table -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enum", "names"),
    [
        (Quality, QualityName),
        (VideoEncoding, VideoEncodingName),
        (TaskType, TaskTypeName),
        (TaskMode, TaskModeName),
    ],
)
def test_each_vocabulary_is_spelled_once_for_types_and_values(enum: Any, names: Any) -> None:
    """The ``Literal`` a signature uses names exactly the enum's values."""
    assert get_args(names) == tuple(member.value for member in enum)


def test_the_models_declare_the_wire_table() -> None:
    """The models have the table's fields (in its order, for the request) and its range."""
    assert tuple(NewSessionRequest.model_fields) == NEW_SESSION_REQUEST
    assert tuple(NewSessionInfo.model_fields) == tuple(NEW_SESSION_INFO)
    aliases = [f.alias or name for name, f in IceCandidate.model_fields.items()]
    assert aliases == list(ICE_CANDIDATE)
    idle = {"quality": None, "activity_idle_timeout": None}
    for value in (IDLE_TIMEOUT[0] - 1, *IDLE_TIMEOUT, IDLE_TIMEOUT[1] + 1):
        fields = {**dict.fromkeys(NEW_VALUES), **idle, "activity_idle_timeout": value}
        in_range = IDLE_TIMEOUT[0] <= value <= IDLE_TIMEOUT[1]
        assert (_plain_new_body(fields) is not None) == in_range
        assert _outcome(_validated_new_body, fields)[0] == ("ok" if in_range else "error")
