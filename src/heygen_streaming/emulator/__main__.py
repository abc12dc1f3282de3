"""``python -m heygen_streaming.emulator``: run the emulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys

from .faults import Faults, parse_fault_spec
from .liveavatar import add_cli_arguments as add_la_arguments
from .liveavatar import options_from_args as la_options_from_args
from .server import Emulator
from .v3 import add_cli_arguments, options_from_args

__all__ = ["build_parser", "main"]


class _DefaultsFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help unless it already names its default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            action.option_strings
            and action.nargs != 0
            and "default" not in text
            and (action.default not in (None, [], argparse.SUPPRESS))
        ):  # flags (nargs=0) have no value to default
            text += " (default: %(default)s)"
        return text


def build_parser(prog: str = "python -m heygen_streaming.emulator") -> argparse.ArgumentParser:
    """The emulator's command-line options."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Offline emulator of HeyGen's streaming avatar APIs on one port: "
        "Streaming API v1 (/v1/streaming.*, WebRTC; retired by HeyGen, emulated as captured), "
        "Avatar Realtime (/v3/avatar-realtime, HLS) and LiveAvatar (/v1/sessions/*, a "
        "LiveKit-compatible room, the LITE socket). Prints one line with its base URL "
        "once it accepts requests, then serves until Ctrl-C (exit code 130) or SIGTERM (0).",
        epilog="Without a credential, GET /emulator describes it (version, auth mode, the "
        "Avatar Realtime ids to default to). Browser demos: / (v1), /static/v3.html "
        "(Avatar Realtime), /static/liveavatar.html (LiveAvatar). LiveAvatar clients (the "
        "official LiveKit client, browsers) send media over a network interface other than "
        "loopback: on a machine with one, --host 127.0.0.1 works; with only loopback they "
        "cannot connect.",
        formatter_class=_DefaultsFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (0 = any free port)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("HEYGEN_EMULATOR_API_KEY"),
        help="accepted X-Api-Key (default: $HEYGEN_EMULATOR_API_KEY; none = accept any key)",
    )
    parser.add_argument("--max-sessions", type=int, default=100, help="v1 sessions per key")
    parser.add_argument(
        "--max-total-sessions",
        type=int,
        default=200,
        help="v1 sessions in all keys together (what bounds any-key mode)",
    )
    parser.add_argument(
        "--max-queued-tasks", type=int, default=32, help="unfinished v1 tasks per session"
    )
    parser.add_argument(
        "--rtcp-feedback",
        action="store_true",
        help="offer and honour NACK/PLI (HeyGen offered no RTCP feedback)",
    )
    parser.add_argument(
        "--keyframe-interval",
        type=float,
        default=2.0,
        help="seconds between forced key frames (also sent on PLI with --rtcp-feedback)",
    )
    parser.add_argument(
        "--no-retransmit",
        dest="retransmit",
        action="store_false",
        help="ignore NACKs when RTCP feedback is off (as pion would; stalls aiortc receivers)",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="seconds a connection has to send its request headers",
    )
    parser.add_argument(
        "--retired",
        action="store_true",
        help="answer every v1 route with HTTP 410 endpoint_sunset, like HeyGen today",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=120.0,
        help="v1: seconds without a task or keep_alive; 0 = off",
    )
    parser.add_argument(
        "--duration-limit", type=float, default=600.0, help="v1: longest session, seconds"
    )
    parser.add_argument(
        "--token-ttl",
        type=float,
        default=600.0,
        help="v1: streaming.create_token lifetime, seconds",
    )
    parser.add_argument(
        "--tts-latency", type=float, default=0.05, help="v1: simulated TTS time, seconds"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault, e.g. new=500x1, task=garbage, '*=delay:2x3', "
        "liveavatar_start=503 (repeatable; docs/testing.md lists the endpoint names)",
    )
    add_cli_arguments(parser)
    add_la_arguments(parser)
    parser.add_argument(
        "--stamp",
        action="store_true",
        help="write the frame stamp (index + send time) into every video frame (for tests)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging (not aiortc's packets)"
    )
    return parser


async def _serve(args: argparse.Namespace) -> int:
    emulator = Emulator(
        api_key=args.api_key or None,
        host=args.host,
        port=args.port,
        max_sessions=args.max_sessions,
        max_total_sessions=args.max_total_sessions,
        max_queued_tasks=args.max_queued_tasks,
        rtcp_feedback=args.rtcp_feedback,
        keyframe_interval=args.keyframe_interval,
        retired=args.retired,
        retransmit=args.retransmit,
        header_timeout=args.header_timeout,
        idle_timeout=args.idle_timeout or None,
        duration_limit=args.duration_limit,
        token_ttl=args.token_ttl,
        tts_latency=args.tts_latency,
        realtime=args.realtime,
        liveavatar=la_options_from_args(args),
        stamp=args.stamp,
    )
    for spec in args.fault:
        try:
            parse_fault_spec(spec, emulator.faults)  # checks the endpoint names too
        except ValueError as exc:
            print(f"error: --fault: {exc}", file=sys.stderr)
            return 2
    stop = asyncio.Event()
    received: list[int] = []
    loop = asyncio.get_running_loop()

    def on_signal(sig: int) -> None:
        received.append(sig)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)
    async with emulator:
        print(f"HeyGen emulator listening on {emulator.base_url}", flush=True)
        await stop.wait()
    # Ctrl-C (SIGINT) exits with 130 like any interrupted command; SIGTERM is a clean stop.
    return 130 if received[:1] == [signal.SIGINT] else 0


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Run the emulator; returns the exit status. ``prog`` names the command in usage."""
    parser = build_parser(prog) if prog else build_parser()
    args = parser.parse_args(argv)
    for spec in args.fault:
        try:
            parse_fault_spec(spec, Faults())
        except ValueError as exc:
            parser.error(str(exc))
    try:
        args.realtime = options_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    for name in ("aiortc", "aioice"):  # per-packet debug output, even with -v
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        return asyncio.run(_serve(args))
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
