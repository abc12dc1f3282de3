"""The ``heygen-streaming`` command (also ``python -m heygen_streaming``).

Subcommands: ``demo``, ``speak``, ``record``, ``chat``, ``realtime``, ``live``, ``emulator``
and ``sessions``; each lives in ``commands`` (v1), ``realtime`` (v3), ``live`` (LiveAvatar)
and ``run`` (what they share), with ``args`` and ``progress``.
Configuration comes from flags, then the ``HEYGEN_API_KEY`` / ``HEYGEN_BASE_URL``
environment variables; with neither, the session commands start an embedded emulator.

Exit codes: 0 success, 1 API / session / file error (one line on stderr, a traceback only
with ``--debug``), 2 bad usage, 130 interrupted (Ctrl-C).

This module imports only the standard library, the exceptions and the plain enums:
``--help`` stays fast, and the commands (httpx, pydantic, PyAV, aiortc) load when one runs.
The command line sees the SDK through its public names and ``_client`` only (nothing
imports it but ``python -m heygen_streaming``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import HeyGenError, Quality, TaskType, __version__
from .args import positive_float
from .live import add_live_parser, usage_error
from .realtime import add_realtime_parser

if TYPE_CHECKING:
    from .commands import Config

__all__ = ["build_parser", "main"]

EMULATOR_HINT = "pip install 'heygen-streaming[emulator]'"
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# The values of Quality and TaskType (plain enums: ``--help`` loads no pydantic).
QUALITIES = tuple(quality.value for quality in Quality)
# What a v1 recording may be written to (the SDK's writer; a test keeps them in step).
V1_SUFFIXES = ".mp4, .m4v, .mov, .mkv (H.264 + AAC) or .webm (VP8 + Opus)"
TASK_TYPES = tuple(task_type.value for task_type in TaskType)
# Per-packet loggers of the WebRTC stack: WARNING even with -v / --debug.
_QUIET_LOGGERS = ("aiortc", "aioice")
# The official LiveKit client (LiveAvatar) logs its native runtime's reconnects and teardown
# races as warnings: only its errors, unless -v / --debug.
_LIVEKIT_LOGGER = "livekit"
HEYGEN_BASE_HELP = "API base URL (default: $HEYGEN_BASE_URL, else https://api.heygen.com)"
LIVEAVATAR_BASE_HELP = (
    "LiveAvatar base URL (default: $LIVEAVATAR_BASE_URL, else https://api.liveavatar.com)"
)


class _DefaultsFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help unless it already names its default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and action.nargs != 0  # flags have no value to default
            and "default" not in text
            and default not in (None, "", [], argparse.SUPPRESS)
        ):
            text += " (default: %(default)s)"
        return text


class _DefaultsParser(argparse.ArgumentParser):
    """An argument parser whose ``--help`` shows the defaults (`_DefaultsFormatter`)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(**kwargs)


_parser = _DefaultsParser


def _common_options(*, top: bool, liveavatar: bool = False) -> _DefaultsParser:
    """Options accepted both before and after the subcommand.

    Defaults are suppressed so that a value given before the subcommand is not overwritten
    by the subcommand parser's default; `_config` fills them in. ``liveavatar``: the
    ``live`` command's wording (its own key and service).
    """
    p = _parser(add_help=False)
    g = p.add_argument_group("global options")
    sup = argparse.SUPPRESS
    key, base = (
        ("LiveAvatar API key (default: $LIVEAVATAR_API_KEY)", LIVEAVATAR_BASE_HELP)
        if liveavatar
        else ("HeyGen API key (default: $HEYGEN_API_KEY)", HEYGEN_BASE_HELP)
    )
    g.add_argument("--api-key", default=sup, metavar="KEY", help=f"{key}; never printed")
    g.add_argument("--base-url", default=sup, metavar="URL", help=base)
    g.add_argument(
        "-q", "--quiet", action="store_true", default=sup, help="no progress or notes on stderr"
    )
    g.add_argument(
        "--json",
        action="store_true",
        default=sup,
        help="print a machine-readable JSON report on stdout",
    )
    g.add_argument(
        "--log-level",
        choices=_LOG_LEVELS,
        type=str.lower,
        default=sup,
        help="level of the library's logger on stderr (default: error)",
    )
    g.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=sup,
        help="log each HTTP call and the session's state changes (not aiortc's packets)",
    )
    g.add_argument(
        "--debug",
        action="store_true",
        default=sup,
        help="debug logging and full tracebacks on errors",
    )
    if top:
        g.add_argument("--version", action="version", version=f"heygen-streaming {__version__}")
    return p


