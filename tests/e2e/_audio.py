"""Hostile audio for the emulator's ``audio`` mode, and a process's memory from /proc."""

from __future__ import annotations

import base64
import io
import struct
from pathlib import Path
from typing import Any

import av
import numpy as np

BLOCK = 4608 * 4  # FLAC frames of silence cost ~15 bytes each


def silent_flac(seconds: float, rate: int = 48_000) -> bytes:
    """``seconds`` of digital silence as FLAC: 3,600 s is about 0.5 MiB."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="flac") as out:
        stream: Any = out.add_stream("flac", rate=rate, layout="mono")
        zeros = np.zeros((1, BLOCK), np.int16)
        total, pts = int(seconds * rate), 0
        while pts < total:
            n = min(BLOCK, total - pts)
            frame = av.AudioFrame.from_ndarray(zeros[:, :n], format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, pts
            for packet in stream.encode(frame):
                out.mux(packet)
            pts += n
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def raw_wav(pcm: bytes, rate: int, channels: int = 1, bits: int = 16) -> bytes:
    """A WAV header (any ``rate``, even 1 Hz) around ``pcm``."""
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * align, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


def audio_body(data: bytes, media_type: str = "audio/flac") -> dict[str, Any]:
    """An ``audio`` create body with ``data`` inline (base64)."""
    encoded = base64.b64encode(data).decode()
    return {
        "type": "audio",
        "avatar_id": "Daisy",
        "audio": {"type": "base64", "media_type": media_type, "data": encoded},
    }


def memory_mib(pid: int) -> dict[str, int]:
    """``{"rss": ..., "peak": ...}`` of process ``pid`` in MiB (VmRSS, VmHWM)."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found["rss" if key == "VmRSS" else "peak"] = int(value.split()[0]) // 1024
    return found


def reset_peak(pid: int) -> None:
    """Reset the process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
