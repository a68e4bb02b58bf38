"""Referral delivery: N consented referrals queued at once, delivered by 1 or 2 workers to a
local webhook receiver that checks every signature.

Prints referrals delivered per second (all queued before the workers start), for SQLite and
PostgreSQL, with how many were sent twice or badly signed, plus the cost of the consent turn
itself (building, checking and storing the packet and its outbox rows under the person's lock).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.adapters.crypto import Cipher
from bot.adapters.db.engine import make_engine
from bot.adapters.db.migrate import upgrade_database
from bot.adapters.db.referrals import ReferralStore, new_referral_id
from bot.adapters.db.store import SqlStore
from bot.adapters.delivery.webhook import WebhookChannel
from bot.domain.directory import ChannelType, ReferralChannel
from bot.domain.model import Assessment, Outcome, Profile
from bot.domain.referral import Consent, build_packet
from bot.domain.referral_lifecycle import NewReferral, ReferralScope
from bot.services.delivery import DeliveryOptions, DeliveryWorker
from tests.bench.machine import describe
from tests.fakes.partner_receiver import PartnerReceiver
from tests.support import TEST_DATA_KEYS, TEST_LOOKUP_KEY, database_url, partner_service

SECRET_ENV, SECRET = "BENCH_PARTNER_SECRET", "bench-partner-secret-0123456789abcdef"
ASSESSMENT = Assessment(
    Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY,
    "R2",
    ("rec_job_nature_deception", "dur_illicit_activity", "pen_documents_retained"),
    ("non_punishment_relevant",),
    Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY,
    False,
)


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(backend: str, referrals: int, workers: int) -> str:
    receiver = PartnerReceiver(SECRET).start()
    service = partner_service(ReferralChannel(ChannelType.WEBHOOK, receiver.url, SECRET_ENV))
    with tempfile.TemporaryDirectory() as tmp, database_url(backend, Path(tmp)) as url:
        upgrade_database(url)
        store = SqlStore(make_engine(url), Cipher([TEST_DATA_KEYS]), TEST_LOOKUP_KEY.encode())
        store_referrals = ReferralStore(store)
        clock = WallClock()
        consent_turns: list[float] = []
        for i in range(referrals):
            started = time.perf_counter()
            now = clock.now()
            with store.unit("bench", f"person-{i}", now) as unit:
                conversation = unit.start_conversation("screening", "safe_now", now)
                rid = new_referral_id()
                packet = build_packet(
                    referral_id=rid,
                    service=service,
                    assessment=ASSESSMENT,
                    profile=Profile(nationality="MM", country="TH", language="my"),
                    consent=Consent(ReferralScope.WITH_CONTACT, now, "person"),
                    contact_handle="@bench_person",
                    summary="Screening result: likely trafficking into forced criminality.",
                    summary_language="en",
                    created_at=now,
                )
                unit.create_referral(
                    NewReferral(
                        rid,
                        unit.person.id,
                        conversation.id,
                        service,
                        packet,
                        ReferralScope.WITH_CONTACT,
                        "person",
                        timedelta(hours=48),
                    ),
                    now,
                    timedelta(hours=24),
                )
            consent_turns.append(time.perf_counter() - started)

        pool = [
            DeliveryWorker(
                store_referrals,
                {ChannelType.WEBHOOK: WebhookChannel({SECRET_ENV: SECRET}.get, timeout=5.0)},
                clock,
                DeliveryOptions(batch=20),
            )
            for _ in range(workers)
        ]

        def drain(worker: DeliveryWorker) -> None:
            idle = 0
            while idle < 3:  # a few empty passes: the other worker holds the rest
                idle = idle + 1 if worker.run_once().claimed == 0 else 0

        started = time.perf_counter()
        threads = [threading.Thread(target=drain, args=(w,)) for w in pool]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        elapsed = time.perf_counter() - started
        for worker in pool:
            worker.close()
        receiver.stop()
        store.engine.dispose()
        bad = sum(1 for r in receiver.requests if not r.signature_ok)
        duplicates = len(receiver.requests) - len(receiver.processed)
        return (
            f"{backend:8} {workers} worker(s): {len(receiver.processed)}/{referrals} delivered in "
            f"{elapsed:.2f} s = {len(receiver.processed) / elapsed:.0f} referrals/s; "
            f"bad signatures {bad}, sent twice {duplicates}; "
            f"consent turn p50 {statistics.median(consent_turns) * 1000:.1f} ms, "
            f"p99 {_pct(consent_turns, 0.99) * 1000:.1f} ms"
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench delivery")
    parser.add_argument("--referrals", type=int, default=500)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args(argv)
    print(f"delivery benchmark on {describe()}")
    for backend in args.backends.split(","):
        for workers in (1, 2):
            print(run(backend, args.referrals, workers), flush=True)
    return 0
