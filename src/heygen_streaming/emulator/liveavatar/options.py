"""Limits and lifecycle settings of the LiveAvatar emulator, with their CLI flags."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

__all__ = ["LiveAvatarOptions", "add_cli_arguments", "options_from_args"]


@dataclass(frozen=True)
class LiveAvatarOptions:
    """LiveAvatar (``/v1/sessions/*``) settings of an `Emulator`.

    Args:
        max_sessions: started sessions per key; one more ``/v1/sessions/start`` answers 403
            "Session concurrency limit reached". ``None``: the emulator's ``max_sessions``.
        max_total_sessions: started sessions in all (bounds any-key mode); ``None``: the
            emulator's ``max_total_sessions``.
        idle_timeout: seconds without activity (a keep-alive, a command, speech) before a
            session ends with ``IDLE_TIMEOUT``; ``None`` disables it. Published: 5 minutes.
        max_session_duration: the account's limit in seconds; a token asking for more is
            given this much (``/start`` reports the value in force).
        sandbox_duration: how long an ``is_sandbox`` session lives (published: ~1 minute).
        disconnect_grace: seconds a started session waits for its viewer to come back
            after the last one left the room before it ends with ``USER_DISCONNECTED``.
        credits: each key's starting credit balance (``/v1/users/credits``).
        rate_limit: requests per second per caller and endpoint; one more answers 429
            with ``Retry-After``. ``None`` disables rate limiting.
        lite_ready_delay: seconds between the LITE socket's ``connecting`` and
            ``connected`` states (commands in between are dropped with a ``warning``).
        max_buffered_audio: seconds of LITE audio the avatar holds unplayed; more is
            refused with an ``error`` event (an ``agent.speak`` flood cannot eat memory).
        starve_timeout: seconds a LITE speech waits for more audio, without
            ``agent.speak_end``, before it counts as ended.
    """

    max_sessions: int | None = None
    max_total_sessions: int | None = None
    idle_timeout: float | None = 300.0
    max_session_duration: float = 1200.0
    sandbox_duration: float = 60.0
    disconnect_grace: float = 5.0
    credits: float = 1000.0
    rate_limit: int | None = 20
    lite_ready_delay: float = 0.0
    max_buffered_audio: float = 60.0
    starve_timeout: float = 1.0

    def __post_init__(self) -> None:
        for name in ("max_sessions", "max_total_sessions", "rate_limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.idle_timeout is not None and not self.idle_timeout > 0:
            raise ValueError("idle_timeout must be positive (or None)")
        for name in ("max_session_duration", "sandbox_duration", "max_buffered_audio"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        for name in ("disconnect_grace", "credits", "lite_ready_delay", "starve_timeout"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``--la-*`` flags."""
    d = LiveAvatarOptions()
    group = parser.add_argument_group("LiveAvatar")
    group.add_argument(
        "--la-max-sessions", type=int, default=None, help="per key (default: --max-sessions)"
    )
    group.add_argument(
        "--la-idle-timeout", type=float, default=d.idle_timeout, help="seconds; 0 = off"
    )
    group.add_argument(
        "--la-max-session-duration",
        type=float,
        default=d.max_session_duration,
        help="the account's session length limit, seconds",
    )
    group.add_argument(
        "--la-sandbox-duration", type=float, default=d.sandbox_duration, help="seconds"
    )
    group.add_argument("--la-credits", type=float, default=d.credits, help="per key")
    group.add_argument(
        "--la-rate-limit",
        type=int,
        default=d.rate_limit,
        help="requests per second per caller and endpoint; 0 = off",
    )


def options_from_args(args: argparse.Namespace) -> LiveAvatarOptions:
    """`LiveAvatarOptions` from parsed ``--la-*`` flags."""
    return LiveAvatarOptions(
        max_sessions=args.la_max_sessions,
        idle_timeout=args.la_idle_timeout or None,
        max_session_duration=args.la_max_session_duration,
        sandbox_duration=args.la_sandbox_duration,
        credits=args.la_credits,
        rate_limit=args.la_rate_limit or None,
    )