def _session_options(
    p: argparse.ArgumentParser,
    emulator: str = "use an embedded emulator even if an API key or base URL is configured",
) -> None:
    g = p.add_argument_group("session options")
    g.add_argument("--avatar", default="", help="avatar name or id (default: the service's)")
    g.add_argument("--voice", default="", help="voice id (default: the avatar's)")
    g.add_argument(
        "--quality",
        choices=QUALITIES,
        default="low",
        help="video quality: low is 640x360, quick to record on a laptop "
        "(the SDK's own default is high, 1280x720)",
    )
    g.add_argument(
        "--connect-timeout",
        type=positive_float,
        default=15.0,
        metavar="S",
        help="seconds allowed to connect",
    )
    g.add_argument("--emulator", action="store_true", help=emulator)


def build_parser() -> _DefaultsParser:
    """The argument parser of ``heygen-streaming``."""
    common = _common_options(top=False)
    parser = _parser(
        prog="heygen-streaming",
        description="HeyGen's streaming avatars from the command line. With a HeyGen key "
        "(HEYGEN_API_KEY): `realtime`, Avatar Realtime, HeyGen's current API. With a "
        "LiveAvatar key (LIVEAVATAR_API_KEY, its own): `live`, LiveAvatar, HeyGen's "
        "interactive avatar. Offline: `demo`, `speak`, `record`, `chat` and `sessions` speak "
        "Streaming API v1, which HeyGen retired in 2026, to the emulator (embedded, or "
        "`heygen-streaming emulator`).",
        epilog="Without HEYGEN_API_KEY / HEYGEN_BASE_URL the session commands run against an "
        "embedded emulator (`live`: without LIVEAVATAR_API_KEY / LIVEAVATAR_BASE_URL); `demo` "
        "always does unless given --base-url. "
        "Exit codes: 0 ok, 1 error, 2 usage, 130 interrupted.",
        parents=[_common_options(top=True)],
    )
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_DefaultsParser
    )

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="offline demo (v1, embedded emulator): speak, record a video, print a report",
        description="The offline demo: open a v1 session on an embedded emulator (or on the "
        "server --base-url names; without it, $HEYGEN_API_KEY and $HEYGEN_BASE_URL are "
        "ignored), speak a sentence, record it and print a report: time to first frame, "
        "frames, dropped frames and RTP stats. With a HeyGen key, try `heygen-streaming realtime`.",
    )
    _session_options(demo, "use an embedded emulator even with --base-url (the default)")
    demo.add_argument("--out", default="avatar.mp4", help=f"output video, {V1_SUFFIXES}")
    demo.add_argument(
        "--text",
        default="Hello! I am a streaming avatar. This video was recorded by heygen-streaming.",
        help="what the avatar says",
    )

    speak = sub.add_parser(
        "speak",
        parents=[common],
        help="v1 (emulator): speak one text, optionally recording it",
        description="Open a v1 session, speak TEXT and wait until the avatar has finished; "
        "with --out, record the whole utterance. v1 is retired at HeyGen: this runs against "
        "the emulator (with a HeyGen key, use `heygen-streaming realtime`).",
    )
    speak.add_argument("text", metavar="TEXT", help="what the avatar says")
    _session_options(speak)
    speak.add_argument("--out", default=None, help=f"record to this file, {V1_SUFFIXES}")
    speak.add_argument(
        "--task-type",
        choices=TASK_TYPES,
        default="repeat",
        help="repeat the text, or chat (the avatar answers it)",
    )

    record = sub.add_parser(
        "record",
        parents=[common],
        help="v1 (emulator): record N seconds of a session",
        description="Open a v1 session and record it for --seconds; with --text the avatar "
        "speaks at the start. v1 is retired at HeyGen: this runs against the emulator.",
    )
    _session_options(record)
    record.add_argument(
        "--seconds",
        type=positive_float,
        default=5.0,
        metavar="N",
        help="length of the recording",
    )
    record.add_argument("--out", default="recording.mp4", help=f"output file, {V1_SUFFIXES}")
    record.add_argument("--text", default=None, help="speak this at the start of the recording")

    chat = sub.add_parser(
        "chat",
        parents=[common],
        help="v1 (emulator): every line typed or piped is spoken",
        description="Open a v1 session and speak each line read from stdin. End of input "
        "(Ctrl-D) waits until every line was spoken, then exits with 0; Ctrl-C exits with "
        "130; both stop the session cleanly. v1 is retired at HeyGen: this runs against the "
        "emulator.",
    )
    _session_options(chat)
    chat.add_argument("--out", default=None, help="record the whole chat to this file")
    chat.add_argument(
        "--task-type",
        choices=TASK_TYPES,
        default="repeat",
        help="repeat each line, or chat (the avatar answers it)",
    )
    chat.add_argument(
        "--no-wait",
        dest="wait",
        action="store_false",
        help="send each line at once, without waiting for the one before to be spoken "
        "(the lines queue up; end of input still waits until all were spoken)",
    )

    add_realtime_parser(sub, common)
    add_live_parser(sub, _common_options(top=False, liveavatar=True))

    sub.add_parser(
        "emulator",
        add_help=False,
        help="run the offline emulator of v1, Avatar Realtime and LiveAvatar "
        "(see: heygen-streaming emulator --help)",
        description="Run the offline emulator; all arguments go to it.",
    )

    sessions = sub.add_parser(
        "sessions",
        parents=[common],
        help="v1 (emulator): list or stop open sessions",
        description="List the v1 sessions open for this API key, or stop one by id, on the "
        "emulator --base-url / $HEYGEN_BASE_URL names (v1 is retired at HeyGen).",
    )
    ssub = sessions.add_subparsers(dest="action", metavar="ACTION", required=True)
    ssub.add_parser("list", parents=[common], help="list open sessions")
    stop = ssub.add_parser("stop", parents=[common], help="stop a session")
    stop.add_argument("session_ids", nargs="+", metavar="ID", help="session id(s) to stop")
    return parser


