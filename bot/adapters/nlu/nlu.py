"""The bot's NLU (the `Nlu` port): Rasa for the intent when it answers in time, the keyword
fallback otherwise; indicators and urgent phrases always from the lexicons, in process.

Safety decisions:
- an urgent phrase (any language's: a person may type "SOS" or "help now" in whatever
  language) forces the intent to emergency, whatever the classifier said;
- indicators are suggestions (the service confirms each with its question);
- nothing here logs the text, only intents, engines and counts.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from bot.adapters.nlu import keyword
from bot.adapters.nlu.errors import NluUnavailable
from bot.adapters.nlu.lexicon import (
    Lexicon,
    Lexicons,
    catalogue_ids,
    find_indicators,
    is_urgent,
)
from bot.adapters.nlu.lexicon import load_lexicons as _load_lexicons
from bot.adapters.nlu.rasa_http import RasaHttpClient
from bot.ports import Intent, LanguageDetector, NluEngine, NluResult

log = logging.getLogger(__name__)

_COMMAND = re.compile(r"^\s*/\w+(@\w+)?\s*")


class TextNlu:
    """Implements bot.ports.Nlu. `rasa` None: keyword fallback only (tests, no server)."""

    def __init__(
        self,
        lexicons: Lexicons,
        detector: LanguageDetector,
        rasa: RasaHttpClient | None = None,
    ) -> None:
        self.lexicons = lexicons
        self._detector = detector
        self._rasa = rasa

    def normalize(self, text: str) -> str:
        """NFC, Zawgyi Burmese to Unicode, a leading bot command (/start, /help@bot) removed."""
        return _COMMAND.sub("", self._detector.normalize(text)).strip()

    def parse(self, text: str, language: str | None) -> NluResult:
        clean = self.normalize(text)
        own = self.lexicons.for_language(language)
        indicators = find_indicators(clean, own)
        urgent = is_urgent(clean, self.lexicons.all())
        intent, confidence, engine = self._classify(clean, own, indicators)
        if urgent:
            intent, confidence = Intent.EMERGENCY, 1.0
        log.debug(
            "nlu: %s %.2f via %s, %d indicator(s), urgent=%s",
            intent,
            confidence,
            engine,
            len(indicators),
            urgent,
        )
        return NluResult(intent, round(confidence, 3), indicators, engine, urgent)

    def _classify(
        self, clean: str, own: tuple[Lexicon, ...], indicators: tuple[str, ...]
    ) -> tuple[Intent, float, NluEngine]:
        if self._rasa is not None and clean:
            try:
                answer = self._rasa.parse(clean)
            except NluUnavailable as exc:
                log.debug("nlu: Rasa unavailable (%s), keyword fallback", exc)
            else:
                return answer.intent, answer.confidence, NluEngine.RASA
        intent, confidence = keyword.classify(clean, own, indicators)
        return intent, confidence, NluEngine.KEYWORD

    def close(self) -> None:
        if self._rasa is not None:
            self._rasa.close()


def load_lexicons(nlu_dir: Path, flows_dir: Path) -> Lexicons:
    """nlu/lexicon/*.yml, validated against the indicator catalogue in flows/."""
    return _load_lexicons(nlu_dir / "lexicon", catalogue_ids(flows_dir / "indicators.yaml"))


def build_nlu(
    nlu_dir: Path,
    flows_dir: Path,
    detector: LanguageDetector,
    url: str | None,
    token: str,
    timeout: float,
) -> TextNlu:
    """The NLU as the bot uses it. `url` None: no Rasa server, the keyword fallback only."""
    rasa = RasaHttpClient(url, token, timeout) if url else None
    return TextNlu(load_lexicons(nlu_dir, flows_dir), detector, rasa)
