"""One exception tree for the whole bot."""

from __future__ import annotations


class BotError(Exception):
    """Base class of every error the bot raises on purpose."""


class ConfigError(BotError):
    """The configuration (environment or data files) is unusable."""


class FlowDataError(ConfigError):
    """Files in flows/ are invalid. Carries every problem found, each naming its file."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class InputError(BotError):
    """A caller gave input the core cannot use (unknown indicator, wrong type)."""
