"""Word segmentation for scripts written without spaces between words (no Rasa import here).

Thai, Lao, Khmer, Burmese, Chinese and Japanese: ICU's word BreakIterator (dictionary based)
segments all of them in one call. Without ICU (the `pyicu-wheels` package), each grapheme
cluster becomes a token: worse words, but the character n-gram features still classify.
"""

from __future__ import annotations

import threading
import unicodedata
from typing import List, Tuple

import regex

_NO_SPACE_SCRIPTS = regex.compile(
    r"[\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Han}\p{Hiragana}\p{Katakana}]"
)
_GRAPHEME = regex.compile(r"\X")

try:  # pragma: no branch
    import icu

    HAVE_ICU = True
except ImportError:  # pragma: no cover - exercised only where pyicu-wheels does not install
    icu = None
    HAVE_ICU = False


def needs_segmenting(text: str) -> bool:
    return _NO_SPACE_SCRIPTS.search(text) is not None


def _is_wordlike(piece: str) -> bool:
    return any(ch.isalnum() or unicodedata.category(ch).startswith("M") for ch in piece)


class Segmenter:
    """Splits one space-free chunk into word spans (start, end). Safe to share between threads."""

    def __init__(self, use_icu: bool = True) -> None:
        self._lock = threading.Lock()
        self._breaker = None
        if use_icu and HAVE_ICU:
            self._breaker = icu.BreakIterator.createWordInstance(icu.Locale.getRoot())

    @property
    def engine(self) -> str:
        return "icu" if self._breaker is not None else "grapheme"

    def spans(self, text: str) -> List[Tuple[int, int]]:
        if self._breaker is None:
            pieces = [(m.start(), m.end()) for m in _GRAPHEME.finditer(text)]
        else:
            with self._lock:
                self._breaker.setText(text)
                bounds = [0, *self._breaker]
            # ICU counts UTF-16 code units; map them to Python string indices.
            bounds = _utf16_to_index(text, bounds)
            pieces = list(zip(bounds, bounds[1:]))
        return [(a, b) for a, b in pieces if _is_wordlike(text[a:b])]


def _utf16_to_index(text: str, bounds: List[int]) -> List[int]:
    if all(ord(ch) < 0x10000 for ch in text):
        return bounds
    mapping = {}
    units = 0
    for index, ch in enumerate(text):
        mapping[units] = index
        units += 2 if ord(ch) >= 0x10000 else 1
    mapping[units] = len(text)
    return [mapping[b] for b in bounds]
