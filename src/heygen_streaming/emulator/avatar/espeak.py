"""eSpeak NG through ctypes: the shared library and voice data of the `espeakng-loader` wheel.

eSpeak NG (GPL-3.0-or-later) is loaded at run time as a separate shared library; nothing of
it is compiled into this package. The library keeps global state and is not thread-safe, so
one `EspeakNG` object serialises every call with its lock (callers in any thread may use it).

A call renders one text in ``AUDIO_OUTPUT_SYNCHRONOUS`` mode: 16-bit mono PCM at the
library's rate (22,050 Hz) plus its events: the start of each word (with its character
position in the text) and of each phoneme (IPA name, empty for a pause), in milliseconds
of the output. The text is plain (no SSML, no ``[[phoneme]]`` input).
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .voices import Voice

__all__ = ["EngineUnavailable", "EspeakNG", "RawSpeech"]

_SYNCHRONOUS = 2
_PHONEME_EVENTS, _PHONEME_IPA, _DONT_EXIT = 0x0001, 0x0002, 0x8000
_CHARS_UTF8, _ENDPAUSE = 0x1, 0x1000
_POS_CHARACTER = 1
_RATE, _PITCH = 1, 3
_EVENT_WORD, _EVENT_PHONEME = 1, 7
_BUFFER_MS = 200


class EngineUnavailable(RuntimeError):
    """eSpeak NG could not be loaded (no wheel for this platform, no data, a broken library)."""


class _Event(ctypes.Structure):
    # espeak_EVENT of speak_lib.h (API revision 12).
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class RawSpeech:
    """What one call produced, at `rate`."""

    pcm: npt.NDArray[np.int16]
    rate: int
    words: list[tuple[int, int]]
    """(character index in the text, start in ms) per word event, in order."""
    phonemes: list[tuple[int, str]]
    """(start in ms, IPA name; ``""`` for a pause) per phoneme event, in order."""


class EspeakNG:
    """The loaded library (`load`), rendering under one lock (`render`)."""

    name = "espeak-ng"

    def __init__(self, library: ctypes.CDLL, rate: int, version: str) -> None:
        self._lib = library
        self.rate = rate
        self.version = version
        self._lock = threading.Lock()
        self._chunks: list[bytes] = []
        self._words: list[tuple[int, int]] = []
        self._phonemes: list[tuple[int, str]] = []
        self._callback = _CALLBACK(self._collect)  # kept alive as long as the library uses it
        library.espeak_SetSynthCallback(self._callback)
        self._voice = ""

    @classmethod
    def load(cls) -> EspeakNG:
        """Load the wheel's library and data; `EngineUnavailable` when that fails."""
        try:
            import espeakng_loader

            library_path = espeakng_loader.get_library_path()
            data = Path(espeakng_loader.get_data_path())
            lib = ctypes.CDLL(library_path)
        except (ImportError, OSError, RuntimeError) as exc:
            raise EngineUnavailable(f"{type(exc).__name__}: {exc}") from None
        try:
            lib.espeak_Initialize.argtypes = [
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_int,
            ]
            lib.espeak_Initialize.restype = ctypes.c_int
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            lib.espeak_Synth.argtypes = [
                ctypes.c_char_p,
                ctypes.c_size_t,
                ctypes.c_uint,
                ctypes.c_int,
                ctypes.c_uint,
                ctypes.c_uint,
                ctypes.c_void_p,
                ctypes.c_void_p,
            ]
            lib.espeak_Info.argtypes = [ctypes.c_void_p]
            lib.espeak_Info.restype = ctypes.c_char_p
            options = _PHONEME_EVENTS | _PHONEME_IPA | _DONT_EXIT
            rate = lib.espeak_Initialize(
                _SYNCHRONOUS, _BUFFER_MS, str(data.parent).encode(), options
            )
            version = (lib.espeak_Info(None) or b"?").decode(errors="replace")
        except AttributeError as exc:  # a symbol is missing
            raise EngineUnavailable(f"not an eSpeak NG library: {exc}") from None
        if rate <= 0:
            raise EngineUnavailable(f"espeak_Initialize failed with data at {data}")
        engine = cls(lib, rate, version)
        engine.render("ok", Voice("en-us", "en-US"))  # the voice data is readable
        return engine

    def _collect(
        self, wav: ctypes._Pointer[ctypes.c_short], count: int, events: ctypes._Pointer[_Event]
    ) -> int:
        if wav and count > 0:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        i = 0
        while events[i].type != 0:
            event = events[i]
            if event.type == _EVENT_WORD:
                self._words.append((event.text_position - 1, event.audio_position))
            elif event.type == _EVENT_PHONEME:
                name = event.id.split(b"\0", 1)[0].decode("utf-8", "replace")
                self._phonemes.append((event.audio_position, name))
            i += 1
        return 0

    def render(self, text: str, voice: Voice, *, end_pause: bool = False) -> RawSpeech:
        """Render ``text`` (blocking; safe from any thread, one call at a time).

        ``end_pause`` adds eSpeak's sentence pause after the text.
        """
        data = text.replace("\0", " ").encode("utf-8", "replace")
        with self._lock:
            self._chunks, self._words, self._phonemes = [], [], []
            lib = self._lib
            if voice.espeak != self._voice:
                if lib.espeak_SetVoiceByName(voice.espeak.encode()) != 0:
                    lib.espeak_SetVoiceByName(b"en-us")
                self._voice = voice.espeak
            lib.espeak_SetParameter(_RATE, voice.wpm, 0)
            lib.espeak_SetParameter(_PITCH, voice.pitch, 0)
            flags = _CHARS_UTF8 | (_ENDPAUSE if end_pause else 0)
            lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, flags, None, None)
            pcm = np.frombuffer(b"".join(self._chunks), np.int16)
            return RawSpeech(pcm, self.rate, self._words, self._phonemes)
