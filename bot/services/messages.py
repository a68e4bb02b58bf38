"""Channel-neutral messages: what a person sent, and what the bot answers (keys, not text)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

MAX_TEXT = 65_536  # characters kept of one typed message; the rest is cut and logged


class InboundKind(StrEnum):
    TEXT = "text"
    BUTTON = "button"
    COMMAND = "command"
    LOCATION = "location"
    MEDIA = "media"
    EDITED = "edited"  # the person changed a message they sent earlier
    FORWARDED = "forwarded"  # forwarded from elsewhere: kept, never taken as an answer
    CONTACT = "contact"  # a shared phone contact: kept encrypted, never shared without consent


class Command(StrEnum):
    START = "start"
    HELP = "help"
    LANGUAGE = "language"
    RESTART = "restart"
    HUMAN = "human"
    EXIT = "exit"
    FORGET = "forget"
    BACK = "back"
    REFERRALS = "referrals"


@dataclass(frozen=True, slots=True)
class Inbound:
    channel: str  # "terminal", "telegram", ...
    user_ref: str  # the channel's id for the person; never logged, stored only encrypted
    kind: InboundKind
    text: str = ""  # typed text, or the command name for COMMAND
    button: str = ""  # the payload of a pressed option
    media: str = ""  # photo, voice, sticker, document, video, ...
    country: str | None = None  # for LOCATION: the country, looked up by the channel
    language_hint: str | None = None  # e.g. Telegram's language_code
    handle: str | None = None  # a public handle (Telegram @username): shared only by consent


@dataclass(frozen=True, slots=True)
class Text:
    key: str
    params: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Choice:
    payload: str  # sent back as Inbound.button when pressed
    key: str  # message key of the label
    label: str | None = None  # a literal label instead (language names in their own script)


@dataclass(frozen=True, slots=True)
class Reply:
    parts: tuple[Text, ...]  # shown as one message, one part per line
    choices: tuple[Choice, ...] = ()
    protect: bool = False  # shows an outcome or a referral: channels should prevent forwarding


@dataclass(frozen=True, slots=True)
class Outbound:
    language: str
    replies: tuple[Reply, ...]
    always: tuple[Choice, ...] = ()  # offered with every question: a person, back, exit
    quick_exit: bool = False  # the channel must erase the chat as far as it can
    conversation_id: str | None = None
    person_id: str | None = None
    handover: str | None = None  # why a person from staff is needed now (opens a case)
    relay: bool = False  # a member of staff owns the conversation: pass the message on


def say(key: str, **params: str | int) -> Reply:
    return Reply(parts=(Text(key, params),))
