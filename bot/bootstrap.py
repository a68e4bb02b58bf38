"""Composition root: builds the real adapters from settings. Nothing connects at import."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.adapters.crypto import Cipher
from bot.adapters.db.engine import make_engine
from bot.adapters.db.migrate import upgrade_database
from bot.adapters.db.referrals import ReferralStore
from bot.adapters.db.store import SqlStore
from bot.adapters.delivery.email import EmailChannel
from bot.adapters.delivery.telegram import TelegramPartnerChannel
from bot.adapters.delivery.webhook import WebhookChannel
from bot.adapters.i18n import BabelTranslator
from bot.adapters.langid import LanguageDetector
from bot.adapters.nlu.nlu import build_nlu
from bot.config import Settings, partner_secrets
from bot.domain.directory import ChannelType
from bot.errors import ConfigError
from bot.flowdata.load import FlowData, load_flow_data
from bot.ports import Clock
from bot.services.conversation import ConversationService, ServiceOptions
from bot.services.delivery import DeliveryChannel, DeliveryOptions, DeliveryWorker, StaffAlert
from bot.services.partner_answers import FallbackHook, PartnerAnswers

if TYPE_CHECKING:
    from fastapi import FastAPI

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
        referral_answer_hours=settings.referral_answer_hours,
        delivery_deadline_hours=settings.delivery_deadline_hours,
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


# -- referral delivery ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryApp:
    settings: Settings
    store: SqlStore
    referrals: ReferralStore
    answers: PartnerAnswers
    worker: DeliveryWorker


def delivery_options(settings: Settings) -> DeliveryOptions:
    return DeliveryOptions(
        batch=settings.delivery_batch,
        lease=timedelta(seconds=settings.delivery_lease_seconds),
        backoff_base=settings.delivery_backoff_base_seconds,
        backoff_max=settings.delivery_backoff_max_seconds,
        poll_interval=settings.delivery_poll_seconds,
    )


def delivery_channels(
    settings: Settings, secrets: Callable[[str], str | None]
) -> dict[ChannelType, DeliveryChannel]:
    """The channels that are configured: webhooks always, Telegram with TELEGRAM_TOKEN,
    e-mail with SMTP_HOST and SMTP_FROM. Rows for a missing channel fail at their deadline."""
    timeout = settings.delivery_timeout_seconds
    channels: dict[ChannelType, DeliveryChannel] = {
        ChannelType.WEBHOOK: WebhookChannel(secrets, timeout=timeout)
    }
    token = settings.telegram_token.get_secret_value()
    if token:
        channels[ChannelType.TELEGRAM] = TelegramPartnerChannel(
            token, base_url=settings.telegram_api_base_url or None, timeout=timeout
        )
    if settings.smtp_host:
        if not settings.smtp_from:
            raise ConfigError("SMTP_FROM must be set with SMTP_HOST, e.g. referrals@example.org")
        channels[ChannelType.EMAIL] = EmailChannel(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            username=settings.smtp_user,
            password=settings.smtp_password.get_secret_value(),
            tls=settings.smtp_tls,
            timeout=timeout,
        )
    return channels


def build_delivery(
    settings: Settings,
    clock: Clock | None = None,
    *,
    secrets: Callable[[str], str | None] | None = None,
    alert: StaffAlert | None = None,
    on_rejected_or_overdue: FallbackHook | None = None,
    store: SqlStore | None = None,
) -> DeliveryApp:
    """Wire the worker and the partners' answers (on `store`, or a newly opened and migrated
    database). What partners answered reaches staff and the person through the referrals'
    news (the staff desk polls it; the person hears it when they next write); the hooks only
    log."""
    if store is None:
        url = settings.sqlalchemy_url
        upgrade_database(url)
        store = SqlStore(make_engine(url), Cipher(settings.keys()), settings.lookup_secret())
    clock = clock or SystemClock()
    referrals = ReferralStore(
        store, delivery_deadline=timedelta(hours=settings.delivery_deadline_hours)
    )
    answers = PartnerAnswers(referrals, clock, on_rejected_or_overdue)
    worker = DeliveryWorker(
        referrals,
        delivery_channels(settings, secrets or partner_secrets()),
        clock,
        delivery_options(settings),
        alert=alert,
        answers=answers,
    )
    return DeliveryApp(settings, store, referrals, answers, worker)


def start_delivery_worker(delivery: DeliveryApp) -> threading.Event:
    """The delivery worker in a daemon thread of this process; set the event to stop it."""
    stop = threading.Event()
    threading.Thread(target=delivery.worker.run, args=(stop,), name="delivery", daemon=True).start()
    return stop


def build_partner_api(
    settings: Settings,
    delivery: DeliveryApp | None = None,
    *,
    secrets: Callable[[str], str | None] | None = None,
) -> FastAPI:
    from bot.adapters.web.partner_api import create_app

    delivery = delivery or build_delivery(settings, secrets=secrets)
    directory = load_flow_data(settings.flows_dir).directory
    return create_app(delivery.referrals, delivery.answers, directory, secrets or partner_secrets())
