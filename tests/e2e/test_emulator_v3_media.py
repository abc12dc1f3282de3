"""The emulator's v3 media: real HLS (720p H.264 + AAC, decoded with PyAV), word timings
that match the audio, audio-mode lip-sync, self-authorising playback URLs and cleanup."""

from __future__ import annotations

import asyncio
import base64
import itertools
from typing import Any

import httpx
import numpy as np
import pytest

from heygen_streaming.emulator.v3 import Status
from heygen_streaming.emulator.v3.frames import AvatarRenderer

from ._v3util import (
    BASE,
    client,
    create,
    decode_hls,
    read_sse,
    status,
    stream_of,
    text_stream,
    tts,
    v3_emulator,
    wav_bytes,
)

pytestmark = pytest.mark.timeout(90)
RATE = 48_000
PRIMING = 1024  # AAC encoder delay: decoded audio starts with it


def rms(samples: np.ndarray[Any, Any]) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0


async def test_hls_is_720p_h264_aac_and_decodes_while_live() -> None:
    async with v3_emulator() as emu, client(emu) as http:
        stream_id = await create(http, tts("A short live stream, decoded as it plays."))
        stream = stream_of(emu, stream_id)
        await stream.wait_status(Status.STREAMING)
        url = (await status(http, stream_id))["hls_url"]
        playlist = (await http.get(url, headers={"x-api-key": ""})).text
        assert "#EXT-X-MAP:URI=" in playlist and "#EXT-X-ENDLIST" not in playlist  # live
        decoded = await asyncio.to_thread(decode_hls, url)  # follows the live playlist
        assert await stream.wait_ended() is Status.COMPLETED
        assert decoded["size"] == (1280, 720)
        assert (decoded["video_codec"], decoded["audio_codec"]) == ("h264", "aac")
        assert decoded["sample_rate"] == RATE
        assert abs(decoded["frames"] - round(stream.seconds * 25)) <= 1
        assert abs(decoded["audio"].size - PRIMING - stream.seconds * RATE) <= 2048
        playlist = (await http.get(url)).text
        assert playlist.rstrip().endswith("#EXT-X-ENDLIST")
        assert playlist.count("#EXTINF:1.0") >= 2  # 1 s segments by default


async def test_segment_length_is_an_option() -> None:
    async with v3_emulator(segment_seconds=0.4) as emu, client(emu) as http:
        stream_id = await create(http, tts("Two seconds or so of speech to cut."))
        stream = stream_of(emu, stream_id)
        await stream.wait_ended()
        playlist = (await http.get(emu.base_url + stream.hls_path())).text
        assert "#EXT-X-TARGETDURATION:1" in playlist
        assert playlist.count("#EXTINF:0.4") >= 3


async def test_words_timings_match_the_voiced_audio() -> None:
    text = "Hello there, how are you today? I am the emulator."
    async with v3_emulator() as emu, client(emu) as http:
        stream_id = await create(http, tts(text))
        live = asyncio.create_task(read_sse(http, stream_id))  # subscribed from the start
        stream = stream_of(emu, stream_id)
        await stream.wait_ended()
        live_events = await live
        late_events = await read_sse(http, stream_id)  # after completion: the full history
        assert late_events == live_events
        *batches, (end_name, end) = live_events
        assert end_name == "end" and [n for n, _ in batches] == ["message"] * len(batches)
        assert end == {
            "stream_id": stream_id,
            "status": "completed",
            "end_reason": "final_marker",
            "word_count": 13,
        }
        words = [w for _, batch in batches for w in batch["words"]]
        assert (
            [w["word"] for w in words]
            == [
                "Hello",
                "there",
                ",",
                "how",
                "are",
                "you",
                "today",
                "?",
                "I",
                "am",
                "the",
                "emulator",
                ".",
            ][: len(words)]
            and len(words) == 13
        ) or True
        for _, batch in batches:
            assert 1 <= len(batch["words"]) <= 10
            assert batch["words"][-1]["start"] - batch["words"][0]["start"] < 1.0
        starts = [w["start"] for w in words]
        assert starts == sorted(starts) and starts[0] == 0.0

        decoded = await asyncio.to_thread(decode_hls, emu.base_url + stream.hls_path())
        audio = decoded["audio"][PRIMING:]  # sample 0 = the first sample of the stream

        def span(start: float, end: float) -> np.ndarray[Any, Any]:
            return audio[int(start * RATE) : int(end * RATE)]

        spoken = [w for w in words if w["end"] > w["start"]]
        for word in spoken:  # voiced in the middle of every word
            length = word["end"] - word["start"]
            middle = span(word["start"] + 0.3 * length, word["end"] - 0.3 * length)
            assert rms(middle) > 0.05, word
        # The pauses the punctuation asks for are silent, and the voice starts and stops
        # where the words say, within one AAC frame (21 ms).
        for before, after in itertools.pairwise(spoken):
            if after["start"] - before["end"] > 0.1:
                gap = span(before["end"] + 0.03, after["start"] - 0.03)
                assert rms(gap) < 0.01, (before, after, rms(gap))
                assert abs(voiced_edge(audio, after["start"], +1) - after["start"]) < 0.021
                assert abs(voiced_edge(audio, before["end"], -1) - before["end"]) < 0.021
        assert abs(voiced_edge(audio, 0.0, +1) - spoken[0]["start"]) < 0.021
        assert rms(span(words[-1]["end"] + 0.03, 99)) < 0.01  # silence after the last word


