"""The subcommands of ``heygen-streaming``: each is a coroutine ``(config, args) -> exit code``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import NotFoundError, SessionStateError
from .._client import already_stopped, check_text
from .progress import clean_text, format_report, jsonable, print_json
from .run import (
    CLIError,
    Config,
    Run,
    SpeechQueue,
    UsageError,
    check_v1_target,
    finish_interrupted,
    open_client,
    open_run,
    settle_if_cut_short,
    stdin_lines,
)

if TYPE_CHECKING:
    from .. import SessionStats

# CLIError, Config, finish_interrupted and open_client are re-exported for cli.py and the
# realtime command; _stdin_lines is its old name.
__all__ = ["COMMANDS", "CLIError", "Config", "finish_interrupted", "open_client"]

_TAIL = 0.3  # seconds recorded after speech ends, so the last syllable is kept
_stdin_lines = stdin_lines


def _file_report(path: str) -> dict[str, Any]:
    return {"out": os.path.abspath(path), "bytes": os.path.getsize(path)}


def _emit(config: Config, report: dict[str, Any], title: str) -> None:
    if config.json:
        print_json(report)
    else:
        print(clean_text(title))
        print(format_report(jsonable(report), indent="  "))


async def cmd_demo(config: Config, args: argparse.Namespace) -> int:
    """``demo``: connect, speak, record, report."""
    check_text(args.text)  # before a (billable) session is opened
    async with open_run(config, args, "demo") as run:
        s = run.session
        await run.first_frame()
        async with s.recording(args.out):
            run.progress.phase = "speaking"
            events = s.events()
            task = await s.speak(args.text, wait=True)
            await settle_if_cut_short(events, task)
            events.close()
            await asyncio.sleep(_TAIL)
        stats = await s.stats()
        report: dict[str, Any] = {
            "session_id": s.session_id,
            "emulator": run.target.emulator,
            "base_url": run.target.base_url,
            "quality": args.quality,
            "connect_ms": (run.connected - run.t0) * 1000,
            "first_frame_ms": _first_frame_ms(stats, run),
            "video_size": "x".join(map(str, run.counter.last_size or ())),
            "video_frames": run.counter.video_frames,
            "audio_frames": run.counter.audio_frames,
            "dropped_frames": stats.video.frames_dropped + stats.audio.frames_dropped,
            "task_id": task.task_id,
            "speech_ms": task.duration_ms,
            "stats": _stats_report(stats),
        }
    report["elapsed_s"] = time.perf_counter() - run.t0
    report.update(_file_report(args.out))
    _emit(config, report, f"demo: wrote {args.out}")
    return 0


async def cmd_speak(config: Config, args: argparse.Namespace) -> int:
    """``speak TEXT``: speak once (and record it with ``--out``)."""
    check_text(args.text)  # before a (billable) session is opened
    async with open_run(config, args, "speak") as run, AsyncExitStack() as stack:
        s = run.session
        if args.out:
            await run.first_frame()
            await stack.enter_async_context(s.recording(args.out))
        run.progress.phase = "speaking"
        events = s.events()
        task = await s.speak(args.text, task_type=args.task_type, wait=True)
        await settle_if_cut_short(events, task)
        events.close()
        if args.out:
            await asyncio.sleep(_TAIL)
        await stack.aclose()
        report: dict[str, Any] = {
            "session_id": s.session_id,
            "emulator": run.target.emulator,
            "task_id": task.task_id,
            "speech_ms": task.duration_ms,
            "video_frames": run.counter.video_frames,
            "audio_frames": run.counter.audio_frames,
        }
    if args.out:
        report.update(_file_report(args.out))
    _emit(config, report, "speak: done" + (f", wrote {args.out}" if args.out else ""))
    return 0


async def cmd_record(config: Config, args: argparse.Namespace) -> int:
    """``record --seconds N --out FILE``: reports the seconds actually recorded."""
    if args.text:
        check_text(args.text)  # before a (billable) session is opened
    async with open_run(config, args, "record") as run:
        s = run.session
        await run.first_frame()
        run.progress.phase = "recording"
        started = time.monotonic()
        run.progress.status = lambda: (
            f"{min(time.monotonic() - started, args.seconds):.1f} of {args.seconds:g} s  "
            + run.counter.status()
        )
        recording = asyncio.create_task(s.record(args.out, duration=args.seconds))
        try:
            if args.text:
                await asyncio.sleep(0)  # let the recorder start before the speech is sent
                await s.speak(args.text)
            info = await recording
        finally:
            if not recording.done():
                recording.cancel()
                await asyncio.gather(recording, return_exceptions=True)
        stats = await s.stats()
        report: dict[str, Any] = {
            "session_id": s.session_id,
            "emulator": run.target.emulator,
            "seconds": info.duration,
            "requested_seconds": args.seconds,
            "video_frames": info.video_frames,
            "audio_frames": info.audio_frames,
            "dropped_frames": stats.video.frames_dropped + stats.audio.frames_dropped,
            "stats": _stats_report(stats),
        }
    report.update(_file_report(args.out))
    _emit(config, report, f"record: wrote {args.out} ({info.duration:.1f} s)")
    return 0


async def cmd_chat(config: Config, args: argparse.Namespace) -> int:
    """``chat``: speak each line of stdin until EOF or Ctrl-C.

    With ``--no-wait`` each line is sent at once and queues up behind the others; end of
    input then waits until the last one was spoken, so a piped script is heard whole.
    """
    interactive = sys.stdin.isatty() and not config.quiet
    prompt = "> " if interactive else ""
    spoken = 0
    queue = SpeechQueue()
    async with open_run(config, args, "chat", live=False) as run, AsyncExitStack() as stack:
        s = run.session
        if args.out:
            await stack.enter_async_context(s.recording(args.out))
        events = None if args.wait else s.events()  # before the first line is sent
        if interactive:
            config.note(
                f"connected (session {s.session_id}): type a line to speak it, "
                "Ctrl-D or Ctrl-C to quit"
            )
        else:
            config.note(f"connected (session {s.session_id}): speaking the lines of stdin")
        print(prompt, end="", file=sys.stderr, flush=True)
        async for line in stdin_lines():
            if line.strip():
                task = await s.speak(line, task_type=args.task_type, wait=args.wait)
                queue.add(task)
                spoken += 1
                if config.json:
                    print_json({"task_id": task.task_id, "speech_ms": task.duration_ms})
                elif not config.quiet:
                    secs = f"{task.duration_ms / 1000:.1f} s" if task.duration_ms else "?"
                    done = "spoke" if args.wait else "queued"
                    print(clean_text(f"{done} task {task.task_id} ({secs})"), flush=True)
            print(prompt, end="", file=sys.stderr, flush=True)
        if interactive:
            print(file=sys.stderr)
        if events is not None and queue.last is not None:
            config.note(f"end of input: waiting until the {spoken} queued line(s) are spoken")
            if not await queue.wait_spoken(events):
                config.note("the server did not say when the speech ended: waited its length")
            events.close()
        if args.out and spoken:
            await asyncio.sleep(_TAIL)
    config.note(f"session {s.session_id} stopped after {spoken} line(s)")
    if args.out:
        config.note(f"wrote {args.out}")
    return 0


async def cmd_sessions(config: Config, args: argparse.Namespace) -> int:
    """``sessions list`` / ``sessions stop ID...``."""
    if not config.base_url:
        raise UsageError(
            "`sessions` lists and stops v1 sessions of a running emulator: pass --base-url URL "
            "of `heygen-streaming emulator` (or set HEYGEN_BASE_URL) and its --api-key"
        )
    check_v1_target(config, f"sessions {args.action}")
    async with open_client(config, emulator=False) as target:
        client = target.client
        if args.action == "list":
            sessions = await client.list_sessions()
            if config.json:
                print_json({"sessions": sessions})
            elif not sessions:
                print("no open sessions")
            else:
                for item in sessions:
                    extra = {k: v for k, v in jsonable(item).items() if k != "session_id"}
                    if isinstance(item.created_at, int | float):
                        with contextlib.suppress(OverflowError, ValueError, OSError):
                            created = datetime.fromtimestamp(item.created_at, UTC)
                            extra["created_at"] = created.isoformat(timespec="seconds")
                    details = "  ".join(f"{k}={v}" for k, v in extra.items() if v is not None)
                    print(clean_text(f"{item.session_id}  {details}".rstrip()))
            return 0
        stopped: list[str] = []
        not_open: list[str] = []
        for session_id in args.session_ids:
            try:
                await client.stop_session(session_id)
            except (NotFoundError, SessionStateError) as exc:
                if not already_stopped(exc):
                    raise  # already stopped (or never existed): nothing is open
                not_open.append(session_id)
                if not config.json:
                    print(clean_text(f"{session_id} is not open (already stopped, or unknown)"))
                continue
            stopped.append(session_id)
            if not config.json:
                print(clean_text(f"stopped {session_id}"))
        if config.json:
            print_json({"stopped": stopped, "not_open": not_open})
        return 0


def _first_frame_ms(stats: SessionStats, run: Run) -> float | None:
    """Time from opening the session to its first video frame."""
    if stats.video.first_frame_after is not None:
        return stats.video.first_frame_after * 1000
    if run.counter.first_video_at is not None:
        return (run.counter.first_video_at - run.t0) * 1000
    return None


def _stats_report(stats: SessionStats) -> dict[str, Any]:
    """The per-kind inbound stats, without aiortc's raw objects."""
    report: dict[str, Any] = {"connection_state": stats.connection_state}
    for inbound in (stats.video, stats.audio):
        item = jsonable(inbound)
        for key in ("kind", "ssrc", "first_frame_after"):
            item.pop(key, None)
        item["jitter_ms"] = round(inbound.jitter * 1000, 2)
        item.pop("jitter", None)
        report[inbound.kind] = item
    return report


Command = Callable[[Config, argparse.Namespace], Coroutine[Any, Any, int]]

COMMANDS: dict[str, Command] = {
    "demo": cmd_demo,
    "speak": cmd_speak,
    "record": cmd_record,
    "chat": cmd_chat,
    "sessions": cmd_sessions,
}
