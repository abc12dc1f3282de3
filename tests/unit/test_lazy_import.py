"""``import heygen_streaming`` stays cheap: heavy dependencies load on first use of a name."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "httpx", "pydantic", "av", "aiortc", "aioice", "numpy", "aiohttp", "livekit", "websockets",
)  # fmt: skip


def run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.strip()


def test_import_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, heygen_streaming as h\n"
        "h.HeyGenError, h.ErrorCode, h.__version__\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    assert run(code) == "[]"


def test_names_import_their_module_on_first_use() -> None:
    code = (
        "import sys\n"
        "from heygen_streaming import StreamingClient, Quality\n"
        "print('httpx' in sys.modules, 'pydantic' in sys.modules, 'av' in sys.modules,"
        " StreamingClient.__module__, Quality.LOW.value)\n"
        "from heygen_streaming import NewSessionInfo\n"
        "print('pydantic' in sys.modules)\n"
    )
    # The client and the enums need no pydantic; a model does.
    assert run(code).split() == [
        "True",
        "False",
        "False",
        "heygen_streaming._client",
        "low",
        "True",
    ]


def test_cli_help_loads_no_media_stack() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from heygen_streaming.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    assert run(code) == "[]"


def test_liveavatar_client_loads_no_livekit_media_or_models() -> None:
    """The LiveAvatar client and a session object need httpx only: the LiveKit client,
    PyAV, numpy, websockets and pydantic load during the connect (`_liveavatar.preload`)."""
    code = (
        "import sys\n"
        "from heygen_streaming import LiveAvatarClient\n"
        "c = LiveAvatarClient(api_key='k', base_url='http://127.0.0.1:9')\n"
        "c.session(avatar_id='0b5e1a3c-9d2f-4c7e-8a61-2f4b3c5d6e7f', mode='lite')\n"
        "heavy = ('livekit.rtc', 'av', 'numpy', 'websockets', 'pydantic', 'aiortc')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    assert run(code) == "[]"