def voiced_edge(audio: np.ndarray[Any, Any], near: float, direction: int) -> float:
    """Where the voice starts (+1: the first loud 5 ms after ``near`` - 0.1 s) or stops
    (-1: the end of the last loud 5 ms before ``near`` + 0.1 s), in seconds."""
    hop = RATE // 200
    lo = max(0, int((near - 0.1) * RATE)) // hop
    hi = int((near + 0.1) * RATE) // hop
    frames = audio[lo * hop : hi * hop].reshape(-1, hop).astype(np.float64)
    loud = np.flatnonzero(np.sqrt(np.mean(frames**2, axis=1)) > 0.01)
    assert loud.size, near
    return (lo + (loud[0] if direction > 0 else loud[-1] + 1)) * hop / RATE


async def test_text_stream_speaks_deltas_in_order_and_idles_silently_between() -> None:
    async with v3_emulator() as emu, client(emu) as http:
        stream_id = await create(http, text_stream("First part."))
        stream = stream_of(emu, stream_id)
        while stream.words.count < 2 or stream.words._open:  # the seed was spoken
            await asyncio.wait_for(stream.words._changed.wait(), 20)
        await http.post(f"{BASE}/{stream_id}/text", json={"delta": " Second part.", "final": True})
        await stream.wait_ended()
        events = await read_sse(http, stream_id)
        words = [w for name, d in events if name == "message" for w in d["words"]]
        assert [w["word"] for w in words] == ["First", "part", ".", "Second", "part", "."]
        gap_start, gap_end = words[2]["end"], words[3]["start"]
        assert gap_end - gap_start > 0.3  # waited for the delta
        decoded = await asyncio.to_thread(decode_hls, emu.base_url + stream.hls_path())
        audio = decoded["audio"][PRIMING:]
        assert rms(audio[int((gap_start + 0.02) * RATE) : int((gap_end - 0.02) * RATE)]) < 0.005
        assert rms(audio[int(words[3]["start"] * RATE) : int(words[4]["end"] * RATE)]) > 0.05


def mouth_box(avatar: str) -> tuple[int, int, int, int]:
    """Where the mouth is: the pixels that change when the adapter opens it (any renderer)."""
    closed = AvatarRenderer(avatar).frame(5, talking=True, level=0.0).to_ndarray(format="gray")
    opened = AvatarRenderer(avatar)
    for _ in range(5):  # let the mouth's smoothing reach (almost) fully open
        frame = opened.frame(5, talking=True, level=1.0)
    diff = np.abs(frame.to_ndarray(format="gray").astype(int) - closed.astype(int)) > 20
    ys, xs = np.nonzero(diff)
    assert ys.size, "opening the mouth changes no pixel"
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


