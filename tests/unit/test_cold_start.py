"""Start-up work the SDK defers: the CA bundle of a plain-HTTP client, heavy imports."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from heygen_streaming import APIConnectionError, HeyGenError, StreamingClient
from heygen_streaming._http import tls as _tls

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    body = b'{"code": 100, "message": "success", "data": null}'
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()
    writer.close()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def fresh_ssl_context() -> Iterator[None]:
    """`_ssl_context` not built yet in this process (and rebuilt normally afterwards)."""
    cached = _tls.ssl_context
    cached.cache_clear()
    yield
    cached.cache_clear()


async def _serve(handler: Handler, tls: ssl.SSLContext | None = None) -> asyncio.Server:
    return await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)


async def test_plain_http_client_loads_no_ca_bundle(fresh_ssl_context: None) -> None:
    server = await _serve(_answer)
    port = server.sockets[0].getsockname()[1]
    try:
        async with StreamingClient(api_key="k", base_url=f"http://127.0.0.1:{port}") as c:
            await c.keep_alive("s")  # through the real httpx/httpcore stack
    finally:
        server.close()
        await server.wait_closed()
    assert _tls.ssl_context.cache_info().currsize == 0


async def test_https_still_verifies_with_the_deferred_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_ssl_context: None
) -> None:
    cert, key = _self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    server = await _serve(_answer, tls)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        # httpx's default CAs do not know this certificate: refused.
        async with StreamingClient(api_key="k", base_url=url, max_retries=0) as c:
            with pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
                await c.keep_alive("s")
        assert _tls.ssl_context.cache_info().currsize == 1  # built on first TLS use
        # With a context that trusts it, the same client code connects.
        trusting = ssl.create_default_context(cafile=str(cert))
        monkeypatch.setattr(_tls, "ssl_context", lambda: trusting)
        async with StreamingClient(api_key="k", base_url=url, max_retries=0) as c:
            await c.keep_alive("s")
    finally:
        server.close()
        await server.wait_closed()


def _answer_sent_request(listener: socket.socket, status: bytes, body: bytes) -> bytes:
    """The request a client has already written to ``listener`` (read without waiting: a
    request not yet sent fails the test), answered with ``status`` and a JSON ``body``."""
    listener.setblocking(False)
    conn, _ = listener.accept()  # already connected: no wait
    with conn:
        request = conn.recv(65536)  # already written: no wait
        conn.sendall(
            b"HTTP/1.1 %s\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (status, len(body), body)
        )
    return request


async def test_aiortc_loads_once_streaming_new_is_on_the_wire(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first session imports aiortc while the service works on ``streaming.new``, not
    before the request left (a thread import would hold the GIL the request needs)."""
    import aiortc

    from heygen_streaming._v1 import preload

    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def load() -> None:
        sys.modules["aiortc"] = aiortc
        seen.append(_answer_sent_request(listener, b"400 Bad Request", b'{"code": 400}'))

    monkeypatch.delitem(sys.modules, "aiortc")
    monkeypatch.setattr(preload, "_load_aiortc", load)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        async with StreamingClient(api_key="k", base_url=url, max_retries=0) as client:
            with pytest.raises(HeyGenError):
                async with client.session(quality="low"):
                    pass
    finally:
        listener.close()
    assert seen and seen[0].startswith(b"POST /v1/streaming.new ")
    assert seen[0].endswith(b'"quality":"low"}')


def test_a_session_object_loads_only_what_connecting_needs() -> None:
    """PyAV, aiortc (both load once ``streaming.new`` is on the wire), recording, stats and
    the v3 modules are not loaded to create a v1 session; pydantic builds validators only
    for the models used."""
    code = (
        "import sys\n"
        "from heygen_streaming import StreamingClient\n"
        "from heygen_streaming._v1 import models as _models\n"
        "client = StreamingClient(api_key='k', base_url='http://127.0.0.1:9')\n"
        "client.session(quality='low')\n"
        "late = ('heygen_streaming._media.recording', 'heygen_streaming._media.writer',\n"
        "        'heygen_streaming._v1.stats', 'heygen_streaming._realtime.models',\n"
        "        'heygen_streaming._realtime.envelope', 'heygen_streaming._http.sse',\n"
        "        'av', 'aiortc')\n"
        "print(sorted(m for m in late if m in sys.modules),\n"
        "      _models.TaskInfo.__pydantic_complete__, _models.SessionList.__pydantic_complete__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[] False False"


async def test_a_failed_streaming_new_raises_without_loading_aiortc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from heygen_streaming._v1 import preload

    loads: list[bool] = []
    monkeypatch.delitem(sys.modules, "aiortc", raising=False)
    monkeypatch.setattr(preload, "_load_aiortc", lambda: loads.append(True))
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    async with StreamingClient(api_key="k", base_url=url, max_retries=0) as client:
        with pytest.raises(APIConnectionError):
            async with client.session(quality="low"):
                pass
    assert loads == []


@pytest.mark.timeout(60)
async def test_a_fresh_process_reaches_its_first_frame_without_pydantic() -> None:
    """The connect path builds its bodies and reads ``streaming.new`` by hand: pydantic
    (about 50 ms of imports and validator building) loads only when a model is used."""
    from heygen_streaming.emulator import Emulator

    code = (
        "import asyncio, sys\n"
        "from heygen_streaming import StreamingClient\n"
        "async def main():\n"
        "    async with StreamingClient(api_key='k', base_url=sys.argv[1]) as client:\n"
        "        async with client.session(quality='low') as s, s.video() as frames:\n"
        "            async for _ in frames:\n"
        "                print('pydantic' in sys.modules, s.session_id == s.info.session_id,\n"
        "                      'pydantic' in sys.modules)\n"
        "                break\n"
        "asyncio.run(main())\n"
    )
    async with Emulator(api_key="k") as emu:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, emu.base_url, stdout=subprocess.PIPE
        )
        out, _ = await child.communicate()
    assert child.returncode == 0
    assert out.decode().split() == ["False", "True", "True"]


async def test_the_first_task_loads_the_models_once_it_is_on_the_wire(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``send_task`` returns a `TaskInfo` (pydantic): the first one of a process imports the
    models while the service works on the task, not before the request left."""
    from heygen_streaming._v1 import models as _models
    from heygen_streaming._v1 import preload

    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def load(name: str) -> None:
        assert name == "heygen_streaming._v1.models"
        sys.modules[name] = _models
        body = b'{"code": 100, "message": "success", "data": {"task_id": "t1"}}'
        seen.append(_answer_sent_request(listener, b"200 OK", body))

    monkeypatch.delitem(sys.modules, "heygen_streaming._v1.models")
    monkeypatch.setattr(preload, "import_module", load)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        async with StreamingClient(api_key="k", base_url=url, max_retries=0) as client:
            task = await client.send_task("s1", "Hello")
    finally:
        listener.close()
    assert task.task_id == "t1"
    assert seen and seen[0].startswith(b"POST /v1/streaming.task ")
