"""Ports: what the services need from the outside world, as Protocols and plain records.

Adapters implement them (bot/adapters/...); tests use the real adapters on SQLite/PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot.domain.engine import Answered
from bot.domain.model import Assessment
from bot.domain.referral_lifecycle import NewReferral, Referral

EventValue = str | int | bool | None


class ConversationStatus(StrEnum):
    ACTIVE = "active"  # the interview is running (or waiting at an end step)
    CLOSED = "closed"  # restarted, or ended by the person; kept for staff until retention


@dataclass(slots=True)
class PersonRecord:
    id: str  # random, never derived from the channel's user id
    language: str | None
    language_explicit: bool  # the person chose it: detection never overrides it
    created_at: datetime
    referral_news: bool = False  # a partner answered (or did not) since they were last told


@dataclass(slots=True)
class ConversationRecord:
    """One interview. `answers` are the current (not retracted) answers, in order."""

    id: str
    person_id: str
    flow_id: str
    status: ConversationStatus
    step: str
    answers: tuple[Answered, ...]
    version: int  # bumped on every save; a stale save raises StaleConversation
    created_at: datetime
    updated_at: datetime
    # Small, non-personal state the service keeps between messages, e.g. {"safe_mode": True,
    # "pending": "forget", "needs_person": True}. Never free text or contact details.
    state: dict[str, EventValue] = field(default_factory=dict)


class StaleConversation(Exception):
    """Another worker saved the conversation first (optimistic version check failed)."""


class StoreUnavailable(Exception):
    """The database cannot be reached or stayed locked beyond the timeout."""


class Unit(Protocol):
    """One transaction for one person, holding that person's lock until it ends.

    Everything written through a Unit is committed together when the `with` block ends
    without an exception, and rolled back otherwise. The service commits before it replies.
    """

    person: PersonRecord

    def active_conversation(self) -> ConversationRecord | None: ...

    def start_conversation(self, flow_id: str, step: str, now: datetime) -> ConversationRecord: ...

    def save_conversation(self, conversation: ConversationRecord, now: datetime) -> None:
        """Persist step, status and state; bump version; raise StaleConversation if stale."""

    def add_answer(self, conversation_id: str, answer: Answered, now: datetime) -> None: ...

    def retract_last_answer(self, conversation_id: str, now: datetime) -> None:
        """Mark the newest current answer as retracted (kept, with its time, for the audit)."""

    def add_text(self, conversation_id: str, kind: str, text: str, now: datetime) -> None:
        """Store something the person typed (encrypted at rest). kind: 'free_text', 'contact'."""

    def add_assessment(
        self, conversation_id: str, assessment: Assessment, now: datetime
    ) -> None: ...

    def add_event(
        self,
        conversation_id: str | None,
        kind: str,
        now: datetime,
        data: Mapping[str, EventValue] | None = None,
        actor: str = "bot",
    ) -> None:
        """Append to the case timeline. `data` carries ids and labels, never personal data."""

    def set_language(self, language: str, explicit: bool) -> None: ...

    def forget_person(self, now: datetime) -> None:
        """Delete the person and everything linked, keeping only anonymous daily counts."""

    def referrals(self) -> list[Referral]:
        """This person's referrals, newest first."""

    def referral_packet(self, referral_id: str) -> dict[str, Any] | None:
        """The packet of one of this person's referrals; None once withdrawn."""

    def create_referral(self, new: NewReferral, now: datetime, delivery_deadline: timedelta) -> str:
        """Record a consented referral and queue its delivery, in this transaction."""

    def withdraw_referral(
        self, referral_id: str, now: datetime, delivery_deadline: timedelta
    ) -> bool:
        """Withdraw one of this person's referrals (partners that may have it are told)."""

    def set_person_told(self, referral_id: str, news: str) -> None:
        """Remember that the person was told this news about the referral."""

    def clear_referral_news(self) -> None:
        """Everything partners answered has been told (PersonRecord.referral_news)."""


class Store(Protocol):
    def unit(self, channel: str, user_ref: str, now: datetime) -> AbstractContextManager[Unit]:
        """Open a transaction for the person behind (channel, user_ref), creating them if new,
        and lock them so that two messages of one person are never processed at once."""

    def purge_older_than(self, cutoff: datetime) -> int:
        """Delete conversations whose last activity is before cutoff; return how many."""

    def scrub(self) -> None:
        """Make deleted data unreadable on disk, as far as the database allows."""


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Detection:
    """What language a text is in, by the detection policy."""

    language: str | None  # ISO 639-1 (zh for Chinese), or None when unsure
    confidence: float
    script: str | None  # the dominant script, e.g. "Thai", "Latin"
    variant: str | None = None  # "Hans" or "Hant" for Chinese


class LanguageDetector(Protocol):
    def detect(self, text: str, prior: str | None = None) -> Detection: ...

    def normalize(self, text: str) -> str:
        """NFC, and Burmese in the Zawgyi encoding converted to Unicode."""


class Translator(Protocol):
    """Renders message keys in a language; the service uses it to understand typed labels."""

    def text(self, language: str, key: str) -> str: ...

    def languages(self) -> Mapping[str, str]:
        """Languages with a catalog: code -> the language's name in its own script."""

    def supports(self, language: str) -> bool: ...

    def format(self, language: str, key: str, params: Mapping[str, str | int]) -> str:
        """A message with its parameters filled in."""

    def country_name(self, language: str, code: str) -> str:
        """A country's name (ISO 3166-1 alpha-2) in the language."""

    def language_name(self, language: str, code: str) -> str:
        """A language's name (a locale code such as "my" or "zh_Hant") in the language."""


# -- understanding free text (NLU) -------------------------------------------------------------


class Intent(StrEnum):
    """What a typed message asks for (nlu/README.md). The NLU reports exactly one of these."""

    GREET = "greet"
    ASK_HELP = "ask_help"
    EMERGENCY = "emergency"  # danger now: goes straight to a person
    WANT_HUMAN = "want_human"
    WANT_GO_HOME = "want_go_home"
    REPORT_SCAM_LOSS = "report_scam_loss"
    JOB_OFFER_CHECK = "job_offer_check"
    DESCRIBE_SITUATION = "describe_situation"
    AFFIRM = "affirm"
    DENY = "deny"
    DONT_KNOW = "dont_know"
    OUT_OF_SCOPE = "out_of_scope"


class NluEngine(StrEnum):
    RASA = "rasa"  # the Rasa server answered in time
    KEYWORD = "keyword"  # the in-process keyword fallback (Rasa down, slow or tripped)


@dataclass(frozen=True, slots=True)
class NluResult:
    """What a typed message means.

    `indicators` are catalogue ids (flows/indicators.yaml), sorted, found by lexicon phrases
    that were not negated: they are SUGGESTIONS that the bot confirms with the indicator's
    question before a rule may use them. `urgent` is True when an urgent phrase matched; the
    intent is then always EMERGENCY, whatever the classifier said, and the person goes
    straight to staff. `confidence` is the classifier's (Rasa's softmax, or the keyword
    fallback's heuristic score in [0, 1]); 1.0 when an urgent phrase decided.
    """

    intent: Intent
    confidence: float
    indicators: tuple[str, ...]
    engine: NluEngine
    urgent: bool = False


class Nlu(Protocol):
    def parse(self, text: str, language: str | None) -> NluResult:
        """Understand one message. Never raises on NLU trouble and never blocks for longer
        than the configured timeout: it falls back to the keyword classifier.
        `language`: an ISO 639-1 code, or None when unsure (every lexicon is then used)."""
