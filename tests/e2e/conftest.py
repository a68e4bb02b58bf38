from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.bootstrap import App, build
from bot.config import Settings
from tests.support import ROOT, TEST_DATA_KEYS, TEST_LOOKUP_KEY


class FixedClock:
    def __init__(self) -> None:
        self.current = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # Monday 10:00 in Bangkok

    def now(self) -> datetime:
        return self.current


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    return empty_db_url


def make_settings(url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data_dir,
        data_keys=SecretStr(TEST_DATA_KEYS),
        lookup_key=SecretStr(TEST_LOOKUP_KEY),
        org_name="Test Helpline",
        flows_dir=ROOT / "flows",
        nlu_url="",  # the keyword NLU: tests of the Rasa server are in tests/integration
        locales_dir=ROOT / "locales",
    )


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[App]:
    application = build(make_settings(db_url, tmp_path), clock=FixedClock())
    yield application
    application.store.engine.dispose()
