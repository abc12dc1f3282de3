"""Limits and media settings of the v3 emulator, with their CLI flags."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["RealtimeOptions", "add_cli_arguments", "options_from_args", "parse_host"]


@dataclass(frozen=True)
class RealtimeOptions:
    """Avatar Realtime (``/v3/avatar-realtime``) settings of an `Emulator`.

    Args:
        max_streams: live (pending or streaming) streams per key; beyond: 429.
        max_total_streams: live streams in all (what bounds any-key mode, where every key
            is an account); beyond: 429. Each live stream costs about 11 % of a core.
        idle_timeout: seconds without new text (and nothing left to say) before a
            ``text_stream`` completes with ``end_reason: "idle_timeout"``.
        max_length: seconds of media after which a stream completes (``max_duration``).
        segment_seconds: HLS segment (and GOP) length.
        file_grace: seconds the files of an ended stream stay servable.
        retry_after: the ``Retry-After`` of the 429 answer, seconds.
        partial_word_wait: seconds a trailing partial word of a ``text_stream`` (``"Hel"``
            of ``"Hel"`` + ``"lo"``) waits for the rest when the avatar has nothing else to say.
        end_linger: seconds a finished stream stays ``streaming`` (its playlist already
            ends with ``#EXT-X-ENDLIST``) before it is ``completed``, so that pollers see
            ``hls_url`` even for streams shorter than a segment.
        max_audio_seconds: longest ``audio`` input; longer audio is refused (HTTP 400 for
            inline audio, ``error`` for a URL). Decoding stops as soon as it is exceeded.
        audio_url_hosts: the hosts ``{"type": "url"}`` audio may be fetched from
            (``"host"`` or ``"host:port"``, http and https only); empty (the default):
            the emulator fetches no URL at all (HTTP 400).
    """

    max_streams: int = 3
    max_total_streams: int = 24
    idle_timeout: float = 30.0
    max_length: float = 3600.0
    segment_seconds: float = 1.0
    file_grace: float = 60.0
    retry_after: float = 5.0
    end_linger: float = 1.5
    partial_word_wait: float = 0.5
    max_audio_seconds: float = 600.0
    audio_url_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        hosts = self.audio_url_hosts
        object.__setattr__(
            self, "audio_url_hosts", (hosts,) if isinstance(hosts, str) else tuple(hosts)
        )
        for entry in self.audio_url_hosts:
            parse_host(entry)  # ValueError for a malformed entry
        if self.max_streams < 1 or self.max_total_streams < 1:
            raise ValueError("max_streams and max_total_streams must be at least 1")
        for name in ("idle_timeout", "max_length", "segment_seconds", "max_audio_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        for name in ("file_grace", "retry_after", "end_linger", "partial_word_wait"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    @property
    def url_hosts(self) -> frozenset[tuple[str, int | None]]:
        """`audio_url_hosts` as ``(host, port)`` pairs (``None``: any port)."""
        return frozenset(parse_host(entry) for entry in self.audio_url_hosts)


def parse_host(entry: str) -> tuple[str, int | None]:
    """``"host"``, ``"host:port"``, ``"::1"`` or ``"[::1]:8080"`` as ``(host, port)``
    (host in lower case, IPv6 without brackets); ValueError if malformed."""
    text = entry.strip()
    if text.count(":") > 1 and not text.startswith("["):
        text = f"[{text}]"  # a bare IPv6 address
    try:
        parts = urlsplit(f"//{text}")
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or parts.path or parts.query or parts.username is not None:
        raise ValueError(f"not a host or host:port: {entry!r}")
    return host, port


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``--v3-*`` flags."""
    d = RealtimeOptions()
    group = parser.add_argument_group("Avatar Realtime (v3)")
    group.add_argument("--v3-max-streams", type=int, default=d.max_streams, help="per key")
    group.add_argument(
        "--v3-max-total-streams", type=int, default=d.max_total_streams, help="in all"
    )
    group.add_argument("--v3-idle-timeout", type=float, default=d.idle_timeout, help="seconds")
    group.add_argument("--v3-max-length", type=float, default=d.max_length, help="seconds")
    group.add_argument(
        "--v3-segment-seconds", type=float, default=d.segment_seconds, help="HLS segment length"
    )
    group.add_argument(
        "--v3-file-grace", type=float, default=d.file_grace, help="seconds files outlive a stream"
    )
    group.add_argument(
        "--v3-max-audio-seconds",
        type=float,
        default=d.max_audio_seconds,
        help="longest audio-mode input, seconds",
    )
    group.add_argument(
        "--v3-audio-url-host",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="fetch audio-mode URLs from this host (repeatable; default: no URL is fetched)",
    )


def options_from_args(args: argparse.Namespace) -> RealtimeOptions:
    """`RealtimeOptions` from parsed ``--v3-*`` flags."""
    return RealtimeOptions(
        max_streams=args.v3_max_streams,
        max_total_streams=args.v3_max_total_streams,
        idle_timeout=args.v3_idle_timeout,
        max_length=args.v3_max_length,
        segment_seconds=args.v3_segment_seconds,
        file_grace=args.v3_file_grace,
        max_audio_seconds=args.v3_max_audio_seconds,
        audio_url_hosts=tuple(args.v3_audio_url_host),
    )
