"""Settings, read once from the environment (and an optional .env file) in __main__."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.adapters.telegram.settings import TelegramSettings
from bot.adapters.telegram.staff_settings import StaffSettings
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every setting the bot reads. Documented in README.md ("Configuration")."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    data_dir: Path = Field(default=ROOT / "data")
    database_url: str = ""  # default: SQLite in data_dir
    data_keys: SecretStr = SecretStr("")  # Fernet keys, comma-separated, newest first
    lookup_key: SecretStr = SecretStr("")  # HMAC key to find people by channel id
    retention_days: int = Field(default=90, ge=1)
    org_name: str = "a non-profit helpline"
    default_language: str = "en"
    flows_dir: Path = Field(default=ROOT / "flows")
    locales_dir: Path = Field(default=ROOT / "locales")
    telegram_token: SecretStr = SecretStr("")
    telegram_api_base_url: str = ""  # a self-hosted Bot API server, as PTB's base_url
    telegram_webhook_url: str = ""  # set: webhook mode; empty: long polling
    telegram_webhook_listen: str = "127.0.0.1:8443"
    telegram_webhook_secret: SecretStr = SecretStr("")
    telegram_max_rate: float = Field(default=30.0, gt=0)  # messages per second in all
    staff_groups: str = ""  # e.g. default=-1001234567890,th=-1009876543210
    staff_admins: str = ""  # Telegram user ids with the admin role from the start
    staff_escalate_minutes: float = Field(default=5.0, gt=0)
    staff_note_prefix: str = "//"
    log_level: str = "INFO"
    # The Rasa NLU server (nlu/): loopback only, shared token; the keyword fallback answers
    # whenever it is slower than nlu_timeout seconds, down or still starting.
    nlu_dir: Path = Field(default=ROOT / "nlu")
    nlu_url: str = "http://127.0.0.1:5005"
    nlu_token: SecretStr = SecretStr("")
    nlu_timeout: float = Field(default=0.5, gt=0, le=10)
    nlu_workers: int = Field(default=2, ge=1, le=16)  # Rasa server processes (~0.7 GB each)

    # Referral delivery (python -m bot deliver) and the partners' callback endpoint
    # (python -m bot partner-api). Webhook secrets are read from the variables that the
    # directory names in secret_env, never from these settings.
    smtp_host: str = ""  # empty: no e-mail channel (e-mail referrals fail at their deadline)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_from: str = ""
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"
    partner_api_listen: str = "127.0.0.1:8081"
    delivery_batch: int = Field(default=10, ge=1, le=500)
    delivery_lease_seconds: float = Field(default=120.0, gt=0)
    delivery_backoff_base_seconds: float = Field(default=5.0, gt=0)
    delivery_backoff_max_seconds: float = Field(default=1800.0, gt=0)
    delivery_deadline_hours: float = Field(default=24.0, gt=0)
    delivery_poll_seconds: float = Field(default=2.0, gt=0)
    delivery_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    referral_answer_hours: float = Field(default=72.0, gt=0)  # partner's time to answer

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if not value or not value.replace("_", "").isalpha():
            raise ValueError("use a language code like en or th")
        return value

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'bot.sqlite3'}"

    def keys(self) -> list[str]:
        keys = [k.strip() for k in self.data_keys.get_secret_value().split(",") if k.strip()]
        if not keys:
            raise ConfigError(
                "DATA_KEYS is not set: run `python -m bot keys >> .env` once, "
                "or set DATA_KEYS and LOOKUP_KEY in the environment"
            )
        return keys

    def lookup_secret(self) -> bytes:
        secret = self.lookup_key.get_secret_value()
        if len(secret) < 32:
            raise ConfigError(
                "LOOKUP_KEY is missing or shorter than 32 characters: run "
                "`python -m bot keys >> .env` once"
            )
        return secret.encode()


def telegram_settings(settings: Settings) -> TelegramSettings:
    """The Telegram part of the settings, checked: one clear line for what is wrong."""
    token = settings.telegram_token.get_secret_value()
    if not re.fullmatch(r"\d+:[\w-]{20,}", token):
        raise ConfigError("TELEGRAM_TOKEN does not look like a bot token (123456:ABC...)")
    secret = settings.telegram_webhook_secret.get_secret_value()
    host, _, port = settings.telegram_webhook_listen.rpartition(":")
    if settings.telegram_webhook_url:
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret):
            raise ConfigError(
                "TELEGRAM_WEBHOOK_SECRET must be set in webhook mode: 16 to 256 "
                "letters, digits, _ or -"
            )
        if not host or not port.isdigit():
            raise ConfigError("TELEGRAM_WEBHOOK_LISTEN must look like 127.0.0.1:8443")
    base_url = settings.telegram_api_base_url or None
    if base_url and not re.match(r"https?://", base_url):
        raise ConfigError("TELEGRAM_API_BASE_URL must start with http:// or https://")
    return TelegramSettings(
        token=token,
        base_url=base_url,
        webhook_url=settings.telegram_webhook_url or None,
        webhook_listen=host or "127.0.0.1",
        webhook_port=int(port) if port.isdigit() else 8443,
        webhook_secret=secret or None,
        max_rate=settings.telegram_max_rate,
    )


def staff_settings(settings: Settings) -> StaffSettings | None:
    """STAFF_GROUPS and STAFF_ADMINS, checked; None when no staff group is configured."""
    if not settings.staff_groups.strip():
        return None
    groups: dict[str, int] = {}
    for part in settings.staff_groups.split(","):
        key, _, value = part.strip().partition("=")
        if not key or not re.fullmatch(r"-100\d{5,}", value.strip()):
            raise ConfigError(
                f"STAFF_GROUPS: {part.strip()!r} should look like "
                "default=-1001234567890 (a language or team = a supergroup id)"
            )
        groups[key.strip()] = int(value)
    admins = []
    for part in filter(None, (p.strip() for p in settings.staff_admins.split(","))):
        if not part.isdigit():
            raise ConfigError(f"STAFF_ADMINS: {part!r} is not a Telegram user id")
        admins.append(int(part))
    return StaffSettings(
        groups=groups,
        admins=tuple(admins),
        escalate_after=timedelta(minutes=settings.staff_escalate_minutes),
        note_prefix=settings.staff_note_prefix,
    )


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "a setting"
        raise ConfigError(f"{name}: {first['msg']}") from None


def partner_secrets(env_file: Path = Path(".env")) -> Callable[[str], str | None]:
    """Look up partners' secrets by the variable names the directory gives (secret_env):
    the environment first, then the .env file, as for the other settings. Read once, here."""
    from_file = {k: v for k, v in dotenv_values(env_file).items() if v} if env_file.exists() else {}
    from_env = dict(os.environ)

    def lookup(name: str) -> str | None:
        return from_env.get(name) or from_file.get(name) or None

    return lookup