def _config(args: argparse.Namespace) -> Config:
    from .commands import Config

    debug = bool(getattr(args, "debug", False))
    verbose = bool(getattr(args, "verbose", False))
    key = getattr(args, "api_key", None) or os.environ.get("HEYGEN_API_KEY") or ""
    flag = getattr(args, "base_url", None)
    return Config(
        # A key from a CRLF .env file ends in "\r": surrounding whitespace is never part of it.
        api_key=key.strip() or None,
        base_url=flag or os.environ.get("HEYGEN_BASE_URL") or None,
        base_url_flag=bool(flag),
        quiet=bool(getattr(args, "quiet", False)),
        json=bool(getattr(args, "json", False)),
        debug=debug,
        log_level="debug" if debug or verbose else getattr(args, "log_level", "error"),
    )


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("heygen_streaming").setLevel(level.upper())
    # The embedded emulator logs under heygen_streaming.emulator: only its warnings.
    logging.getLogger("heygen_streaming.emulator").setLevel(logging.WARNING)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    asked = level.upper() in ("DEBUG", "INFO", "WARNING")  # warnings were asked for
    logging.getLogger(_LIVEKIT_LOGGER).setLevel(logging.WARNING if asked else logging.ERROR)


def _run_emulator(argv: Sequence[str]) -> int:
    try:
        from ..emulator.__main__ import main as emulator_main
    except ImportError as exc:
        missing = getattr(exc, "name", None) or str(exc)
        print(
            f"heygen-streaming: error: the emulator is not installed (missing {missing}); "
            f"install it with: {EMULATOR_HINT}",
            file=sys.stderr,
        )
        return 1
    return int(emulator_main(list(argv), prog="heygen-streaming emulator") or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(args_list)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 2
    if args.command == "emulator":
        return _run_emulator(extra)
    if extra:
        try:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 2
    if args.command == "live" and (problem := usage_error(args)) is not None:
        print(f"heygen-streaming live: error: {problem}", file=sys.stderr)
        return 2

    try:  # the media stack loads here: a Ctrl-C now is a plain interrupt too
        from .commands import COMMANDS, CLIError, finish_interrupted
        from .errors import exit_code, hint, one_line
        from .live import cmd_live
        from .progress import clean_text
        from .realtime import cmd_realtime
        from .run import quiet_teardown
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

    config = _config(args)
    _setup_logging(config.log_level)
    special = {"realtime": cmd_realtime, "live": cmd_live}
    command = special.get(args.command) or COMMANDS[args.command]
    out = _Output(getattr(args, "out", None))
    try:
        return asyncio.run(quiet_teardown(command(config, args)))
    except KeyboardInterrupt:
        if not config.quiet:
            print("interrupted", file=sys.stderr)
        # A second Ctrl-C may have cut the session's own streaming.stop short: confirm it.
        for line in [*finish_interrupted(config), *out.kept()]:
            print(f"heygen-streaming: {clean_text(line, config.api_key)}", file=sys.stderr)
        return 130
    except (HeyGenError, CLIError, OSError, ValueError, TimeoutError) as exc:
        if config.debug:
            raise
        for line in config.unstopped(reported=exc):
            print(f"heygen-streaming: error: {line}", file=sys.stderr)
        line = one_line(exc, config) + hint(exc, config)
        print(f"heygen-streaming: error: {clean_text(line, config.api_key)}", file=sys.stderr)
        return exit_code(exc)


class _Output:
    """The command's ``--out`` file, to say after Ctrl-C that a partial one was kept."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.before = self._stat()

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path) if self.path else None
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size) if st is not None else None

    def kept(self) -> list[str]:
        """A line naming the file if the interrupted command wrote it, else nothing."""
        after = self._stat()
        if self.path is None or after is None or after == self.before:
            return []
        return [f"kept {self.path} ({after[1]} bytes, written until Ctrl-C: it may end early)"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
