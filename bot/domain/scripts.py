"""Which Unicode script a text is written in (pure; ranges from the Unicode Scripts data)."""

from __future__ import annotations

import bisect
import unicodedata
from collections import Counter

# (first, last, script) for the letters we tell apart; everything else is ignored.
_RANGES: tuple[tuple[int, int, str], ...] = tuple(
    sorted(
        (
            (0x0041, 0x005A, "Latin"),
            (0x0061, 0x007A, "Latin"),
            (0x00C0, 0x024F, "Latin"),
            (0x1E00, 0x1EFF, "Latin"),
            (0x0370, 0x03FF, "Greek"),
            (0x0400, 0x052F, "Cyrillic"),
            (0x0530, 0x058F, "Armenian"),
            (0x0590, 0x05FF, "Hebrew"),
            (0x0600, 0x06FF, "Arabic"),
            (0x0750, 0x077F, "Arabic"),
            (0x0900, 0x097F, "Devanagari"),
            (0x0980, 0x09FF, "Bengali"),
            (0x0A00, 0x0A7F, "Gurmukhi"),
            (0x0A80, 0x0AFF, "Gujarati"),
            (0x0B00, 0x0B7F, "Oriya"),
            (0x0B80, 0x0BFF, "Tamil"),
            (0x0C00, 0x0C7F, "Telugu"),
            (0x0C80, 0x0CFF, "Kannada"),
            (0x0D00, 0x0D7F, "Malayalam"),
            (0x0D80, 0x0DFF, "Sinhala"),
            (0x0E00, 0x0E7F, "Thai"),
            (0x0E80, 0x0EFF, "Lao"),
            (0x0F00, 0x0FFF, "Tibetan"),
            (0x1000, 0x109F, "Myanmar"),
            (0x10A0, 0x10FF, "Georgian"),
            (0x1100, 0x11FF, "Hangul"),
            (0x1200, 0x139F, "Ethiopic"),
            (0x1780, 0x17FF, "Khmer"),
            (0x19E0, 0x19FF, "Khmer"),
            (0x3040, 0x309F, "Hiragana"),
            (0x30A0, 0x30FF, "Katakana"),
            (0x31F0, 0x31FF, "Katakana"),
            (0x3130, 0x318F, "Hangul"),
            (0x3400, 0x4DBF, "Han"),
            (0x4E00, 0x9FFF, "Han"),
            (0xA9E0, 0xA9FF, "Myanmar"),
            (0xAA60, 0xAA7F, "Myanmar"),
            (0xAC00, 0xD7AF, "Hangul"),
            (0xF900, 0xFAFF, "Han"),
            (0xFF66, 0xFF9F, "Katakana"),
            (0x20000, 0x2FA1F, "Han"),
        )
    )
)
_STARTS = [first for first, _, _ in _RANGES]


def script_of(char: str) -> str | None:
    code = ord(char)
    index = bisect.bisect_right(_STARTS, code) - 1
    if index >= 0:
        first, last, script = _RANGES[index]
        if first <= code <= last:
            return script
    return None


def script_counts(text: str) -> Counter[str]:
    """Letters and combining marks (which carry much of Thai, Lao, Khmer, Burmese) per script."""
    counts: Counter[str] = Counter()
    for char in text:
        if unicodedata.category(char)[0] in "LM":
            script = script_of(char)
            if script:
                counts[script] += 1
    return counts
