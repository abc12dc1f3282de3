"""The emulator's voices: voice ids mapped to eSpeak NG voices (language, pitch, speed).

=====================  =================  ========  =====  =====
voice id               eSpeak NG voice    language  pitch  wpm
=====================  =================  ========  =====  =====
(any other id)         ``en-us+f2``       en-US     50     165
``emulator``           ``en-us+f2``       en-US     50     165
``emulator-male``      ``en-us+m3``       en-US     40     160
``emulator-low``       ``en-us+m1``       en-US     25     150
``emulator-high``      ``en-us+f4``       en-US     70     170
``emulator-gb``        ``en-gb-x-rp+f2``  en-GB     50     165
``emulator-es``        ``es+f2``          es        50     160
``emulator-fr``        ``fr+f2``          fr        50     160
``emulator-de``        ``de+f2``          de        50     160
``emulator-it``        ``it+f2``          it        50     160
``emulator-pt``        ``pt-br+f2``       pt-BR     50     160
``emulator-nl``        ``nl+f2``          nl        50     160
``emulator-hi``        ``hi+f2``          hi        50     160
``emulator-zh``        ``cmn+f2``         zh        50     150
=====================  =================  ========  =====  =====

Ids are matched without regard to case. ``espeak:<voice>`` (for example ``espeak:fr+m3``)
names any eSpeak NG voice directly. Every other id (a real HeyGen voice id, an empty one)
gets the default voice, the first row: so an app's real ids work unchanged offline. The
default is the English voice that an offline recogniser (pocketsphinx) understood best.
A caller's speed factor (v1 ``voice.rate``) scales the words per minute (`Voice.scaled`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["DEFAULT_VOICE", "VOICES", "Voice", "voice_for"]

MIN_WPM, MAX_WPM = 80, 450


@dataclass(frozen=True)
class Voice:
    """An eSpeak NG voice (``language[+variant]``), its language, pitch (0-100) and speed."""

    espeak: str
    language: str
    pitch: int = 50
    wpm: int = 165

    def scaled(self, rate: float = 1.0, pitch: float = 1.0) -> Voice:
        """This voice ``rate`` times as fast and with its pitch times ``pitch`` (clamped)."""
        wpm = round(self.wpm * (rate if rate > 0 else 1.0))
        tone = round(self.pitch * (pitch if pitch > 0 else 1.0))
        return dataclasses.replace(
            self, wpm=min(MAX_WPM, max(MIN_WPM, wpm)), pitch=min(100, max(0, tone))
        )


DEFAULT_VOICE = Voice("en-us+f2", "en-US", 50, 165)

VOICES: dict[str, Voice] = {
    "emulator": DEFAULT_VOICE,
    "emulator-male": Voice("en-us+m3", "en-US", 40, 160),
    "emulator-low": Voice("en-us+m1", "en-US", 25, 150),
    "emulator-high": Voice("en-us+f4", "en-US", 70, 170),
    "emulator-gb": Voice("en-gb-x-rp+f2", "en-GB", 50, 165),
    "emulator-es": Voice("es+f2", "es", 50, 160),
    "emulator-fr": Voice("fr+f2", "fr", 50, 160),
    "emulator-de": Voice("de+f2", "de", 50, 160),
    "emulator-it": Voice("it+f2", "it", 50, 160),
    "emulator-pt": Voice("pt-br+f2", "pt-BR", 50, 160),
    "emulator-nl": Voice("nl+f2", "nl", 50, 160),
    "emulator-hi": Voice("hi+f2", "hi", 50, 160),
    "emulator-zh": Voice("cmn+f2", "zh", 50, 150),
}
"""The documented voices (see the module docstring)."""

_ESPEAK_NAME = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-+_")


def voice_for(voice_id: str | None) -> Voice:
    """The voice for ``voice_id``; unknown (or empty) ids get `DEFAULT_VOICE`."""
    key = (voice_id or "").strip().lower()
    if key.startswith("espeak:"):
        name = key[len("espeak:") :]
        if name and len(name) <= 40 and set(name) <= _ESPEAK_NAME:
            return Voice(name, name.split("+")[0])
        return DEFAULT_VOICE
    return VOICES.get(key, DEFAULT_VOICE)
