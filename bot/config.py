"""Settings, read once from the environment (and an optional .env file) in __main__."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    log_level: str = "INFO"

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


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "a setting"
        raise ConfigError(f"{name}: {first['msg']}") from None
