"""A text_stream's input against the scripted server: order, a stream opened without text,
say() before the stream is live, a slow create, the caller's names in errors.

Issue 18 items 7 and 9, issue 19 items 4 and 6.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from heygen_streaming import (
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    ConnectTimeout,
    RealtimeInputClosedError,
    SessionClosed,
    StreamingClient,
)

from ._realtime_scripted import API_KEY, STREAM_ID, Clip, ScriptedRealtime, make_clip, serve

WAIT = 30.0


@pytest.fixture(scope="module")
def ts_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("ts"), "mpegts", segments=2)


@pytest.fixture
async def server(ts_clip: Clip) -> AsyncIterator[ScriptedRealtime]:
    async for s in serve(ts_clip):
        yield s


@pytest.fixture
async def client(server: ScriptedRealtime) -> AsyncIterator[StreamingClient]:
    async with StreamingClient(api_key=API_KEY, base_url=server.base_url) as c:
        yield c


def spoken(server: ScriptedRealtime) -> str:
    """Everything the server was given to speak, in the order it took it."""
    text = "".join(str(c.get("text", "")) for c in server.seen.creates)
    return text + "".join(str(a["delta"]) for a in server.seen.appends)


# -- order (issue 18, item 7) ---------------------------------------------------------------


async def test_concurrent_says_are_sent_in_the_order_they_were_made(
    server: ScriptedRealtime, client: StreamingClient
) -> None:
    server.publish(1)
    server.append_jitter = 0.005  # concurrent appends would land in any order
    deltas = [f" w{i}" for i in range(40)]
    async with client.realtime("Daisy", "v1", "Start") as rt:
        results = await asyncio.wait_for(
            asyncio.gather(*(rt.say(d) for d in deltas), rt.finish(" end")), WAIT
        )
    assert spoken(server) == "Start" + "".join(deltas) + " end"
    assert server.seen.appends[-1]["final"] is True  # finish() after every earlier say()
    assert all(not a["final"] for a in server.seen.appends[:-1])
    assert len(server.seen.appends) < len(deltas)  # queued deltas went together
    assert all(r.ok for r in results)


async def test_a_say_after_finish_gets_the_services_410(
    server: ScriptedRealtime, client: StreamingClient
) -> None:
    server.publish(1)
    async with client.realtime("Daisy", "v1", "Hi") as rt:
        outcomes = await asyncio.wait_for(
            asyncio.gather(rt.finish(" bye"), rt.say(" too late"), return_exceptions=True), WAIT
        )
    assert isinstance(outcomes[1], RealtimeInputClosedError)  # not joined to the final delta
    assert spoken(server) == "Hi bye"


# -- a text_stream opened without text (issue 19, item 4) -----------------------------------


async def test_open_without_text_creates_with_the_first_say(
    server: ScriptedRealtime, client: StreamingClient
) -> None:
    server.publish(end=True)
    async with client.realtime("Daisy", "v1") as rt:  # no text: enters at once
        assert rt.status == "waiting" and server.seen.creates == []
        video = rt.video(capacity=1000)  # before the stream exists
        words = asyncio.ensure_future(asyncio.wait_for(_words(rt), WAIT))
        first = asyncio.ensure_future(rt.say("Hello"))
        second = asyncio.ensure_future(rt.say(" there"))  # queued behind the create
        await asyncio.wait_for(asyncio.gather(first, second), WAIT)
        assert rt.stream_id == STREAM_ID
        await rt.finish(" friend.")
        frames = await asyncio.wait_for(_count(video), WAIT)
        assert await asyncio.wait_for(rt.wait_ended(), WAIT) == "final_marker"
        assert await words == ["Hello", "!", "Bye"]
    assert server.seen.creates[0]["text"].startswith("Hello")  # the first say created it
    assert spoken(server) == "Hello there friend."
    assert frames == server.clip.video_frames
    assert server.seen.cancels == []


async def _words(rt: object) -> list[str]:
    return [w.word async for w in rt.words()]  # type: ignore[attr-defined]


async def _count(stream: object) -> int:
    return len([f async for f in stream])  # type: ignore[attr-defined]


async def test_open_without_text_and_leave_creates_nothing(
    server: ScriptedRealtime, client: StreamingClient
) -> None:
    async with client.realtime("Daisy", "v1") as rt:
        words = asyncio.ensure_future(_words(rt))
        video = asyncio.ensure_future(_count(rt.video()))
        await asyncio.sleep(0)  # both are waiting for a stream that never comes
    assert await asyncio.wait_for(words, WAIT) == []  # they end quietly with the session
    assert await asyncio.wait_for(video, WAIT) == 0
    assert server.seen.creates == [] and server.seen.cancels == []
    assert rt.status == "cancelled"


async def test_finish_without_any_text_creates_nothing(
    server: ScriptedRealtime, client: StreamingClient
) -> None:
    async with client.realtime("Daisy", "v1") as rt:
        await rt.finish()
        assert await asyncio.wait_for(rt.wait_ended(), WAIT) == "no_text"
    assert server.seen.creates == []


async def test_a_refused_first_say_raises_the_services_error(
    server: ScriptedRealtime,
) -> None:
    async with (
        StreamingClient(api_key="wrong", base_url=server.base_url) as client,
        client.realtime("Daisy", "v1") as rt,
    ):
        with pytest.raises(AuthenticationError, match="Invalid API key"):
            await rt.say("Hello")
        with pytest.raises(SessionClosed, match="did not start"):
            await rt.say(" again")
        with pytest.raises(AuthenticationError):
            await asyncio.wait_for(rt.wait_ended(), WAIT)
        assert rt.end_reason == "start_failed"


async def test_say_while_the_create_is_in_flight_waits_for_it(
    server: ScriptedRealtime, client: StreamingClient
) -> None:
    server.hold_create = asyncio.Event()
    server.publish(1)
    rt = client.realtime("Daisy", "v1", "Hello")
    starting = asyncio.ensure_future(rt.start())
    await asyncio.wait_for(server.create_seen.wait(), WAIT)
    saying = asyncio.ensure_future(rt.say(" and more"))  # usable before the stream exists
    await asyncio.sleep(0)
    server.hold_create.set()
    await asyncio.wait_for(asyncio.gather(starting, saying), WAIT)
    await rt.aclose()
    assert spoken(server) == "Hello and more"


# -- a slow create (issue 18, item 9) -------------------------------------------------------


async def test_a_create_answering_after_ready_timeout_is_read_and_cancelled(
    server: ScriptedRealtime, client: StreamingClient
) -> None:
    server.create_delay = 1.0  # the stream exists at once; the answer comes late
    rt = client.realtime("Daisy", "v1", "Hi", ready_timeout=0.3)
    with pytest.raises(ConnectTimeout):
        async with rt:
            pass
    assert server.seen.cancels == [STREAM_ID]  # the late answer was read, its stream cancelled
    assert rt.status == "cancelled" and rt.end_reason == "connect_timeout"


async def test_a_create_that_never_answers_is_reported_as_maybe_billed(
    server: ScriptedRealtime, caplog: pytest.LogCaptureFixture
) -> None:
    server.create_delay = 5.0
    caplog.set_level(logging.WARNING, "heygen_streaming")
    async with StreamingClient(api_key=API_KEY, base_url=server.base_url, timeout=0.5) as client:
        rt = client.realtime("Daisy", "v1", "Hi", ready_timeout=0.2)
        with pytest.raises(ConnectTimeout):
            await asyncio.wait_for(rt.start(), WAIT)
    assert rt.end_reason == "cancel_failed"  # it may run: nobody knows its id
    warning = next(r for r in caplog.records if "may have made a stream" in r.getMessage())
    assert warning.levelno == logging.WARNING and "billed" in warning.getMessage()
    assert server.seen.creates and server.seen.cancels == []


async def test_a_create_that_times_out_for_the_caller_is_not_retried(
    server: ScriptedRealtime,
) -> None:
    server.create_delay = 5.0
    async with StreamingClient(api_key=API_KEY, base_url=server.base_url, timeout=0.3) as client:
        with pytest.raises(APITimeoutError):
            await client.create_realtime(avatar_id="Daisy", voice_id="v1", text="Hi")
    assert len(server.seen.creates) == 1


# -- the caller's names (issue 19, item 6) --------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("Daisy", "v1", "Hi"), {"mode": "stream"}, r"^mode must be one of"),
        (("Daisy", None, "Hi"), {}, r"^mode='text_stream' needs a non-empty voice$"),
        (("Daisy", "", "Hi"), {"mode": "tts"}, r"^mode='tts' needs a non-empty voice$"),
        (("", "v1", "Hi"), {}, r"needs a non-empty avatar$"),
        (("Daisy", "v1"), {"mode": "tts"}, r"^mode='tts' needs a non-empty text$"),
        (("Daisy",), {"mode": "audio"}, r"^mode='audio' needs audio="),
        (("Daisy", "v1"), {"mode": "audio", "audio": b"x"}, r"^voice is not used with mode="),
        (("Daisy", "v1", "Hi"), {"audio": b"x"}, r"only used with mode='audio'"),
    ],
)
def test_errors_use_the_callers_names(
    args: tuple[object, ...], kwargs: dict[str, object], match: str
) -> None:
    client = StreamingClient(api_key="k", base_url="http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match=match):
        client.realtime(*args, **kwargs)  # type: ignore[arg-type]
