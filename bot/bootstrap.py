"""Composition root: builds the real adapters from settings. Nothing connects at import."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.adapters.crypto import Cipher
from bot.adapters.db.engine import make_engine
from bot.adapters.db.migrate import upgrade_database
from bot.adapters.db.store import SqlStore
from bot.adapters.i18n import BabelTranslator
from bot.adapters.langid import LanguageDetector
from bot.adapters.nlu.nlu import build_nlu
from bot.config import Settings
from bot.flowdata.load import FlowData, load_flow_data
from bot.ports import Clock
from bot.services.conversation import ConversationService, ServiceOptions

log = logging.getLogger(__name__)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class App:
    settings: Settings
    data: FlowData
    store: SqlStore
    translator: BabelTranslator
    service: ConversationService
    clock: Clock


def build(settings: Settings, clock: Clock | None = None) -> App:
    """Validate flows, open and migrate the database, and wire the service."""
    data = load_flow_data(settings.flows_dir)
    cipher = Cipher(settings.keys())
    secret = settings.lookup_secret()
    url = settings.sqlalchemy_url
    upgrade_database(url)
    store = SqlStore(make_engine(url), cipher, secret)
    translator = BabelTranslator(data.catalog, settings.locales_dir)
    clock = clock or SystemClock()
    options = ServiceOptions(
        org_name=settings.org_name,
        retention_days=settings.retention_days,
        default_language=settings.default_language,
    )
    detector = LanguageDetector()
    nlu = build_nlu(
        settings.nlu_dir,
        settings.flows_dir,
        detector,
        settings.nlu_url or None,
        settings.nlu_token.get_secret_value(),
        settings.nlu_timeout,
    )
    service = ConversationService(data, store, clock, translator, detector, options, nlu=nlu)
    return App(settings, data, store, translator, service, clock)


def purge_expired(app: App) -> int:
    cutoff = app.clock.now() - timedelta(days=app.settings.retention_days)
    removed = app.store.purge_older_than(cutoff)
    log.info(
        "retention: removed %d conversation(s) older than %d days",
        removed,
        app.settings.retention_days,
    )
    return removed


def start_retention_job(app: App, every: timedelta = timedelta(hours=6)) -> threading.Event:
    """Purge now and then periodically in a daemon thread; set the returned event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                purge_expired(app)
            except Exception:
                log.exception("retention job failed; it will run again")
            if stop.wait(every.total_seconds()):
                return

    threading.Thread(target=loop, name="retention", daemon=True).start()
    return stop
