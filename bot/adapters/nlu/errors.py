"""The NLU's errors, under the bot's one base class."""

from __future__ import annotations

from bot.errors import BotError, ConfigError


class LexiconError(ConfigError):
    """Files in nlu/lexicon/ are invalid. Carries every problem found, each naming its file."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class NluUnavailable(BotError):
    """The Rasa server did not answer usefully in time (down, slow, refused, circuit open)."""


class RasaRuntimeError(BotError):
    """Setting up, training or starting the Rasa server failed."""
