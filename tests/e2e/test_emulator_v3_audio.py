"""The emulator's ``audio`` mode under hostile input: decompression bombs are refused with a
400 and cost no memory, long audio plays from a decoder (not a decoded copy), URLs are
fetched only from allowed hosts and every URL failure reads the same."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from aiohttp import web

from heygen_streaming.emulator.__main__ import build_parser
from heygen_streaming.emulator.process import EmulatorProcess
from heygen_streaming.emulator.v3 import RealtimeOptions, Status, options_from_args
from heygen_streaming.emulator.v3.audio import AudioLimits, AudioRejected, probe_audio, url_allowed
from heygen_streaming.emulator.v3.options import parse_host

from ._audio import audio_body, memory_mib, raw_wav, reset_peak, silent_flac
from ._v3util import (
    BASE,
    KEY,
    client,
    create,
    error_of,
    status,
    stream_of,
    tts,
    v3_emulator,
    wav_bytes,
)

pytestmark = pytest.mark.timeout(120)


def _wait_streaming(http: httpx.Client, ids: list[str], within: float = 60.0) -> None:
    """Poll the emulator process until every stream is ``streaming`` (it is another
    process: polling its status is the only way to see it)."""
    deadline = time.monotonic() + within
    pending = set(ids)
    while pending:
        for stream_id in list(pending):
            data = http.get(f"{BASE}/{stream_id}").json()["data"]
            assert data["status"] in ("pending", "streaming"), data
            if data["status"] == "streaming":
                pending.discard(stream_id)
        assert time.monotonic() < deadline, f"not streaming within {within} s: {pending}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[tuple[EmulatorProcess, httpx.Client]]:
    """A separate emulator process (its memory is measured) with one warm stream behind it:
    the first stream loads the encoders, which every later one shares."""
    with (
        EmulatorProcess(KEY) as emu,
        httpx.Client(base_url=emu.base_url, headers={"x-api-key": KEY}, timeout=60) as http,
    ):
        created = http.post(BASE, json=tts("Warm up."))
        assert created.status_code == 201, created.text
        stream_id = created.json()["data"]["stream_id"]
        _wait_streaming(http, [stream_id])
        http.post(f"{BASE}/{stream_id}/cancel")
        yield emu, http


def test_decompression_bomb_is_refused_with_400_and_no_memory(
    emulator_process: tuple[EmulatorProcess, httpx.Client],
) -> None:
    """3,600 s of FLAC silence (0.5 MiB) once cost 2.7 GB per create; a 4 KB WAV at 1 Hz
    is 2,048 s of audio."""
    emu, http = emulator_process
    bombs = [
        audio_body(silent_flac(3600)),  # ~650 KiB of base64, under the 1 MiB body limit
        audio_body(raw_wav(bytes(4096), rate=1), "audio/wav"),
    ]
    reset_peak(emu.pid)
    base = memory_mib(emu.pid)
    messages = []
    for body in bombs * 2:  # twice: nothing accumulates
        error = error_of(http.post(BASE, json=body), 400, "invalid_parameter")
        assert error["param"] == "audio.data"
        messages.append(error["message"])
    assert "longer than 600 s" in messages[0] and "longer than" in messages[1]
    grown = memory_mib(emu.pid)["peak"] - base["rss"]
    assert grown < 48, f"refusing the bombs grew the emulator's peak RSS by {grown} MiB"
    # Refused creates hold no stream slot: the key's 3 streams are all still free.
    ids = [http.post(BASE, json=tts("Still free.")).json()["data"]["stream_id"] for _ in range(3)]
    for stream_id in ids:
        http.post(f"{BASE}/{stream_id}/cancel")


def test_long_audio_under_the_limit_plays_without_a_decoded_copy(
    emulator_process: tuple[EmulatorProcess, httpx.Client],
) -> None:
    """Three streams of 590 s of audio each (one key's limit) once held 3 x 0.4 GB."""
    emu, http = emulator_process
    body = audio_body(silent_flac(590))
    reset_peak(emu.pid)
    base = memory_mib(emu.pid)
    created = [http.post(BASE, json=body) for _ in range(3)]
    assert [r.status_code for r in created] == [201] * 3, created[0].text
    ids = [r.json()["data"]["stream_id"] for r in created]
    try:
        _wait_streaming(http, ids)
        grown = memory_mib(emu.pid)["peak"] - base["rss"]
    finally:
        for stream_id in ids:
            http.post(f"{BASE}/{stream_id}/cancel")
    # A stream's own cost (renderer, encoder, playlist) is ~10-20 MiB; the audio adds none.
    assert grown < 3 * 40, f"3 streams of 590 s audio grew the peak RSS by {grown} MiB"


async def test_audio_is_decoded_incrementally_and_plays_exactly() -> None:
    """The clip's samples, taken 40 ms at a time as the worker does, equal a one-shot decode;
    an audio of exactly the limit is accepted, a bit more is not."""
    rate = 16_000
    t = np.arange(int(rate * 2.5)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    data = wav_bytes(tone, rate)
    clip = probe_audio(data, AudioLimits(max_seconds=2.5))
    assert abs(clip.total - 2.5 * 48_000) < 100
    taken = np.concatenate([clip.take(i, 1920) for i in range(0, clip.total, 1920)])
    again = clip.take(0, clip.total)  # a restart decodes from the beginning
    assert np.array_equal(taken[: clip.total], again)
    mid = again[48_000:96_000]
    assert 0.2 < float(np.sqrt(np.mean(mid.astype(np.float64) ** 2))) < 0.22
    with pytest.raises(AudioRejected, match=r"longer than 2\.4 s"):
        probe_audio(data, AudioLimits(max_seconds=2.4))
    with pytest.raises(AudioRejected, match="frames"):
        probe_audio(data, AudioLimits(max_seconds=10, max_frames=3))
    with pytest.raises(AudioRejected, match="cannot decode"):  # not an allowed container
        probe_audio(b"#EXTM3U\n#EXTINF:1,\nhttp://127.0.0.1:9/a.ts\n", AudioLimits(10))


# -- URLs (off by default; allowed hosts only; one error for every failure) ----------------


@pytest.fixture
async def audio_server() -> Any:
    """A loopback server with ``/voice.wav`` (audio), ``/page`` (HTML), ``/missing`` (404)."""
    wav = wav_bytes(0.3 * np.sin(np.arange(8000) / 8000 * 2 * np.pi * 300), 16_000)
    fetched: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        fetched.append(request.path)
        if request.path == "/voice.wav":
            return web.Response(body=wav, content_type="audio/wav")
        if request.path == "/page":
            return web.Response(text="<html>admin console</html>", content_type="text/html")
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", fetched
    finally:
        await runner.cleanup()


def _url(url: str) -> dict[str, Any]:
    return {"type": "audio", "avatar_id": "Daisy", "audio": {"type": "url", "url": url}}


async def test_audio_urls_are_off_by_default(audio_server: Any) -> None:
    origin, fetched = audio_server
    async with v3_emulator() as emu, client(emu) as http:
        for url in (f"{origin}/voice.wav", "http://10.0.0.1:6379/", "file:///etc/passwd"):
            error = error_of(await http.post(BASE, json=_url(url)), 400, "invalid_parameter")
            assert error["param"] == "audio.url" and "--v3-audio-url-host" in error["message"]
        assert emu.realtime.registry.streams == {}
    assert fetched == []


async def test_allowed_hosts_only_and_one_error_for_every_failure(audio_server: Any) -> None:
    origin, fetched = audio_server
    port = int(origin.rsplit(":", 1)[1])
    async with v3_emulator(audio_url_hosts=(f"127.0.0.1:{port}",)) as emu, client(emu) as http:
        played = await create(http, _url(f"{origin}/voice.wav"))
        assert await stream_of(emu, played).wait_ended() is Status.COMPLETED
        assert (await status(http, played))["end_reason"] == "final_marker"
        for url in (  # not on the list: refused before any request
            f"http://localhost:{port}/voice.wav",
            f"http://127.0.0.1:{port + 1}/voice.wav",
            f"http://user:pw@127.0.0.1:{port}/voice.wav",
            "http://169.254.169.254/latest/meta-data/",
        ):
            error = error_of(await http.post(BASE, json=_url(url)), 400, "invalid_parameter")
            assert error["param"] == "audio.url"
        assert fetched == ["/voice.wav"]

    # A closed port, an open one answering 404, an HTML page: the same answer each time.
    closed = await _closed_port()
    hosts = (f"127.0.0.1:{port}", f"127.0.0.1:{closed}")
    async with v3_emulator(audio_url_hosts=hosts) as emu, client(emu) as http:
        messages = set()
        for url in (f"http://127.0.0.1:{closed}/a.wav", f"{origin}/missing", f"{origin}/page"):
            stream_id = await create(http, _url(url))
            assert await stream_of(emu, stream_id).wait_ended() is Status.ERROR
            messages.add((await status(http, stream_id))["error_message"])
        assert len(messages) == 1, messages
        assert "could not be used" in messages.pop()


async def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


def test_url_host_matching() -> None:
    hosts = RealtimeOptions(audio_url_hosts=("127.0.0.1:8000", "Assets.Test", "[::1]:9")).url_hosts
    assert hosts == {("127.0.0.1", 8000), ("assets.test", None), ("::1", 9)}
    for url, ok in [
        ("http://127.0.0.1:8000/a.wav", True),
        ("http://127.0.0.1/a.wav", False),  # port 80
        ("https://assets.test/a.mp3", True),
        ("http://ASSETS.test:8443/a.mp3", True),
        ("http://assets.test.evil/a.mp3", False),
        ("http://[::1]:9/a", True),
        ("ftp://assets.test/a", False),
        ("http://u@assets.test/a", False),
        ("http://[::1/a", False),
        ("not a url", False),
    ]:
        assert url_allowed(url, hosts) is ok, url
    assert parse_host("::1") == ("::1", None)
    flags = ["--v3-audio-url-host", "127.0.0.1:9", "--v3-audio-url-host", "x.test"]
    options = options_from_args(build_parser().parse_args([*flags, "--v3-max-audio-seconds", "5"]))
    assert options.audio_url_hosts == ("127.0.0.1:9", "x.test")
    assert options.max_audio_seconds == 5
    assert options_from_args(build_parser().parse_args([])).audio_url_hosts == ()
    for bad in ("", "a/b", "host:99999", "http://x"):
        with pytest.raises(ValueError):
            RealtimeOptions(audio_url_hosts=(bad,))