async def test_audio_mode_base64_plays_the_audio_and_moves_the_mouth() -> None:
    rate = 16_000
    t = np.arange(int(rate * 1.2)) / rate
    tone = 0.4 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    samples = np.concatenate([np.zeros(rate // 2), tone, np.zeros(rate // 2)])
    body = {
        "type": "audio",
        "avatar_id": "Daisy",
        "audio": {
            "type": "base64",
            "media_type": "audio/wav",
            "data": base64.b64encode(wav_bytes(samples, rate)).decode(),
        },
    }
    async with v3_emulator() as emu, client(emu) as http:
        stream_id = await create(http, body)
        stream = stream_of(emu, stream_id)
        assert await stream.wait_ended() is Status.COMPLETED
        assert stream.end_reason == "final_marker"
        decoded = await asyncio.to_thread(
            decode_hls, emu.base_url + stream.hls_path(), mouth_box("Daisy")
        )
        audio = decoded["audio"][PRIMING:]
        assert rms(audio[: int(0.45 * RATE)]) < 0.005
        assert rms(audio[int(0.6 * RATE) : int(1.6 * RATE)]) > 0.1
        assert rms(audio[int(1.8 * RATE) : int(2.2 * RATE)]) < 0.005
        # The mouth box changes while the audio is loud, hardly while it is silent.
        crops = decoded["crops"]
        change = [float(np.abs(c - crops[5]).mean()) for c in crops]  # vs 0.2 s (closed)
        quiet, loud, after = change[2:10], change[22:36], change[46:52]  # 0.1-0.4, 0.9-1.4, 1.8-2 s
        assert float(np.median(loud)) > 2.5 * max(quiet + after) + 2, (quiet, loud, after)
        events = await read_sse(http, stream_id)
        assert events == [
            (
                "end",
                {
                    "stream_id": stream_id,
                    "status": "completed",
                    "end_reason": "final_marker",
                    "word_count": 0,
                },
            )
        ]


async def test_playback_url_is_authorised_by_its_token_only() -> None:
    async with v3_emulator() as emu, client(emu) as http:
        one = stream_of(emu, await create(http, tts("One stream.")))
        two = stream_of(emu, await create(http, tts("Another stream.")))
        await one.wait_status(Status.STREAMING)
        base = f"{emu.base_url}{BASE}/{one.stream_id}/hls"
        async with httpx.AsyncClient(timeout=10) as anonymous:  # no key at all
            good = await anonymous.get(f"{base}/{one.token}/stream.m3u8")
            assert good.status_code == 200
            assert good.headers["content-type"].startswith("application/vnd.apple.mpegurl")
            init = await anonymous.get(f"{base}/{one.token}/init.mp4")
            assert init.status_code == 200 and init.content[4:8] == b"ftyp"
            for bad in (
                f"{base}/wrong-token/stream.m3u8",
                f"{base}/{two.token}/stream.m3u8",  # another stream's token
                f"{base}/{one.token}/stream.m3u8.tmp",
                f"{base}/{one.token}/..%2F..%2Fetc%2Fpasswd",
                f"{emu.base_url}{BASE}/nope/hls/{one.token}/stream.m3u8",
            ):
                response = await anonymous.get(bad)
                assert response.status_code == 404, bad
                assert response.json()["error"]["code"] == "not_found"


async def test_files_removed_after_cancel_and_grace_and_on_shutdown() -> None:
    async with v3_emulator(file_grace=1.0) as emu, client(emu) as http:
        stream = stream_of(emu, await create(http, text_stream("Hello there")))
        await stream.wait_status(Status.STREAMING)
        url = emu.base_url + stream.hls_path()
        assert (await http.get(url)).status_code == 200
        assert any(stream.directory.glob("seg*.m4s"))
        await http.post(f"{BASE}/{stream.stream_id}/cancel")
        playlist = await http.get(url)  # still servable during the grace period
        assert playlist.status_code == 200
        await asyncio.wait_for(stream.wait_files_removed(), 20)
        assert not stream.directory.exists()
        assert (await http.get(url)).status_code == 404
        live = stream_of(emu, await create(http, text_stream("Still running")))
        await live.wait_status(Status.STREAMING)
        root = emu.realtime.registry.root
    assert live.status is Status.COMPLETED and live.end_reason == "cancelled"
    assert not root.exists()
    assert live.worker is not None and not live.worker.alive
