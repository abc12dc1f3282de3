"""Text as the avatar speaks it: tokens (words and punctuation), and parts rendered one at a time.

A long text is cut into parts of at most `MAX_PART_CHARS` characters, at sentence ends when
it can be, else after a comma/semicolon/colon, else at a space, else anywhere. Each part is
synthesised on its own, so the first audio is ready long before a long text is rendered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "MAX_PART_CHARS",
    "SpokenWord",
    "Token",
    "clean_text",
    "is_word",
    "next_part",
    "split_parts",
    "split_tokens",
    "tokenize",
]

MAX_PART_CHARS = 240
_TOKEN = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+|\n\s*")
_CLAUSE_END = re.compile(r"[,;:]\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class SpokenWord:
    """A word (or punctuation mark) and its sample span [start, end) in its audio."""

    word: str
    start: int
    end: int


@dataclass(frozen=True)
class Token:
    """A word or punctuation mark and its character span in the text."""

    text: str
    start: int
    end: int


def clean_text(text: str) -> str:
    """``text`` with control characters (NUL included) turned into spaces."""
    return _CONTROL.sub(" ", text)


def tokenize(text: str) -> list[Token]:
    """Words and punctuation marks with their character spans, in order."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def split_tokens(text: str) -> list[str]:
    """Words and punctuation marks, in order (punctuation is its own token)."""
    return _TOKEN.findall(text)


def is_word(token: str) -> bool:
    """True for a word, False for a punctuation mark."""
    return bool(re.match(r"\w", token))


def split_parts(text: str, limit: int = MAX_PART_CHARS) -> list[tuple[int, str]]:
    """``text`` cut into parts of at most ``limit`` characters: (offset, part) pairs.

    Whitespace between parts belongs to neither; parts without a token are dropped.
    """
    parts: list[tuple[int, str]] = []
    pos = 0
    while pos < len(text):
        start, part, pos = next_part(text, pos, limit)
        if _TOKEN.search(part):
            parts.append((start, part))
    return parts


def next_part(text: str, pos: int = 0, limit: int = MAX_PART_CHARS) -> tuple[int, str, int]:
    """The part of ``text`` that starts at or after ``pos``: (start, part, end) where ``end``
    is where the next one starts looking. Reads at most ``limit`` + 1 characters past the
    leading whitespace (so a long text costs nothing to cut)."""
    size = len(text)
    while pos < size and text[pos].isspace():
        pos += 1
    window = text[pos : pos + limit + 1]
    cut = _cut(window, limit) if len(window) > limit else len(window)
    return pos, text[pos : pos + cut].rstrip(), pos + cut


def _cut(window: str, limit: int) -> int:
    """Where to end a part that starts ``window`` (at most ``limit`` characters in)."""
    for pattern in (_SENTENCE_END, _CLAUSE_END):
        ends = [m.end() for m in pattern.finditer(window) if m.end() <= limit]
        if ends and ends[-1] >= limit // 4:
            return ends[-1]
    space = window.rfind(" ", 0, limit + 1)
    return space + 1 if space > 0 else limit
