"""What the Telegram channel needs to start."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    token: str
    base_url: str | None = None  # e.g. http://127.0.0.1:8081/bot (the token is appended)
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str | None = None
    pool_size: int = 64
    max_rate: float = 30.0  # messages per second in all, Telegram's documented limit

    def __repr__(self) -> str:  # never print the token or the secret
        return f"TelegramSettings(base_url={self.base_url!r}, webhook_url={self.webhook_url!r})"
