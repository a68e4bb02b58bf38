"""The in-process fallback classifier: the lexicons' intent keywords, scored.

Used when the Rasa server is down, slow or still starting. Crude on purpose and explainable:
each keyword found votes for its intent (longer phrases a little more), each indicator found
votes for describe_situation, and the short-answer intents (greet, affirm, deny, dont_know)
count half in a long message ("no, they took my passport" is a description, not a "no").
The confidence is a heuristic in [0, 1], not a probability.
"""

from __future__ import annotations

from collections import defaultdict

from bot.adapters.nlu.lexicon import Lexicon, fold
from bot.domain.scripts import script_of
from bot.ports import Intent

SHORT_ANSWERS = frozenset({Intent.GREET, Intent.AFFIRM, Intent.DENY, Intent.DONT_KNOW})
LONG_WORDS = 4  # more words than this (or 4x this many letters without spaces) is "long"
# On a tie the more consequential intent wins.
PRIORITY = (
    Intent.EMERGENCY,
    Intent.WANT_HUMAN,
    Intent.WANT_GO_HOME,
    Intent.DESCRIBE_SITUATION,
    Intent.REPORT_SCAM_LOSS,
    Intent.JOB_OFFER_CHECK,
    Intent.ASK_HELP,
    Intent.DONT_KNOW,
    Intent.DENY,
    Intent.AFFIRM,
    Intent.GREET,
    Intent.OUT_OF_SCOPE,
)
_RANK = {intent: rank for rank, intent in enumerate(PRIORITY)}


def is_long(folded: str) -> bool:
    words = folded.split()
    spaceless = sum(1 for ch in folded if script_of(ch) in ("Thai", "Lao", "Khmer", "Myanmar"))
    cjk = sum(1 for ch in folded if script_of(ch) in ("Han", "Hiragana", "Katakana"))
    return len(words) > LONG_WORDS or spaceless > 4 * LONG_WORDS or cjk > 2 * LONG_WORDS


def classify(
    text: str, lexicons: tuple[Lexicon, ...], indicators: tuple[str, ...] = ()
) -> tuple[Intent, float]:
    """The most likely intent of `text` by keywords, and a heuristic confidence."""
    folded = fold(text)
    scores: dict[Intent, float] = defaultdict(float)
    for lexicon in lexicons:
        for intent, phrases in lexicon.intents.items():
            for phrase in phrases:
                if phrase.found_in(folded):
                    scores[intent] += 1.0 + min(len(phrase.text), 12) / 12
    if indicators:
        scores[Intent.DESCRIBE_SITUATION] += 1.5 * len(indicators)
    if is_long(folded):
        for intent in SHORT_ANSWERS & scores.keys():
            scores[intent] *= 0.5
    if not scores:
        return Intent.OUT_OF_SCOPE, 0.0
    best = min(scores, key=lambda i: (-scores[i], _RANK[i]))
    share = scores[best] / sum(scores.values())
    strength = min(0.9, 0.4 + 0.25 * scores[best])
    return best, round(share * strength, 3)
