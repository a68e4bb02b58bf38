"""A fake Telegram Bot API server on 127.0.0.1 for tests, with simulated people and groups.

`FakeTelegram` runs an aiohttp server in a background thread with its own event loop, so
sync tests, async tests and bots running in other threads or processes can all use it. The
real python-telegram-bot stack talks to it over HTTP (`base_url=fake.base_url`).

What it imitates, because the bot must cope with it in production:

- Telegram's envelope: `{"ok": true, "result": ...}` and `{"ok": false, "error_code": ...,
  "description": "Bad Request: ..."}` with Telegram's own error texts; 429 with
  `parameters.retry_after`; 403 for people who blocked the bot; 404 "Not Found" for unknown
  methods; 401 "Unauthorized" for a wrong token; method names are case-insensitive.
- Parameters as Telegram reads them: JSON bodies, form fields whose non-string values are
  JSON-encoded (what PTB sends), multipart uploads and query strings.
- getUpdates long polling (offset confirms, limit, timeout, 409 while a webhook is set or when a
  newer getUpdates call takes over) and webhook delivery (secret header, retries on non-2xx,
  one update in flight per chat, at most `max_connections` in flight).
- Message formatting (HTML, MarkdownV2, Markdown) parsed into plain text and entities, with
  Telegram's "can't parse entities" errors; callback_data limited to 64 bytes.
- Deletion rules: in private chats the bot may delete its own and the person's messages while
  they are younger than 48 hours by the fake's controllable clock.
- Optional rate limits (per private chat, per group, overall) and injected failures.

Everything is recorded: every API call, every update, callback answers, chat actions, webhook
deliveries, and what each chat shows now (`fake.chat(chat_id).visible()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import mimetypes
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Literal, TypeVar, cast
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

__all__ = [
    "DEFAULT_TOKEN",
    "AnsweredCallback",
    "ApiCall",
    "CallbackQueryRecord",
    "ChatActionRecord",
    "ChatView",
    "FakeClock",
    "FakeTelegram",
    "Group",
    "Participant",
    "Person",
    "RateLimits",
    "VisibleMessage",
    "WebhookDelivery",
    "iter_updates_of",
]

JSON = dict[str, Any]
T = TypeVar("T")
Sender = Literal["bot", "user", "service"]

_log = logging.getLogger(__name__)

DEFAULT_TOKEN: Final = "123456789:AAFakeTokenForTests_abcdefghijklmnopq"
DELETE_WINDOW_SECONDS: Final = 48 * 3600
MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_DATA_BYTES: Final = 64
DEFAULT_ALLOWED_UPDATES: Final = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
TOPIC_ICON_COLORS: Final = frozenset({7322096, 16766590, 13338331, 9367192, 16749490, 16478047})
SEND_METHODS: Final = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVoice",
        "sendVideo",
        "sendAudio",
        "sendSticker",
        "sendLocation",
        "sendContact",
        "copyMessage",
        "forwardMessage",
    }
)

# Telegram's error texts, in one place so tests can refer to them.
ERR_CHAT_NOT_FOUND: Final = "Bad Request: chat not found"
ERR_BLOCKED: Final = "Forbidden: bot was blocked by the user"
ERR_CANT_INITIATE: Final = "Forbidden: bot can't initiate conversation with a user"
ERR_DELETE_NOT_FOUND: Final = "Bad Request: message to delete not found"
ERR_CANT_DELETE_FOR_EVERYONE: Final = "Bad Request: message can't be deleted for everyone"
ERR_CANT_DELETE: Final = "Bad Request: message can't be deleted"
ERR_EDIT_NOT_FOUND: Final = "Bad Request: message to edit not found"
ERR_CANT_EDIT: Final = "Bad Request: message can't be edited"
ERR_NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
ERR_TEXT_EMPTY: Final = "Bad Request: message text is empty"
ERR_TEXT_TOO_LONG: Final = "Bad Request: message is too long"
ERR_CAPTION_TOO_LONG: Final = "Bad Request: message caption is too long"
ERR_QUERY_INVALID: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
ERR_THREAD_NOT_FOUND: Final = "Bad Request: message thread not found"
ERR_NOT_A_FORUM: Final = "Bad Request: the chat is not a forum"
ERR_BUTTON_DATA_INVALID: Final = "Bad Request: BUTTON_DATA_INVALID"
ERR_WRONG_FILE: Final = "Bad Request: wrong file identifier/HTTP URL specified"
ERR_WEBHOOK_ACTIVE: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
ERR_POLL_CONFLICT: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


class ApiError(Exception):
    """A Bot API error response: HTTP status = error_code, Telegram's description."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


class _ClientGone(Exception):
    """The client closed the connection of a pending long poll."""


def _bad(description: str) -> ApiError:
    return ApiError(400, description)


# --------------------------------------------------------------------------------------------
# Clock and rate limits
# --------------------------------------------------------------------------------------------


class FakeClock:
    """Wall-clock time plus an offset that tests move forward; used for dates and 48-hour rules.

    Real seconds still pass, so long polling and timeouts behave; `advance()` jumps ahead.
    """

    def __init__(self, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0 if start is None else start - time.time()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def timestamp(self) -> int:
        return int(self.now())

    def advance(
        self, *, seconds: float = 0, minutes: float = 0, hours: float = 0, days: float = 0
    ) -> float:
        delta = seconds + minutes * 60 + hours * 3600 + days * 86400
        if delta < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += delta
        return self.now()


@dataclass(frozen=True)
class RateLimits:
    """Sliding-window limits: at most `*_count` messages per `*_period` seconds.

    Telegram asks for about one message per second in a private chat (short bursts pass, hence
    the default of 3 in 3 s), 20 per minute in a group and 30 per second overall.
    """

    private_count: int = 3
    private_period: float = 3.0
    group_count: int = 20
    group_period: float = 60.0
    overall_count: int = 30
    overall_period: float = 1.0


class _RateLimiter:
    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._overall: deque[float] = deque()
        self._per_chat: dict[int, deque[float]] = {}

    @staticmethod
    def _wait(window: deque[float], count: int, period: float, now: float) -> float:
        while window and window[0] <= now - period:
            window.popleft()
        if len(window) < count:
            return 0.0
        return window[0] + period - now

    def retry_after(self, chat_id: int, is_group: bool) -> int:
        now = time.monotonic()
        lim = self.limits
        chat_window = self._per_chat.setdefault(chat_id, deque())
        count, period = (
            (lim.group_count, lim.group_period)
            if is_group
            else (lim.private_count, lim.private_period)
        )
        wait = max(
            self._wait(self._overall, lim.overall_count, lim.overall_period, now),
            self._wait(chat_window, count, period, now),
        )
        return max(1, math.ceil(wait)) if wait > 0 else 0

    def record(self, chat_id: int) -> None:
        now = time.monotonic()
        self._overall.append(now)
        self._per_chat.setdefault(chat_id, deque()).append(now)


# --------------------------------------------------------------------------------------------
# Message formatting: HTML, MarkdownV2 and Markdown into plain text + entities
# --------------------------------------------------------------------------------------------


class _ParseError(Exception):
    pass


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


class _Out:
    """Plain text being built, with its length in UTF-16 code units (Telegram's offsets)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.pos += _utf16_len(text)

    def text(self) -> str:
        return "".join(self.parts)


def _sorted_entities(entities: list[JSON]) -> list[JSON]:
    return sorted(
        (e for e in entities if e["length"] > 0), key=lambda e: (e["offset"], -e["length"])
    )


_HTML_TAGS: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_TAG_RE: Final = re.compile(
    r"""<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"']+))?)*)\s*>"""
)
_ATTR_RE: Final = re.compile(r"""([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")
_HTML_ENTITY_RE: Final = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);")
_HTML_NAMED: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _parse_html(text: str) -> tuple[str, list[JSON]]:
    out = _Out()
    stack: list[tuple[str, str, int, JSON]] = []
    entities: list[JSON] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            offset = _byte_offset(text, i)
            m = _TAG_RE.match(text, i)
            if m is None:
                word = re.match(r"</?([^\s>]*)", text[i:])
                name = word.group(1) if word else ""
                raise _ParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
            closing, tag, attrs = m.group(1) == "/", m.group(2).lower(), m.group(3)
            if tag not in _HTML_TAGS:
                kind = "end" if closing else "start"
                raise _ParseError(f'Unsupported {kind} tag "{tag}" at byte offset {offset}')
            if closing:
                if not stack:
                    raise _ParseError(f"Unexpected end tag at byte offset {offset}")
                open_tag, etype, start, extra = stack.pop()
                if open_tag != tag:
                    raise _ParseError(
                        f'Unmatched end tag at byte offset {offset}, expected "</{open_tag}>", '
                        f'found "</{tag}>"'
                    )
                if etype:
                    entities.append(
                        {"type": etype, "offset": start, "length": out.pos - start, **extra}
                    )
            else:
                attr = {
                    a.group(1).lower(): next((g for g in a.groups()[1:] if g is not None), "")
                    for a in _ATTR_RE.finditer(attrs)
                }
                etype, extra = _HTML_TAGS[tag], {}
                if tag == "span" and attr.get("class") != "tg-spoiler":
                    raise _ParseError(
                        f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
                    )
                if tag == "a":
                    href = attr.get("href", "")
                    if href.startswith("tg://user?id="):
                        etype = "text_mention"
                        extra = {
                            "user": {
                                "id": int(href.split("=", 1)[1] or 0),
                                "is_bot": False,
                                "first_name": "User",
                            }
                        }
                    elif href:
                        extra = {"url": href}
                    else:
                        etype = ""
                if tag == "code" and stack and stack[-1][0] == "pre":
                    lang = attr.get("class", "")
                    if lang.startswith("language-"):
                        stack[-1][3]["language"] = lang.removeprefix("language-")
                    etype = ""
                if tag == "blockquote" and "expandable" in attr:
                    etype = "expandable_blockquote"
                if tag == "tg-emoji":
                    extra = {"custom_emoji_id": attr.get("emoji-id", "")}
                stack.append((tag, etype, out.pos, extra))
            i = m.end()
        elif ch == "&":
            m = _HTML_ENTITY_RE.match(text, i)
            if m is None:
                out.add("&")
                i += 1
                continue
            name = m.group(1)
            if name.startswith(("#x", "#X")):
                out.add(chr(int(name[2:], 16)))
            elif name.startswith("#"):
                out.add(chr(int(name[1:])))
            else:
                out.add(_HTML_NAMED.get(name, m.group(0)))
            i = m.end()
        else:
            out.add(ch)
            i += 1
    if stack:
        raise _ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.text(), _sorted_entities(entities)


_MDV2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!")
_MD_NAMES: Final = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
}


def _md_literal_block(text: str, i: int, end: str) -> tuple[str, int] | None:
    """Read code/pre content from i up to the unescaped `end`; '\\' escapes anything."""
    parts: list[str] = []
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            parts.append(text[i + 1])
            i += 2
        elif text.startswith(end, i):
            return "".join(parts), i + len(end)
        else:
            parts.append(text[i])
            i += 1
    return None


def _parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    out = _Out()
    stack: list[tuple[str, int, int]] = []  # type, start (UTF-16), byte offset of the marker
    entities: list[JSON] = []
    quote_start: int | None = None
    i, n = 0, len(text)

    def toggle(etype: str) -> None:
        for k in range(len(stack) - 1, -1, -1):
            if stack[k][0] == etype:
                _, start, _ = stack.pop(k)
                entities.append({"type": etype, "offset": start, "length": out.pos - start})
                return
        stack.append((etype, out.pos, _byte_offset(text, i)))

    while i < n:
        ch = text[i]
        at_line_start = i == 0 or text[i - 1] == "\n"
        if ch == "\\" and i + 1 < n and 0 < ord(text[i + 1]) < 127:
            out.add(text[i + 1])
            i += 2
        elif ch == "\n":
            if quote_start is not None and not text.startswith(">", i + 1):
                entities.append(
                    {"type": "blockquote", "offset": quote_start, "length": out.pos - quote_start}
                )
                quote_start = None
            out.add(ch)
            i += 1
        elif ch == ">" and at_line_start:
            if quote_start is None:
                quote_start = out.pos
            i += 1
        elif ch == "`":
            is_pre = text.startswith("```", i)
            start_byte = _byte_offset(text, i)
            j = i + (3 if is_pre else 1)
            language = ""
            if is_pre:
                newline = text.find("\n", j)
                first_line = text[j:newline] if newline >= 0 else ""
                if newline >= 0 and re.fullmatch(r"[\w+#.-]*", first_line):
                    language, j = first_line, newline + 1
            block = _md_literal_block(text, j, "```" if is_pre else "`")
            if block is None:
                name = "Pre" if is_pre else "Code"
                raise _ParseError(f"Can't find end of {name} entity at byte offset {start_byte}")
            content, i = block
            entity: JSON = {"type": "pre" if is_pre else "code", "offset": out.pos}
            out.add(content)
            entity["length"] = out.pos - entity["offset"]
            if language:
                entity["language"] = language
            entities.append(entity)
        elif ch == "*":
            toggle("bold")
            i += 1
        elif ch == "_":
            if text.startswith("__", i):
                toggle("underline")
                i += 2
            else:
                toggle("italic")
                i += 1
        elif ch == "~":
            toggle("strikethrough")
            i += 1
        elif ch == "|" and text.startswith("||", i):
            toggle("spoiler")
            i += 2
        elif ch == "[":
            stack.append(("text_link", out.pos, _byte_offset(text, i)))
            i += 1
        elif ch == "]" and stack and stack[-1][0] == "text_link":
            _, start, byte = stack.pop()
            if not text.startswith("(", i + 1):
                raise _ParseError(f"Can't find end of TextUrl entity at byte offset {byte}")
            url_block = _md_literal_block(text, i + 2, ")")
            if url_block is None:
                raise _ParseError(f"Can't find end of a URL at byte offset {byte}")
            url, i = url_block
            entities.append(
                {"type": "text_link", "offset": start, "length": out.pos - start, "url": url}
            )
        elif ch in _MDV2_RESERVED:
            raise _ParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        else:
            out.add(ch)
            i += 1
    if quote_start is not None:
        entities.append(
            {"type": "blockquote", "offset": quote_start, "length": out.pos - quote_start}
        )
    if stack:
        etype, _, byte = stack[-1]
        raise _ParseError(f"Can't find end of {_MD_NAMES[etype]} entity at byte offset {byte}")
    return out.text(), _sorted_entities(entities)


def _parse_markdown(text: str) -> tuple[str, list[JSON]]:
    """Telegram's legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url), no nesting."""
    out = _Out()
    entities: list[JSON] = []
    i, n = 0, len(text)
    marks = {"*": "bold", "_": "italic"}
    while i < n:
        ch = text[i]
        byte = _byte_offset(text, i)
        error = f"Can't find end of the entity starting at byte offset {byte}"
        if ch == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
        elif ch in marks or ch == "`":
            delim = "```" if text.startswith("```", i) else ch
            end = text.find(delim, i + len(delim))
            if end < 0:
                raise _ParseError(error)
            content = text[i + len(delim) : end]
            etype = {"*": "bold", "_": "italic", "`": "code", "```": "pre"}[delim]
            start = out.pos
            out.add(content)
            entities.append({"type": etype, "offset": start, "length": out.pos - start})
            i = end + len(delim)
        elif ch == "[":
            close = text.find("](", i)
            end = text.find(")", close + 2) if close >= 0 else -1
            if close < 0 or end < 0:
                raise _ParseError(error)
            start = out.pos
            out.add(text[i + 1 : close])
            entities.append(
                {
                    "type": "text_link",
                    "offset": start,
                    "length": out.pos - start,
                    "url": text[close + 2 : end],
                }
            )
            i = end + 1
        else:
            out.add(ch)
            i += 1
    return out.text(), _sorted_entities(entities)


_PARSERS: Final[dict[str, Callable[[str], tuple[str, list[JSON]]]]] = {
    "html": _parse_html,
    "markdownv2": _parse_markdown_v2,
    "markdown": _parse_markdown,
}

_COMMAND_RE: Final = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")
_URL_RE: Final = re.compile(r"https?://[^\s<>\"']+")


def _auto_entities(text: str) -> list[JSON]:
    """The entities Telegram adds to what a person types: commands and links."""
    entities: list[JSON] = []
    for regex, etype in ((_COMMAND_RE, "bot_command"), (_URL_RE, "url")):
        for m in regex.finditer(text):
            entities.append(
                {
                    "type": etype,
                    "offset": _utf16_len(text[: m.start()]),
                    "length": _utf16_len(m.group(0)),
                }
            )
    return _sorted_entities(entities)


# --------------------------------------------------------------------------------------------
# Records returned to tests (frozen snapshots) and internal mutable state
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisibleMessage:
    """A message as a chat shows it at the time of the snapshot."""

    message_id: int
    chat_id: int
    sender: Sender
    from_id: int | None
    kind: str
    text: str | None
    entities: tuple[JSON, ...]
    reply_markup: JSON | None
    protect_content: bool
    thread_id: int | None
    date: int
    edited: bool
    deleted: bool
    forwarded: bool
    parse_mode: str | None
    raw: JSON = field(repr=False)

    @property
    def from_bot(self) -> bool:
        return self.sender == "bot"

    @property
    def buttons(self) -> list[list[str]]:
        """Labels of the inline keyboard, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[str(b.get("text", "")) for b in row] for row in rows]

    @property
    def button_labels(self) -> list[str]:
        return [label for row in self.buttons for label in row]

    def callback_data(self, label: str) -> str | None:
        for row in (self.reply_markup or {}).get("inline_keyboard", []):
            for button in row:
                if button.get("text") == label and "callback_data" in button:
                    return str(button["callback_data"])
        return None


@dataclass(frozen=True)
class ApiCall:
    method: str
    params: Mapping[str, Any]
    at: float  # fake clock
    monotonic: float
    status: int
    description: str | None
    result: Any = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class AnsweredCallback:
    query_id: str
    user_id: int
    chat_id: int | None
    message_id: int | None
    data: str | None
    text: str | None
    show_alert: bool
    url: str | None
    answered_at: float


@dataclass(frozen=True)
class CallbackQueryRecord:
    query_id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created_at: float
    answered: bool


@dataclass(frozen=True)
class ChatActionRecord:
    chat_id: int
    action: str
    thread_id: int | None
    at: float


@dataclass(frozen=True)
class WebhookDelivery:
    update_id: int
    attempt: int
    status: int | None
    error: str | None
    at: float


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    kind: str
    content: bytes
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def path(self) -> str:
        return f"{self.kind}s/{self.file_unique_id}"

    def api(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
        }


@dataclass
class _Topic:
    thread_id: int
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None = None
    closed: bool = False
    deleted: bool = False

    def api(self) -> JSON:
        data: JSON = {
            "message_thread_id": self.thread_id,
            "name": self.name,
            "icon_color": self.icon_color,
        }
        if self.icon_custom_emoji_id:
            data["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return data


@dataclass
class _Message:
    message_id: int
    chat_id: int
    sender: Sender
    from_user: JSON | None
    date: int
    kind: str
    text: str | None = None
    caption: str | None = None
    entities: list[JSON] = field(default_factory=list)
    parse_mode: str | None = None
    media: JSON = field(default_factory=dict)
    reply_markup: JSON | None = None
    protect_content: bool = False
    thread_id: int | None = None
    is_topic_message: bool = False
    edit_date: int | None = None
    forward_origin: JSON | None = None
    reply_to: int | None = None
    service: JSON = field(default_factory=dict)
    deleted: bool = False
    deleted_at: float | None = None


@dataclass
class _Chat:
    id: int
    type: str  # private | group | supergroup
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    is_forum: bool = False
    messages: dict[int, _Message] = field(default_factory=dict)
    next_message_id: int = 1
    blocked: bool = False
    started: bool = False
    bot_member: bool = True
    bot_is_admin: bool = False
    topics: dict[int, _Topic] = field(default_factory=dict)
    reply_keyboard: JSON | None = None
    members: dict[int, JSON] = field(default_factory=dict)
    actions: list[ChatActionRecord] = field(default_factory=list)
    menu_button: JSON = field(default_factory=lambda: {"type": "commands"})

    @property
    def is_group(self) -> bool:
        return self.type in {"group", "supergroup"}

    def api(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "first_name", "last_name", "username"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        if self.is_forum:
            data["is_forum"] = True
        return data


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    generation: int
    last_error_date: int | None = None
    last_error_message: str | None = None


# --------------------------------------------------------------------------------------------
# Parameter decoding
# --------------------------------------------------------------------------------------------

# Form fields PTB sends as raw strings; every other form value is JSON-encoded (PTB's
# RequestParameter.json_value), so "123" in `text` must stay a string.
_STRING_PARAMS: Final = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "url",
        "secret_token",
        "callback_query_id",
        "title",
        "name",
        "description",
        "short_description",
        "language_code",
        "action",
        "icon_custom_emoji_id",
        "photo",
        "document",
        "voice",
        "video",
        "audio",
        "sticker",
        "animation",
        "video_note",
        "thumbnail",
        "file_id",
        "emoji",
        "phone_number",
        "first_name",
        "last_name",
        "vcard",
        "ip_address",
        "business_connection_id",
        "message_effect_id",
        "inline_message_id",
        "address",
        "foursquare_id",
        "foursquare_type",
        "google_place_id",
        "google_place_type",
    }
)
_OBJECT_PARAMS: Final = frozenset(
    {
        "reply_markup",
        "scope",
        "commands",
        "allowed_updates",
        "message_ids",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "menu_button",
    }
)


@dataclass(frozen=True)
class _Upload:
    filename: str | None
    content_type: str | None
    content: bytes


def _decode_form_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _normalise_params(params: JSON) -> JSON:
    """JSON bodies may still carry objects as JSON strings (Telegram accepts both)."""
    for key in _OBJECT_PARAMS & params.keys():
        value = params[key]
        if isinstance(value, str):
            try:
                params[key] = json.loads(value)
            except ValueError as exc:
                if key == "reply_markup":
                    raise _bad(
                        "Bad Request: can't parse reply keyboard markup JSON object"
                    ) from exc
                raise _bad(f"Bad Request: can't parse {key} JSON object") from exc
    return params


def _get_int(params: Mapping[str, Any], name: str, *, error: str | None = None) -> int:
    value = params.get(name)
    if isinstance(value, bool) or value is None or value == "":
        raise _bad(error or f"Bad Request: {name} is empty")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise _bad(error or f"Bad Request: invalid {name} specified") from exc


def _opt_int(params: Mapping[str, Any], name: str) -> int | None:
    if params.get(name) in (None, ""):
        return None
    return _get_int(params, name)


def _get_bool(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.lower() in {"true", "1", "yes"}
    return bool(value)


def _opt_str(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    return None if value is None else str(value)


def _clone(value: T) -> T:
    """A deep copy of JSON-like data, several times faster than copy.deepcopy."""
    return cast(T, _clone_any(value))


def _clone_any(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone_any(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone_any(v) for v in value]
    return value


def _err_response(error: ApiError) -> web.Response:
    body: JSON = {"ok": False, "error_code": error.code, "description": error.description}
    if error.parameters:
        body["parameters"] = error.parameters
    return web.json_response(body, status=error.code, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

_Handler = Callable[[JSON, dict[str, _Upload]], Any]


class FakeTelegram:
    """A fake Bot API server on 127.0.0.1 (random port) running in its own thread."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "screening_test_bot",
        bot_first_name: str = "Screening Bot",
        clock: FakeClock | None = None,
        rate_limits: RateLimits | None = None,
        webhook_retry_delays: Sequence[float] = (0.05, 0.1, 0.2, 0.5, 1.0),
        webhook_max_attempts: int = 10,
        webhook_timeout: float = 5.0,
        callback_answer_timeout: float = 15.0,
        delete_messages_atomic: bool = True,
        privacy_mode: bool = True,
    ) -> None:
        if not re.fullmatch(r"\d+:[\w-]+", token):
            raise ValueError("token must look like a Telegram token: '<bot id>:<secret>'")
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.clock = clock or FakeClock()
        self.webhook_retry_delays = tuple(webhook_retry_delays) or (0.05,)
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_timeout = webhook_timeout
        self.callback_answer_timeout = callback_answer_timeout
        # Whether deleteMessages refuses the whole batch when one message can't be deleted
        # (what tdlib does); False deletes what it can and skips the rest.
        self.delete_messages_atomic = delete_messages_atomic
        # Telegram's default: in groups where it is not an admin, a bot sees only commands,
        # mentions of it, replies to it and service messages.
        self.privacy_mode = privacy_mode
        self.latency: float = 0.0
        self.method_latency: dict[str, float] = {}

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._limiter = _RateLimiter(rate_limits) if rate_limits else None
        self._chats: dict[int, _Chat] = {}
        self._people: dict[int, Person] = {}
        self._groups: dict[int, Group] = {}
        self._pending: list[JSON] = []
        self._update_log: list[JSON] = []
        self._next_update_id = 100_000_001
        self._allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self._calls: list[ApiCall] = []
        self._queries: dict[str, CallbackQueryRecord] = {}
        self._answers: list[AnsweredCallback] = []
        self._query_ids = itertools.count(4_000_000_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._files: dict[str, _File] = {}
        self._commands: dict[tuple[str, int | None, int | None, str], list[JSON]] = {}
        self._profile: dict[tuple[str, str], str] = {}
        self._injected: dict[str, deque[ApiError]] = {}
        self._lost: dict[str, int] = {}
        self._served_429 = 0
        self._webhook: _Webhook | None = None
        self._webhook_generation = 0
        self._deliveries: list[WebhookDelivery] = []
        self._inflight: set[int] = set()
        self._attempts: dict[int, int] = {}
        self._dropped_updates: list[JSON] = []
        self._poll_generation = 0
        self._polling = 0

        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread_id: int | None = None
        self._runner: web.AppRunner | None = None
        self._update_event = asyncio.Event()
        self._closing = False
        self._webhook_task: asyncio.Task[None] | None = None
        self.port = 0

        self._methods: dict[str, tuple[str, _Handler]] = {}
        for name, handler in self._handler_table().items():
            self._methods[name.lower()] = (name, handler)

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """For PTB's `base_url`: the token is appended, then `/methodName`."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}{self.token}"

    def start(self) -> FakeTelegram:
        if self._thread is not None:
            raise RuntimeError("the fake Telegram server is already running")
        ready = threading.Event()
        errors: list[BaseException] = []
        self._closing = False
        self._thread = threading.Thread(
            target=self._run, args=(ready, errors), name="fake-telegram", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Telegram server did not start within 10 s")
        if errors:
            self._thread.join(5)
            self._thread = None
            raise RuntimeError("the fake Telegram server failed to start") from errors[0]
        return self

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        if thread.is_alive():  # pragma: no cover - would mean a handler ignored shutdown
            raise RuntimeError("the fake Telegram server thread did not stop")
        self._thread = None
        self._loop = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FakeTelegram:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # In a thread: a webhook receiver in the caller's loop must keep running meanwhile.
        await asyncio.to_thread(self.stop)

    def _run(self, ready: threading.Event, errors: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._loop_thread_id = threading.get_ident()
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:
            errors.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _startup(self) -> None:
        self._update_event = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=2.0
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def _shutdown(self) -> None:
        with self._lock:
            self._closing = True
            self._signal()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            await asyncio.gather(self._webhook_task, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- signalling ------------------------------------------------------------------------

    def _signal(self) -> None:
        """Wake sync waiters and the server's long polls; the caller holds the lock."""
        self._cond.notify_all()
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread_id:
            self._wake()
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        event, self._update_event = self._update_event, asyncio.Event()
        event.set()

    # ---- simulated people and groups -------------------------------------------------------

    def person(
        self,
        user_id: int,
        first_name: str = "Person",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> Person:
        """A person in a private chat with the bot (chat id = user id); same handle on reuse."""
        if user_id <= 0:
            raise ValueError("user ids are positive; groups have negative chat ids")
        with self._lock:
            if user_id in self._people:
                return self._people[user_id]
            user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
            if last_name:
                user["last_name"] = last_name
            if username:
                user["username"] = username
            if language_code:
                user["language_code"] = language_code
            self._chats[user_id] = _Chat(
                id=user_id,
                type="private",
                first_name=first_name,
                last_name=last_name,
                username=username,
            )
            handle = Person(self, user, user_id)
            self._people[user_id] = handle
            return handle

    def group(
        self,
        chat_id: int,
        title: str = "Group",
        *,
        forum: bool = False,
        supergroup: bool = True,
        bot_is_admin: bool = True,
    ) -> Group:
        """A group the bot is in (a forum needs a supergroup); same handle on reuse."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative, e.g. -1001234567890")
        if forum and not supergroup:
            raise ValueError("only supergroups can be forums")
        with self._lock:
            if chat_id in self._groups:
                return self._groups[chat_id]
            self._chats[chat_id] = _Chat(
                id=chat_id,
                type="supergroup" if supergroup else "group",
                title=title,
                is_forum=forum,
                bot_is_admin=bot_is_admin,
            )
            handle = Group(self, chat_id)
            self._groups[chat_id] = handle
            return handle

    def chat(self, chat_id: int) -> ChatView:
        with self._lock:
            if chat_id not in self._chats:
                raise KeyError(f"no chat {chat_id}: create it with person() or group()")
        return ChatView(self, chat_id)

    # ---- inspection ------------------------------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[ApiCall]:
        with self._lock:
            return [c for c in self._calls if c.method.lower() == method.lower()]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    @property
    def answered_callbacks(self) -> list[AnsweredCallback]:
        with self._lock:
            return list(self._answers)

    @property
    def callback_queries(self) -> list[CallbackQueryRecord]:
        with self._lock:
            return list(self._queries.values())

    def unanswered_callbacks(self) -> list[CallbackQueryRecord]:
        return [q for q in self.callback_queries if not q.answered]

    @property
    def updates(self) -> list[JSON]:
        """Every update ever created, in order (delivered or not)."""
        with self._lock:
            return _clone(self._update_log)

    @property
    def pending_updates(self) -> list[JSON]:
        with self._lock:
            return _clone(self._pending)

    @property
    def served_429(self) -> int:
        with self._lock:
            return self._served_429

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        with self._lock:
            return list(self._deliveries)

    @property
    def webhook_url(self) -> str | None:
        with self._lock:
            return self._webhook.url if self._webhook else None

    @property
    def is_polling(self) -> bool:
        """True while a getUpdates call with a timeout is waiting for updates."""
        with self._lock:
            return self._polling > 0

    def bot_messages(self, chat_id: int) -> list[VisibleMessage]:
        return self.chat(chat_id).bot_messages()

    def commands(
        self, language_code: str | None = None, scope: str | JSON = "default"
    ) -> list[tuple[str, str]]:
        """The command list stored for exactly this scope and language (as getMyCommands)."""
        key = self._scope_key(scope if isinstance(scope, dict) else {"type": scope})
        with self._lock:
            stored = self._commands.get((*key, language_code or ""), [])
            return [(c["command"], c["description"]) for c in stored]

    def menu_for(self, chat_id: int, language_code: str | None = None) -> list[tuple[str, str]]:
        """The command menu a person in this chat sees, resolved the way Telegram does."""
        lang = language_code or ""
        with self._lock:
            chat = self._chats[chat_id]
            if chat.is_group:
                scopes = [("chat", chat_id, None), ("all_group_chats", None, None)]
            else:
                scopes = [("chat", chat_id, None), ("all_private_chats", None, None)]
            scopes.append(("default", None, None))
            for scope in scopes:
                for code in (lang, "") if lang else ("",):
                    if stored := self._commands.get((*scope, code)):
                        return [(c["command"], c["description"]) for c in stored]
        return []

    def my_description(self, language_code: str = "") -> str:
        with self._lock:
            return self._profile.get(("description", language_code), "")

    def my_short_description(self, language_code: str = "") -> str:
        with self._lock:
            return self._profile.get(("short_description", language_code), "")

    def my_name(self, language_code: str = "") -> str:
        with self._lock:
            return self._profile.get(("name", language_code), "")

    def add_file(
        self,
        kind: str = "document",
        content: bytes = b"fake file content",
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> str:
        """Register a file the bot may send by file_id (unknown ids are refused like Telegram)."""
        with self._lock:
            return self._new_file(kind, content, file_name, mime_type).file_id

    def file_content(self, file_id: str) -> bytes:
        with self._lock:
            return self._files[file_id].content

    # ---- waiting ---------------------------------------------------------------------------

    def wait_for(
        self, predicate: Callable[[], T | None], timeout: float = 5.0, message: str = ""
    ) -> T:
        """Block until predicate() is truthy (re-checked on every change); sync tests only."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("wait_for blocks the event loop; use await wait_for_async()")
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_message(message, timeout))
                self._cond.wait(min(remaining, 0.05))

    async def wait_for_async(
        self, predicate: Callable[[], T | None], timeout: float = 5.0, message: str = ""
    ) -> T:
        """Like wait_for, polling every 5 ms without blocking the caller's event loop."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(self._timeout_message(message, timeout))
            await asyncio.sleep(0.005)

    def _timeout_message(self, message: str, timeout: float) -> str:
        with self._lock:
            recent = ", ".join(f"{c.method}={c.status}" for c in self._calls[-10:]) or "none"
            pending = len(self._pending)
        what = message or "condition"
        return f"{what} not met within {timeout} s; last API calls: {recent}; pending: {pending}"

    # ---- failure injection and limits ------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        times: int = 1,
        retry_after: int = 1,
        error_code: int = 429,
        description: str | None = None,
    ) -> None:
        """Make the next `times` calls of `method` fail (default: 429 with retry_after)."""
        if error_code == 429:
            error = ApiError(
                429,
                description or f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        else:
            error = ApiError(error_code, description or "Internal Server Error")
        with self._lock:
            queue = self._injected.setdefault(method.lower(), deque())
            queue.extend([error] * times)

    def lose_response_next(self, method: str, *, times: int = 1) -> None:
        """The next `times` calls of `method` take effect, but the connection is closed before
        the answer: the client sees a network error although the message was sent."""
        with self._lock:
            self._lost[method.lower()] = self._lost.get(method.lower(), 0) + times

    def set_rate_limits(self, limits: RateLimits | None) -> None:
        with self._lock:
            self._limiter = _RateLimiter(limits) if limits else None

    # ---- updates ---------------------------------------------------------------------------

    def _enqueue(self, kind: str, payload: JSON) -> JSON | None:
        """Create an update (caller holds the lock); dropped if the bot did not ask for it."""
        if kind not in self._allowed_updates:
            return None
        update = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        self._pending.append(update)
        self._update_log.append(update)
        self._signal()
        return update

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    # ---- message storage -------------------------------------------------------------------

    def _store(
        self, chat: _Chat, sender: Sender, from_user: JSON | None, kind: str, **fields: Any
    ) -> _Message:
        message = _Message(
            message_id=chat.next_message_id,
            chat_id=chat.id,
            sender=sender,
            from_user=from_user,
            date=self.clock.timestamp(),
            kind=kind,
            **fields,
        )
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        self._signal()
        return message

    def _bot_sees(self, chat: _Chat, message: _Message) -> bool:
        """Whether Telegram would send the bot an update for a message a person wrote."""
        if not chat.is_group:
            return True
        if not chat.bot_member:
            return False
        if chat.bot_is_admin or not self.privacy_mode or message.service:
            return True
        text = message.text or message.caption or ""
        replied = chat.messages.get(message.reply_to) if message.reply_to else None
        return (
            text.startswith("/")
            or f"@{self.bot_user['username']}".lower() in text.lower()
            or (replied is not None and replied.sender == "bot")
        )

    def _message_api(self, message: _Message, *, with_reply: bool = True) -> JSON:
        # Shares nested objects with the stored state, which is only ever replaced, never
        # mutated in place; snapshots handed to tests are cloned (_visible, updates).
        chat = self._chats[message.chat_id]
        data: JSON = {"message_id": message.message_id}
        if message.from_user is not None:
            data["from"] = message.from_user
        data["chat"] = chat.api()
        data["date"] = message.date
        if message.thread_id is not None:
            data["message_thread_id"] = message.thread_id
            if message.is_topic_message:
                data["is_topic_message"] = True
        if message.forward_origin is not None:
            data["forward_origin"] = message.forward_origin
        if with_reply and message.reply_to is not None:
            target = chat.messages.get(message.reply_to)
            if target is not None and not target.deleted:
                data["reply_to_message"] = self._message_api(target, with_reply=False)
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.protect_content:
            data["has_protected_content"] = True
        if message.text is not None:
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        if message.caption is not None:
            data["caption"] = message.caption
            if message.entities:
                data["caption_entities"] = message.entities
        data.update(message.media)
        data.update(message.service)
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data

    def _visible(self, message: _Message) -> VisibleMessage:
        return VisibleMessage(
            message_id=message.message_id,
            chat_id=message.chat_id,
            sender=message.sender,
            from_id=message.from_user["id"] if message.from_user else None,
            kind=message.kind,
            text=message.text if message.text is not None else message.caption,
            entities=tuple(_clone(message.entities)),
            reply_markup=_clone(message.reply_markup),
            protect_content=message.protect_content,
            thread_id=message.thread_id,
            date=message.date,
            edited=message.edit_date is not None,
            deleted=message.deleted,
            forwarded=message.forward_origin is not None,
            parse_mode=message.parse_mode,
            raw=_clone(self._message_api(message)),
        )

    def _new_file(
        self, kind: str, content: bytes, file_name: str | None = None, mime_type: str | None = None
    ) -> _File:
        n = next(self._file_ids)
        prefix = {
            "photo": "AgAC",
            "document": "BQAC",
            "voice": "AwAC",
            "video": "BAAC",
            "sticker": "CAAC",
            "audio": "CQAC",
        }.get(kind, "BQAC")
        record = _File(
            file_id=f"{prefix}AgIAAxkBAAF{n:08d}",
            file_unique_id=f"AQAD{n:08d}",
            kind=kind,
            content=content,
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[record.file_id] = record
        return record

    def _media_payload(self, kind: str, record: _File, extra: Mapping[str, Any]) -> JSON:
        base = record.api()
        if kind == "photo":
            small = {**base, "width": 90, "height": 68}
            return {"photo": [small, {**base, "width": 1280, "height": 960}]}
        if kind == "document":
            base["file_name"] = record.file_name or "document.pdf"
            base["mime_type"] = record.mime_type or "application/octet-stream"
        elif kind == "voice":
            base["duration"] = int(extra.get("duration") or 3)
            base["mime_type"] = "audio/ogg"
        elif kind in {"video", "audio"}:
            base["duration"] = int(extra.get("duration") or 5)
            if kind == "video":
                base.update(width=640, height=360)
        elif kind == "sticker":
            base.update(
                type="regular",
                width=512,
                height=512,
                is_animated=False,
                is_video=False,
                emoji=extra.get("emoji") or "👍",
            )
        return {kind: base}

    # ---- HTTP ------------------------------------------------------------------------------

    async def _read_params(self, request: web.Request) -> tuple[JSON, dict[str, _Upload]]:
        params: JSON = {}
        files: dict[str, _Upload] = {}
        for key, value in request.query.items():
            params[key] = _decode_form_value(key, value)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError as exc:
                    raise _bad("Bad Request: can't parse JSON encoded request body") from exc
                if not isinstance(body, dict):
                    raise _bad("Bad Request: request body must be a JSON object")
                params.update(body)
            else:
                form = await request.post()
                for name, field_value in form.items():
                    if isinstance(field_value, web.FileField):
                        upload = field_value
                        files[name] = _Upload(
                            upload.filename, upload.content_type, upload.file.read()
                        )
                    else:
                        params[name] = _decode_form_value(name, str(field_value))
        return _normalise_params(params), files

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        raw_method = request.match_info["method"]
        entry = self._methods.get(raw_method.lower())
        method = entry[0] if entry else raw_method
        params: JSON = {}
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            params, files = await self._read_params(request)
            if entry is None:
                raise ApiError(404, "Not Found")
            delay = self.method_latency.get(method, self.latency)
            if delay > 0:
                await asyncio.sleep(delay)
            with self._lock:
                injected = self._injected.get(method.lower())
                if injected:
                    error = injected.popleft()
                    if error.code == 429:
                        self._served_429 += 1
                    raise error
            if method == "getUpdates":
                result = await self._get_updates(params, request)
            else:
                with self._lock:
                    result = self._call_locked(method, entry[1], params, files)
        except _ClientGone:
            return web.Response(status=499)  # nobody is listening; not recorded
        except ApiError as error:
            self._record(method, params, error.code, error.description, None)
            return _err_response(error)
        except Exception:  # a bug in the fake: answer like Telegram's 500, and log it
            _log.exception("fake Telegram failed on %s", method)
            self._record(method, params, 500, "Internal Server Error", None)
            return _err_response(ApiError(500, "Internal Server Error"))
        with self._lock:
            lost = self._lost.get(method.lower(), 0)
            if lost:
                self._lost[method.lower()] = lost - 1
        if lost and request.transport is not None:
            self._record(method, params, 200, "response lost on purpose", result)
            request.transport.abort()
            return web.Response(status=200)  # never reaches the client
        self._record(method, params, 200, None, result)
        body: JSON = {"ok": True, "result": result}
        if method == "setWebhook":
            body["description"] = "Webhook was set"
        return web.json_response(body, dumps=_dumps)

    def _call_locked(
        self, method: str, handler: _Handler, params: JSON, files: dict[str, _Upload]
    ) -> Any:
        limiter = self._limiter
        target: _Chat | None = None
        if limiter is not None and method in SEND_METHODS:
            with contextlib.suppress(ApiError):
                target = self._chat_for(params)
            if target is not None:
                wait = limiter.retry_after(target.id, target.is_group)
                if wait:
                    self._served_429 += 1
                    raise ApiError(
                        429, f"Too Many Requests: retry after {wait}", {"retry_after": wait}
                    )
        result = handler(params, files)
        if limiter is not None and target is not None:
            limiter.record(target.id)
        return result

    def _record(
        self, method: str, params: JSON, status: int, description: str | None, result: Any
    ) -> None:
        safe = {k: v for k, v in params.items()}
        with self._lock:
            self._calls.append(
                ApiCall(
                    method=method,
                    params=safe,
                    at=self.clock.now(),
                    monotonic=time.monotonic(),
                    status=status,
                    description=description,
                    result=result,
                )
            )
            self._signal()

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["path"]
        with self._lock:
            record = next((f for f in self._files.values() if f.path == path), None)
        if record is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=record.content, content_type="application/octet-stream")

    # ---- getUpdates and webhooks -----------------------------------------------------------

    async def _get_updates(self, params: JSON, request: web.Request) -> list[JSON]:
        offset = _opt_int(params, "offset") or 0
        limit = min(100, max(1, _opt_int(params, "limit") or 100))
        timeout = max(0.0, float(params.get("timeout") or 0))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with self._lock:
            if self._webhook is not None:
                raise ApiError(409, ERR_WEBHOOK_ACTIVE)
            self._set_allowed_updates(params.get("allowed_updates"))
            self._poll_generation += 1
            generation = self._poll_generation
            self._confirm(offset)
            self._polling += 1
            self._signal()
        try:
            while True:
                transport = request.transport
                if transport is None or transport.is_closing():
                    raise _ClientGone  # e.g. PTB cancelled the poll while stopping
                with self._lock:
                    if self._closing:
                        return []
                    superseded = generation != self._poll_generation
                    if not superseded and self._webhook is not None:
                        raise ApiError(409, ERR_WEBHOOK_ACTIVE)
                    batch = [u for u in self._pending if u["update_id"] >= offset][:limit]
                    if batch and not superseded:
                        return batch  # serialised right away; updates are never mutated
                    event = self._update_event
                if superseded:
                    # A client that gave up on this poll (PTB cancels it when stopping) has
                    # usually closed the connection by now; only a live rival gets the 409.
                    await asyncio.sleep(0.01)
                    if request.transport is None or request.transport.is_closing():
                        raise _ClientGone
                    raise ApiError(409, ERR_POLL_CONFLICT)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            with self._lock:
                self._polling -= 1
                self._signal()

    def _set_allowed_updates(self, allowed: Any) -> None:
        if allowed is None:
            return
        if not isinstance(allowed, list):
            raise _bad("Bad Request: can't parse allowed_updates JSON array")
        self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES

    def _set_webhook(self, params: JSON, _files: dict[str, _Upload]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return self._delete_webhook(params, _files)
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise _bad(
                "Bad Request: bad webhook: Failed to resolve host: Name or service not known"
            )
        if parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
            raise _bad("Bad Request: bad webhook: the fake Bot API delivers only to 127.0.0.1")
        secret = _opt_str(params, "secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _bad("Bad Request: secret token contains unallowed characters")
        max_connections = _opt_int(params, "max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise _bad("Bad Request: invalid max_connections specified")
        self._set_allowed_updates(params.get("allowed_updates"))
        if _get_bool(params, "drop_pending_updates"):
            self._pending.clear()
        self._webhook_generation += 1
        self._webhook = _Webhook(url, secret, max_connections, self._webhook_generation)
        self._inflight.clear()
        self._attempts.clear()
        loop = self._loop
        if loop is not None:
            generation = self._webhook_generation
            loop.call_soon_threadsafe(self._start_webhook_worker, generation)
        self._signal()
        return True

    def _delete_webhook(self, params: JSON, _files: dict[str, _Upload]) -> bool:
        if _get_bool(params, "drop_pending_updates"):
            self._pending.clear()
        if self._webhook is not None:
            self._webhook = None
            self._webhook_generation += 1
            self._inflight.clear()
        self._signal()
        return True

    def _get_webhook_info(self, _params: JSON, _files: dict[str, _Upload]) -> JSON:
        hook = self._webhook
        info: JSON = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
            if self._allowed_updates != DEFAULT_ALLOWED_UPDATES:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    def _start_webhook_worker(self, generation: int) -> None:
        if self._closing:
            return
        if self._webhook_task is not None and not self._webhook_task.done():
            self._webhook_task.cancel()
        self._webhook_task = asyncio.ensure_future(self._webhook_worker(generation))

    @staticmethod
    def _update_chat(update: JSON) -> int | None:
        for kind, payload in update.items():
            if kind == "update_id" or not isinstance(payload, dict):
                continue
            holder = payload.get("message", payload) if kind == "callback_query" else payload
            chat = holder.get("chat") if isinstance(holder, dict) else None
            if isinstance(chat, dict) and "id" in chat:
                return int(chat["id"])
        return None

    def _pick_deliverable(self, hook: _Webhook) -> list[JSON]:
        """Next updates to POST: in order, one in flight per chat, max_connections overall."""
        busy: set[object] = set()
        for update in self._pending:
            if update["update_id"] in self._inflight:
                busy.add(self._update_chat(update) or ("update", update["update_id"]))
        picks: list[JSON] = []
        for update in self._pending:
            key = self._update_chat(update) or ("update", update["update_id"])
            if update["update_id"] in self._inflight or key in busy:
                busy.add(key)
                continue
            if len(self._inflight) >= hook.max_connections:
                break
            busy.add(key)
            self._inflight.add(update["update_id"])
            picks.append(update)
        return picks

    async def _webhook_worker(self, generation: int) -> None:
        timeout = aiohttp.ClientTimeout(total=self.webhook_timeout)
        deliveries: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                while not self._closing:
                    with self._lock:
                        hook = self._webhook
                        if hook is None or hook.generation != generation:
                            return
                        picks = self._pick_deliverable(hook)
                        event = self._update_event
                    for update in picks:
                        task = asyncio.ensure_future(self._deliver(session, hook, update))
                        deliveries.add(task)
                        task.add_done_callback(deliveries.discard)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(event.wait(), 0.5)
            finally:
                for task in deliveries:
                    task.cancel()
                await asyncio.gather(*deliveries, return_exceptions=True)

    async def _deliver(self, session: aiohttp.ClientSession, hook: _Webhook, update: JSON) -> None:
        update_id = update["update_id"]
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        status: int | None = None
        error: str | None = None
        try:
            async with session.post(hook.url, data=_dumps(update).encode(), headers=headers) as r:
                status = r.status
                await r.read()
                if not 200 <= r.status < 300:
                    error = f"Wrong response from the webhook: {r.status} {r.reason}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"Connection failed: {type(exc).__name__}: {exc}"[:200]
        with self._lock:
            attempt = self._attempts.get(update_id, 0) + 1
            self._attempts[update_id] = attempt
            self._deliveries.append(
                WebhookDelivery(update_id, attempt, status, error, self.clock.now())
            )
            current = self._webhook is not None and self._webhook.generation == hook.generation
            if error is None:
                self._pending = [u for u in self._pending if u["update_id"] != update_id]
                self._inflight.discard(update_id)
                self._attempts.pop(update_id, None)
                self._signal()
                return
            if current and self._webhook is not None:
                self._webhook.last_error_date = self.clock.timestamp()
                self._webhook.last_error_message = error
            if attempt >= self.webhook_max_attempts:
                self._dropped_updates.extend(
                    u for u in self._pending if u["update_id"] == update_id
                )
                self._pending = [u for u in self._pending if u["update_id"] != update_id]
                self._inflight.discard(update_id)
                self._signal()
                return
        delays = self.webhook_retry_delays
        await asyncio.sleep(delays[min(attempt - 1, len(delays) - 1)])
        with self._lock:
            self._inflight.discard(update_id)
            self._signal()

    # ---- method table ----------------------------------------------------------------------

    def _handler_table(self) -> dict[str, _Handler]:
        def media(kind: str) -> _Handler:
            return lambda params, files: self._send_media(kind, params, files)

        return {
            "getMe": self._get_me,
            "getUpdates": self._unreachable,  # async, handled in _handle_api
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "logOut": lambda _p, _f: True,
            "close": lambda _p, _f: True,
            "sendMessage": self._send_message,
            "sendPhoto": media("photo"),
            "sendDocument": media("document"),
            "sendVoice": media("voice"),
            "sendVideo": media("video"),
            "sendAudio": media("audio"),
            "sendSticker": media("sticker"),
            "sendLocation": self._send_location,
            "sendContact": self._send_contact,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._profile_setter("description", 512),
            "getMyDescription": self._profile_getter("description"),
            "setMyShortDescription": self._profile_setter("short_description", 120),
            "getMyShortDescription": self._profile_getter("short_description"),
            "setMyName": self._profile_setter("name", 64),
            "getMyName": self._profile_getter("name"),
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "leaveChat": self._leave_chat,
            "getChat": self._get_chat,
            "getFile": self._get_file,
            "createForumTopic": self._create_forum_topic,
            "editForumTopic": self._edit_forum_topic,
            "closeForumTopic": lambda p, _f: self._set_topic_closed(p, closed=True),
            "reopenForumTopic": lambda p, _f: self._set_topic_closed(p, closed=False),
            "deleteForumTopic": self._delete_forum_topic,
        }

    @staticmethod
    def _unreachable(_params: JSON, _files: dict[str, _Upload]) -> Any:
        raise AssertionError("handled asynchronously")

    def _get_me(self, _params: JSON, _files: dict[str, _Upload]) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # ---- helpers for handlers --------------------------------------------------------------

    def _chat_for(self, params: Mapping[str, Any], name: str = "chat_id") -> _Chat:
        value = params.get(name)
        if value is None or value == "":
            raise _bad(f"Bad Request: {name} is empty")
        if isinstance(value, str) and value.startswith("@"):
            chat = next((c for c in self._chats.values() if c.username == value[1:]), None)
        else:
            try:
                chat = self._chats.get(int(value))
            except (TypeError, ValueError):
                chat = None
        if chat is None:
            raise _bad(ERR_CHAT_NOT_FOUND)
        return chat

    def _check_can_send(self, chat: _Chat) -> None:
        if chat.type == "private":
            if chat.blocked:
                raise ApiError(403, ERR_BLOCKED)
            if not chat.started:
                raise ApiError(403, ERR_CANT_INITIATE)
        elif not chat.bot_member:
            kind = "supergroup" if chat.type == "supergroup" else "group"
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")

    def _thread_for(self, chat: _Chat, params: Mapping[str, Any]) -> int | None:
        thread_id = _opt_int(params, "message_thread_id")
        if thread_id is None or not chat.is_forum:
            return None  # Telegram ignores thread ids outside forums
        topic = chat.topics.get(thread_id)
        if topic is None or topic.deleted:
            raise _bad(ERR_THREAD_NOT_FOUND)
        if topic.closed and not chat.bot_is_admin:
            raise _bad("Bad Request: TOPIC_CLOSED")
        return thread_id

    @staticmethod
    def _reply_markup(params: Mapping[str, Any]) -> JSON | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad(
                    'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup '
                    "must be an Array of Arrays"
                )
            actions = (
                "url",
                "callback_data",
                "web_app",
                "login_url",
                "switch_inline_query",
                "switch_inline_query_current_chat",
                "switch_inline_query_chosen_chat",
                "copy_text",
                "callback_game",
                "pay",
            )
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise _bad(
                            "Bad Request: can't parse inline keyboard button: "
                            "Text must be non-empty"
                        )
                    if not any(k in button for k in actions):
                        raise _bad(
                            "Bad Request: can't parse inline keyboard button: "
                            "Text buttons are unallowed in the inline keyboard"
                        )
                    if "callback_data" in button:
                        data = button["callback_data"]
                        size = len(data.encode()) if isinstance(data, str) else 0
                        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                            raise _bad(ERR_BUTTON_DATA_INVALID)
            return markup
        if any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
            return markup
        raise _bad("Bad Request: can't parse reply keyboard markup JSON object")

    @staticmethod
    def _apply_keyboard(chat: _Chat, markup: JSON | None) -> None:
        if markup is None:
            return
        if "keyboard" in markup:
            chat.reply_keyboard = markup
        elif markup.get("remove_keyboard"):
            chat.reply_keyboard = None

    @staticmethod
    def _format(
        text: str, parse_mode: str | None, entities: Any, *, caption: bool = False
    ) -> tuple[str, list[JSON]]:
        if parse_mode:
            parser = _PARSERS.get(parse_mode.lower())
            if parser is None:
                raise _bad(f"Bad Request: unsupported parse_mode {parse_mode}")
            try:
                plain, parsed = parser(text)
            except _ParseError as exc:
                raise _bad(f"Bad Request: can't parse entities: {exc}") from exc
        else:
            plain, parsed = text, list(entities) if isinstance(entities, list) else []
        limit, error = (
            (MAX_CAPTION_LENGTH, ERR_CAPTION_TOO_LONG)
            if caption
            else (MAX_TEXT_LENGTH, ERR_TEXT_TOO_LONG)
        )
        if not caption and not plain.strip():
            raise _bad(ERR_TEXT_EMPTY)
        if len(plain) > limit:
            raise _bad(error)
        return plain, parsed

    def _reply_to(self, chat: _Chat, params: Mapping[str, Any]) -> int | None:
        reply = params.get("reply_parameters")
        reply_id: int | None
        allow_missing = _get_bool(params, "allow_sending_without_reply")
        if isinstance(reply, dict):
            reply_id = _get_int(reply, "message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
        else:
            reply_id = _opt_int(params, "reply_to_message_id")
        if reply_id is None:
            return None
        target = chat.messages.get(reply_id)
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise _bad("Bad Request: message to be replied not found")
        return reply_id

    def _outgoing(self, chat: _Chat, params: Mapping[str, Any], kind: str, **fields: Any) -> JSON:
        markup = self._reply_markup(params)
        thread_id = self._thread_for(chat, params)
        message = self._store(
            chat,
            "bot",
            _clone(self.bot_user),
            kind,
            reply_markup=markup if markup and "inline_keyboard" in markup else None,
            protect_content=_get_bool(params, "protect_content"),
            thread_id=thread_id,
            is_topic_message=thread_id is not None,
            reply_to=self._reply_to(chat, params),
            **fields,
        )
        self._apply_keyboard(chat, markup)
        return self._message_api(message)

    # ---- sending ---------------------------------------------------------------------------

    def _send_message(self, params: JSON, _files: dict[str, _Upload]) -> JSON:
        chat = self._chat_for(params)
        if "text" not in params:
            raise _bad(ERR_TEXT_EMPTY)
        self._check_can_send(chat)
        parse_mode = _opt_str(params, "parse_mode")
        text, entities = self._format(str(params["text"]), parse_mode, params.get("entities"))
        return self._outgoing(
            chat, params, "text", text=text, entities=entities, parse_mode=parse_mode
        )

    def _file_param(self, kind: str, params: JSON, files: dict[str, _Upload]) -> _File:
        if kind in files:
            upload = files[kind]
            mime = upload.content_type
            if upload.filename and (not mime or mime == "application/octet-stream"):
                mime = mimetypes.guess_type(upload.filename)[0] or mime
            return self._new_file(kind, upload.content, upload.filename, mime)
        value = params.get(kind)
        if not isinstance(value, str) or not value:
            raise _bad(f"Bad Request: there is no {kind} in the request")
        if value.startswith("attach://"):
            name = value.removeprefix("attach://")
            if name not in files:
                raise _bad(f"Bad Request: {kind} attachment {name} not found")
            return self._file_param(kind, {kind: None}, {kind: files[name]})
        if value in self._files:
            return self._files[value]
        if value.startswith(("http://", "https://")):
            return self._new_file(kind, b"", value.rsplit("/", 1)[-1] or None)
        raise _bad(ERR_WRONG_FILE)

    def _send_media(self, kind: str, params: JSON, files: dict[str, _Upload]) -> JSON:
        chat = self._chat_for(params)
        self._check_can_send(chat)
        record = self._file_param(kind, params, files)
        caption: str | None = None
        entities: list[JSON] = []
        parse_mode = _opt_str(params, "parse_mode")
        if params.get("caption"):
            caption, entities = self._format(
                str(params["caption"]), parse_mode, params.get("caption_entities"), caption=True
            )
        return self._outgoing(
            chat,
            params,
            kind,
            caption=caption,
            entities=entities,
            parse_mode=parse_mode,
            media=self._media_payload(kind, record, params),
        )

    def _send_location(self, params: JSON, _files: dict[str, _Upload]) -> JSON:
        chat = self._chat_for(params)
        self._check_can_send(chat)
        try:
            lat, lon = float(params["latitude"]), float(params["longitude"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad("Bad Request: wrong latitude or longitude specified") from exc
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise _bad("Bad Request: wrong latitude or longitude specified")
        return self._outgoing(
            chat, params, "location", media={"location": {"latitude": lat, "longitude": lon}}
        )

    def _send_contact(self, params: JSON, _files: dict[str, _Upload]) -> JSON:
        chat = self._chat_for(params)
        self._check_can_send(chat)
        phone, first = _opt_str(params, "phone_number"), _opt_str(params, "first_name")
        if not phone or not first:
            raise _bad("Bad Request: phone_number and first_name are required")
        return self._outgoing(
            chat, params, "contact", media={"contact": {"phone_number": phone, "first_name": first}}
        )

    def _source_message(self, params: JSON, what: str) -> _Message:
        source_chat = self._chat_for(params, "from_chat_id")
        message_id = _get_int(params, "message_id")
        source = source_chat.messages.get(message_id)
        if source is None or source.deleted:
            raise _bad(f"Bad Request: message to {what} not found")
        if source.sender == "service":
            raise _bad(f"Bad Request: message can't be {what}ed")
        if source.protect_content:
            raise _bad("Bad Request: message has protected content and can't be forwarded")
        return source

    def _copy_message(self, params: JSON, _files: dict[str, _Upload]) -> JSON:
        chat = self._chat_for(params)
        self._check_can_send(chat)
        source = self._source_message(params, "copy")
        caption, entities = source.caption, source.entities
        parse_mode = _opt_str(params, "parse_mode")
        if "caption" in params and source.kind != "text":
            caption, entities = self._format(
                str(params["caption"]), parse_mode, params.get("caption_entities"), caption=True
            )
        result = self._outgoing(
            chat,
            params,
            source.kind,
            text=source.text,
            caption=caption,
            entities=_clone(entities),
            media=_clone(source.media),
        )
        return {"message_id": result["message_id"]}

    def _forward_message(self, params: JSON, _files: dict[str, _Upload]) -> JSON:
        chat = self._chat_for(params)
        self._check_can_send(chat)
        source = self._source_message(params, "forward")
        origin = source.forward_origin or {
            "type": "user",
            "date": source.date,
            "sender_user": _clone(source.from_user or self.bot_user),
        }
        # A forward keeps the original author and content, and never the keyboard.
        return self._outgoing(
            chat,
            {k: v for k, v in params.items() if k != "reply_markup"},
            source.kind,
            text=source.text,
            caption=source.caption,
            entities=_clone(source.entities),
            media=_clone(source.media),
            forward_origin=origin,
        )

    def _send_chat_action(self, params: JSON, _files: dict[str, _Upload]) -> bool:
        chat = self._chat_for(params)
        action = _opt_str(params, "action")
        if action not in CHAT_ACTIONS:
            raise _bad("Bad Request: wrong parameter action in request")
        self._check_can_send(chat)
        thread_id = self._thread_for(chat, params)
        chat.actions.append(ChatActionRecord(chat.id, action, thread_id, self.clock.now()))
        return True

    # ---- editing and deleting --------------------------------------------------------------

    def _editable(self, params: JSON) -> tuple[_Chat, _Message]:
        if params.get("inline_message_id"):
            raise _bad("Bad Request: MESSAGE_ID_INVALID")  # the fake has no inline messages
        chat = self._chat_for(params)
        message_id = _get_int(
            params, "message_id", error="Bad Request: message identifier is not specified"
        )
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise _bad(ERR_EDIT_NOT_FOUND)
        if message.sender != "bot":
            raise _bad(ERR_CANT_EDIT)
        if chat.type == "private" and chat.blocked:
            raise ApiError(403, ERR_BLOCKED)
        return chat, message

    def _finish_edit(self, message: _Message) -> JSON:
        message.edit_date = self.clock.timestamp()
        self._signal()
        return self._message_api(message)

    @staticmethod
    def _inline_markup(params: JSON, markup: JSON | None) -> JSON | None:
        # Omitting reply_markup in an edit removes the inline keyboard (as on Telegram).
        if markup is not None and "inline_keyboard" not in markup:
            raise _bad("Bad Request: inline keyboard expected")
        if markup is not None and not markup["inline_keyboard"]:
            return None
        return markup if "reply_markup" in params else None

    def _edit_message_text(self, params: JSON, _files: dict[str, _Upload]) -> JSON:
        _chat, message = self._editable(params)
        if message.kind != "text":
            raise _bad("Bad Request: there is no text in the message to edit")
        if "text" not in params:
            raise _bad(ERR_TEXT_EMPTY)
        parse_mode = _opt_str(params, "parse_mode")
        text, entities = self._format(str(params["text"]), parse_mode, params.get("entities"))
        markup = self._inline_markup(params, self._reply_markup(params))
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise _bad(ERR_NOT_MODIFIED)
        message.text, message.entities, message.reply_markup = text, entities, markup
        message.parse_mode = parse_mode
        return self._finish_edit(message)

    def _edit_message_caption(self, params: JSON, _files: dict[str, _Upload]) -> JSON:
        _chat, message = self._editable(params)
        if message.kind in {"text", "location", "contact", "sticker"}:
            raise _bad("Bad Request: there is no caption in the message to edit")
        parse_mode = _opt_str(params, "parse_mode")
        caption, entities = self._format(
            str(params.get("caption") or ""),
            parse_mode,
            params.get("caption_entities"),
            caption=True,
        )
        markup = self._inline_markup(params, self._reply_markup(params))
        new_caption = caption or None
        if (new_caption, entities, markup) == (
            message.caption,
            message.entities,
            message.reply_markup,
        ):
            raise _bad(ERR_NOT_MODIFIED)
        message.caption, message.entities, message.reply_markup = new_caption, entities, markup
        return self._finish_edit(message)

    def _edit_message_reply_markup(self, params: JSON, _files: dict[str, _Upload]) -> JSON:
        _chat, message = self._editable(params)
        markup = self._inline_markup(params, self._reply_markup(params))
        if markup == message.reply_markup:
            raise _bad(ERR_NOT_MODIFIED)
        message.reply_markup = markup
        return self._finish_edit(message)

    def _deletion_error(self, chat: _Chat, message: _Message) -> str | None:
        if message.service.get("forum_topic_created") is not None:
            return ERR_CANT_DELETE
        too_old = self.clock.now() - message.date >= DELETE_WINDOW_SECONDS
        if chat.type == "private":
            return ERR_CANT_DELETE_FOR_EVERYONE if too_old else None
        if chat.bot_is_admin and chat.type == "supergroup":
            return None  # can_delete_messages: any message, any age
        if message.sender != "bot" and not chat.bot_is_admin:
            return ERR_CANT_DELETE
        return ERR_CANT_DELETE_FOR_EVERYONE if too_old else None

    def _remove(self, message: _Message) -> None:
        message.deleted = True
        message.deleted_at = self.clock.now()
        self._signal()

    def _delete_message(self, params: JSON, _files: dict[str, _Upload]) -> bool:
        chat = self._chat_for(params)
        message_id = _get_int(
            params, "message_id", error="Bad Request: message identifier is not specified"
        )
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise _bad(ERR_DELETE_NOT_FOUND)
        if error := self._deletion_error(chat, message):
            raise _bad(error)
        self._remove(message)
        return True

    def _delete_messages(self, params: JSON, _files: dict[str, _Upload]) -> bool:
        chat = self._chat_for(params)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not ids:
            raise _bad("Bad Request: message identifiers are not specified")
        if len(ids) > 100:
            raise _bad("Bad Request: too many message identifiers specified")
        found = [
            m
            for i in dict.fromkeys(int(x) for x in ids)
            if (m := chat.messages.get(i)) is not None and not m.deleted
        ]
        if not found:
            raise _bad(ERR_DELETE_NOT_FOUND)
        errors = [(m, e) for m in found if (e := self._deletion_error(chat, m))]
        if errors and self.delete_messages_atomic:
            raise _bad(errors[0][1])
        refused = {id(m) for m, _ in errors}
        deletable = [m for m in found if id(m) not in refused]
        if not deletable:
            raise _bad(errors[0][1])
        for message in deletable:
            self._remove(message)
        return True

    # ---- callback queries ------------------------------------------------------------------

    def _answer_callback_query(self, params: JSON, _files: dict[str, _Upload]) -> bool:
        query_id = _opt_str(params, "callback_query_id") or ""
        record = self._queries.get(query_id)
        expired = record is not None and (
            self.clock.now() - record.created_at > self.callback_answer_timeout
        )
        if record is None or record.answered or expired:
            raise _bad(ERR_QUERY_INVALID)
        text = _opt_str(params, "text")
        if text is not None and len(text) > 200:
            raise _bad("Bad Request: MESSAGE_TOO_LONG")
        self._queries[query_id] = CallbackQueryRecord(
            record.query_id,
            record.user_id,
            record.chat_id,
            record.message_id,
            record.data,
            record.created_at,
            answered=True,
        )
        self._answers.append(
            AnsweredCallback(
                query_id=query_id,
                user_id=record.user_id,
                chat_id=record.chat_id,
                message_id=record.message_id,
                data=record.data,
                text=text,
                show_alert=_get_bool(params, "show_alert"),
                url=_opt_str(params, "url"),
                answered_at=self.clock.now(),
            )
        )
        return True

    # ---- commands and profile --------------------------------------------------------------

    def _scope_key(self, scope: Any) -> tuple[str, int | None, int | None]:
        if scope is None:
            return ("default", None, None)
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise _bad("Bad Request: can't parse BotCommandScope JSON object")
        kind = scope["type"]
        if kind in {"default", "all_private_chats", "all_group_chats", "all_chat_administrators"}:
            return (kind, None, None)
        if kind in {"chat", "chat_administrators", "chat_member"}:
            chat = self._chat_for(scope)
            user_id = _get_int(scope, "user_id") if kind == "chat_member" else None
            return (kind, chat.id, user_id)
        raise _bad("Bad Request: can't parse BotCommandScope JSON object")

    @staticmethod
    def _language(params: Mapping[str, Any]) -> str:
        code = _opt_str(params, "language_code") or ""
        if code and not re.fullmatch(r"[a-z]{2}", code):
            raise _bad("Bad Request: invalid language code specified")
        return code

    def _set_my_commands(self, params: JSON, _files: dict[str, _Upload]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("Bad Request: too many commands specified")
        clean: list[JSON] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("Bad Request: can't parse BotCommand JSON object")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad("Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name, "description": description})
        key = (*self._scope_key(params.get("scope")), self._language(params))
        if clean:
            self._commands[key] = clean
        else:
            self._commands.pop(key, None)
        self._signal()
        return True

    def _get_my_commands(self, params: JSON, _files: dict[str, _Upload]) -> list[JSON]:
        key = (*self._scope_key(params.get("scope")), self._language(params))
        return _clone(self._commands.get(key, []))

    def _delete_my_commands(self, params: JSON, _files: dict[str, _Upload]) -> bool:
        key = (*self._scope_key(params.get("scope")), self._language(params))
        self._commands.pop(key, None)
        self._signal()
        return True

    def _profile_setter(self, field_name: str, max_length: int) -> _Handler:
        def handler(params: JSON, _files: dict[str, _Upload]) -> bool:
            value = _opt_str(params, field_name) or ""
            if len(value) > max_length:
                raise _bad(f"Bad Request: {field_name.replace('_', ' ')} is too long")
            key = (field_name, self._language(params))
            if value:
                self._profile[key] = value
            else:
                self._profile.pop(key, None)
            self._signal()
            return True

        return handler

    def _profile_getter(self, field_name: str) -> _Handler:
        def handler(params: JSON, _files: dict[str, _Upload]) -> JSON:
            lang = self._language(params)
            value = self._profile.get((field_name, lang), "")
            if field_name == "name" and not value and not lang:
                value = str(self.bot_user["first_name"])
            return {field_name: value}

        return handler

    def _set_chat_menu_button(self, params: JSON, _files: dict[str, _Upload]) -> bool:
        button = params.get("menu_button") or {"type": "default"}
        if "chat_id" in params:
            self._chat_for(params).menu_button = button
        return True

    def _get_chat_menu_button(self, params: JSON, _files: dict[str, _Upload]) -> JSON:
        if "chat_id" in params:
            return _clone(self._chat_for(params).menu_button)
        return {"type": "commands"}

    # ---- chats -----------------------------------------------------------------------------

    def _leave_chat(self, params: JSON, _files: dict[str, _Upload]) -> bool:
        chat = self._chat_for(params)
        if chat.type == "private":
            raise _bad("Bad Request: chat member status can't be changed in private chats")
        if not chat.bot_member:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        chat.bot_member = False
        self._signal()
        return True

    def _get_chat(self, params: JSON, _files: dict[str, _Upload]) -> JSON:
        chat = self._chat_for(params)
        if chat.is_group and not chat.bot_member:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        return {
            **chat.api(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _get_file(self, params: JSON, _files: dict[str, _Upload]) -> JSON:
        record = self._files.get(_opt_str(params, "file_id") or "")
        if record is None:
            raise _bad("Bad Request: invalid file_id")
        return {**record.api(), "file_path": record.path}

    # ---- forum topics ----------------------------------------------------------------------

    def _forum(self, params: JSON) -> _Chat:
        chat = self._chat_for(params)
        if chat.is_group and not chat.bot_member:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        if not chat.is_forum:
            raise _bad(ERR_NOT_A_FORUM)
        if not chat.bot_is_admin:
            raise _bad("Bad Request: not enough rights to manage topics")
        return chat

    def _topic(self, chat: _Chat, params: JSON) -> _Topic:
        thread_id = _get_int(params, "message_thread_id")
        topic = chat.topics.get(thread_id)
        if topic is None or topic.deleted:
            raise _bad(ERR_THREAD_NOT_FOUND)
        return topic

    def _new_topic(
        self, chat: _Chat, name: str, icon_color: int, emoji: str | None, creator: JSON
    ) -> tuple[_Topic, _Message]:
        if not name:
            raise _bad("Bad Request: TOPIC_TITLE_EMPTY")
        if len(name) > 128:
            raise _bad("Bad Request: topic name is too long")
        if icon_color not in TOPIC_ICON_COLORS:
            raise _bad("Bad Request: TOPIC_ICON_COLOR_INVALID")
        thread_id = chat.next_message_id  # the topic is named after its creation message
        created: JSON = {"name": name, "icon_color": icon_color}
        if emoji:
            created["icon_custom_emoji_id"] = emoji
        service = self._store(
            chat,
            "service",
            _clone(creator),
            "service",
            service={"forum_topic_created": created},
            thread_id=thread_id,
            is_topic_message=True,
        )
        topic = _Topic(thread_id, name, icon_color, emoji)
        chat.topics[thread_id] = topic
        return topic, service

    def _create_forum_topic(self, params: JSON, _files: dict[str, _Upload]) -> JSON:
        chat = self._forum(params)
        topic, _ = self._new_topic(
            chat,
            _opt_str(params, "name") or "",
            _opt_int(params, "icon_color") or 7322096,
            _opt_str(params, "icon_custom_emoji_id"),
            self.bot_user,
        )
        return topic.api()

    def _topic_service(self, chat: _Chat, topic: _Topic, service: JSON) -> None:
        self._store(
            chat,
            "service",
            _clone(self.bot_user),
            "service",
            service=service,
            thread_id=topic.thread_id,
            is_topic_message=True,
        )

    def _edit_forum_topic(self, params: JSON, _files: dict[str, _Upload]) -> bool:
        chat = self._forum(params)
        topic = self._topic(chat, params)
        name = _opt_str(params, "name")
        emoji = _opt_str(params, "icon_custom_emoji_id")
        if name is not None and not 1 <= len(name) <= 128:
            raise _bad("Bad Request: TOPIC_TITLE_EMPTY")
        if (name is None or name == topic.name) and (
            emoji is None or emoji == topic.icon_custom_emoji_id
        ):
            raise _bad("Bad Request: TOPIC_NOT_MODIFIED")
        edited: JSON = {}
        if name is not None:
            topic.name = edited["name"] = name
        if emoji is not None:
            topic.icon_custom_emoji_id = edited["icon_custom_emoji_id"] = emoji
        self._topic_service(chat, topic, {"forum_topic_edited": edited})
        return True

    def _set_topic_closed(self, params: JSON, *, closed: bool) -> bool:
        chat = self._forum(params)
        topic = self._topic(chat, params)
        if topic.closed == closed:
            raise _bad("Bad Request: TOPIC_NOT_MODIFIED")
        topic.closed = closed
        kind = "forum_topic_closed" if closed else "forum_topic_reopened"
        self._topic_service(chat, topic, {kind: {}})
        return True

    def _delete_forum_topic(self, params: JSON, _files: dict[str, _Upload]) -> bool:
        chat = self._forum(params)
        topic = self._topic(chat, params)
        topic.deleted = True
        for message in chat.messages.values():
            if message.thread_id == topic.thread_id and not message.deleted:
                self._remove(message)
        self._signal()
        return True


# --------------------------------------------------------------------------------------------
# Handles used by tests
# --------------------------------------------------------------------------------------------


class ChatView:
    """What a chat shows and what happened in it; every call reads the current state."""

    def __init__(self, fake: FakeTelegram, chat_id: int) -> None:
        self._fake = fake
        self.chat_id = chat_id

    def _chat(self) -> _Chat:
        return self._fake._chats[self.chat_id]

    def history(self) -> list[VisibleMessage]:
        """Every message ever in the chat, deleted ones included (flagged)."""
        with self._fake._lock:
            return [self._fake._visible(m) for m in self._chat().messages.values()]

    def visible(self, thread_id: int | None = None) -> list[VisibleMessage]:
        """The messages the chat shows now, in order (after edits and deletions)."""
        return [
            m
            for m in self.history()
            if not m.deleted and (thread_id is None or m.thread_id == thread_id)
        ]

    def deleted(self) -> list[VisibleMessage]:
        return [m for m in self.history() if m.deleted]

    def bot_messages(self) -> list[VisibleMessage]:
        return [m for m in self.visible() if m.sender == "bot"]

    def user_messages(self) -> list[VisibleMessage]:
        return [m for m in self.visible() if m.sender == "user"]

    def last_bot_message(self) -> VisibleMessage | None:
        messages = self.bot_messages()
        return messages[-1] if messages else None

    def texts(self) -> list[str | None]:
        return [m.text for m in self.visible()]

    def actions(self) -> list[ChatActionRecord]:
        with self._fake._lock:
            return list(self._chat().actions)

    @property
    def reply_keyboard(self) -> JSON | None:
        with self._fake._lock:
            return _clone(self._chat().reply_keyboard)

    @property
    def bot_member(self) -> bool:
        with self._fake._lock:
            return self._chat().bot_member

    def topics(self) -> list[JSON]:
        with self._fake._lock:
            return [
                {**t.api(), "closed": t.closed}
                for t in self._chat().topics.values()
                if not t.deleted
            ]


class Participant:
    """Someone who writes in a chat: a person in a private chat, or a member of a group."""

    def __init__(self, fake: FakeTelegram, user: JSON, chat_id: int) -> None:
        self._fake = fake
        self.user = user
        self.user_id: int = user["id"]
        self.chat_id = chat_id
        self._mark = 0  # message id of this participant's latest action

    @property
    def view(self) -> ChatView:
        return ChatView(self._fake, self.chat_id)

    def _chat(self) -> _Chat:
        chat = self._fake._chats[self.chat_id]
        if chat.blocked:
            raise RuntimeError(f"user {self.user_id} blocked the bot; call unblock_bot() first")
        return chat

    def _send(self, kind: str, thread_id: int | None = None, **fields: Any) -> int:
        fake = self._fake
        with fake._lock:
            chat = self._chat()
            chat.started = True
            chat.members.setdefault(self.user_id, self.user)
            is_topic = False
            if thread_id is not None and chat.is_forum:
                topic = chat.topics.get(thread_id)
                if topic is None or topic.deleted:
                    raise LookupError(f"no topic {thread_id} in chat {chat.id}")
                if topic.closed:
                    raise RuntimeError(f"topic {thread_id} is closed; members can't write")
                is_topic = True
            message = fake._store(
                chat,
                "user",
                _clone(self.user),
                kind,
                thread_id=thread_id if is_topic else None,
                is_topic_message=is_topic,
                **fields,
            )
            self._mark = message.message_id
            if fake._bot_sees(chat, message):
                fake._enqueue("message", fake._message_api(message))
            return message.message_id

    # ---- messages --------------------------------------------------------------------------

    def send_text(
        self, text: str, *, thread_id: int | None = None, reply_to: int | None = None
    ) -> int:
        """Type a message; returns its message_id. Commands and links get their entities."""
        if not text:
            raise ValueError("Telegram does not send empty messages")
        return self._send(
            "text", thread_id, text=text, entities=_auto_entities(text), reply_to=reply_to
        )

    def send_command(
        self, command: str = "/start", args: str | None = None, *, thread_id: int | None = None
    ) -> int:
        command = command if command.startswith("/") else f"/{command}"
        return self.send_text(f"{command} {args}" if args else command, thread_id=thread_id)

    def _send_file(
        self,
        kind: str,
        content: bytes,
        caption: str | None,
        thread_id: int | None,
        file_name: str | None = None,
        mime_type: str | None = None,
        **extra: Any,
    ) -> int:
        fake = self._fake
        with fake._lock:
            record = fake._new_file(kind, content, file_name, mime_type)
            media = fake._media_payload(kind, record, extra)
        return self._send(
            kind,
            thread_id,
            caption=caption,
            entities=_auto_entities(caption) if caption else [],
            media=media,
        )

    def send_photo(
        self,
        caption: str | None = None,
        *,
        content: bytes = b"\xff\xd8fake-jpeg",
        thread_id: int | None = None,
    ) -> int:
        return self._send_file("photo", content, caption, thread_id, mime_type="image/jpeg")

    def send_document(
        self,
        file_name: str = "document.pdf",
        *,
        caption: str | None = None,
        content: bytes = b"%PDF-1.4 fake",
        mime_type: str | None = None,
        thread_id: int | None = None,
    ) -> int:
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        return self._send_file("document", content, caption, thread_id, file_name, mime)

    def send_voice(
        self, duration: int = 3, *, content: bytes = b"OggS fake", thread_id: int | None = None
    ) -> int:
        return self._send_file("voice", content, None, thread_id, duration=duration)

    def send_video(
        self,
        duration: int = 5,
        *,
        caption: str | None = None,
        content: bytes = b"fake-mp4",
        thread_id: int | None = None,
    ) -> int:
        return self._send_file("video", content, caption, thread_id, duration=duration)

    def send_sticker(self, emoji: str = "👍", *, thread_id: int | None = None) -> int:
        return self._send_file("sticker", b"RIFF fake-webp", None, thread_id, emoji=emoji)

    def send_location(
        self, latitude: float, longitude: float, *, thread_id: int | None = None
    ) -> int:
        location = {"latitude": latitude, "longitude": longitude}
        return self._send("location", thread_id, media={"location": location})

    def send_contact(
        self,
        phone_number: str,
        *,
        first_name: str | None = None,
        own: bool = True,
        thread_id: int | None = None,
    ) -> int:
        """Share a contact; by default the person's own (with their user_id)."""
        contact: JSON = {
            "phone_number": phone_number,
            "first_name": first_name or self.user["first_name"],
        }
        if own:
            contact["user_id"] = self.user_id
        return self._send("contact", thread_id, media={"contact": contact})

    def forward_text(
        self,
        text: str,
        *,
        from_name: str = "Someone",
        from_user_id: int | None = None,
        thread_id: int | None = None,
    ) -> int:
        """Forward a text from someone else: a hidden user unless from_user_id is given."""
        date = self._fake.clock.timestamp() - 3600
        origin: JSON
        if from_user_id is None:
            origin = {"type": "hidden_user", "date": date, "sender_user_name": from_name}
        else:
            sender = {"id": from_user_id, "is_bot": False, "first_name": from_name}
            origin = {"type": "user", "date": date, "sender_user": sender}
        return self._send(
            "text", thread_id, text=text, entities=_auto_entities(text), forward_origin=origin
        )

    def edit_last(self, text: str) -> int:
        """Edit this participant's latest text message; the bot gets an edited_message."""
        fake = self._fake
        with fake._lock:
            chat = self._chat()
            mine = [
                m
                for m in chat.messages.values()
                if m.sender == "user"
                and m.from_user
                and m.from_user["id"] == self.user_id
                and m.kind == "text"
                and not m.deleted
            ]
            if not mine:
                raise LookupError(f"user {self.user_id} has no text message to edit")
            message = mine[-1]
            message.text = text
            message.entities = _auto_entities(text)
            message.edit_date = fake.clock.timestamp()
            if fake._bot_sees(chat, message):
                fake._enqueue("edited_message", fake._message_api(message))
            return message.message_id

    def delete_message(self, message_id: int) -> None:
        """The participant deletes a message for everyone (bots get no update for that)."""
        fake = self._fake
        with fake._lock:
            message = self._chat().messages.get(message_id)
            if message is None or message.deleted:
                raise LookupError(f"no message {message_id} in chat {self.chat_id}")
            fake._remove(message)

    # ---- buttons ---------------------------------------------------------------------------

    def press(self, callback_data: str, *, message_id: int | None = None) -> str:
        """Press the inline button with this data (on the newest bot message that has it)."""
        return self._press(
            lambda b: b.get("callback_data") == callback_data,
            message_id,
            f"callback_data {callback_data!r}",
        )

    def press_button(self, label: str, *, message_id: int | None = None) -> str:
        """Press the inline button with this label; returns the callback query id."""
        return self._press(lambda b: b.get("text") == label, message_id, f"button {label!r}")

    def _press(self, matches: Callable[[JSON], bool], message_id: int | None, what: str) -> str:
        fake = self._fake
        with fake._lock:
            chat = self._chat()
            if message_id is None:
                candidates = list(reversed(chat.messages.values()))
            else:
                candidates = [chat.messages[message_id]] if message_id in chat.messages else []
            for message in candidates:
                if message.deleted or message.sender != "bot" or not message.reply_markup:
                    continue
                for row in message.reply_markup.get("inline_keyboard", []):
                    for button in row:
                        if matches(button) and "callback_data" in button:
                            return self._callback(chat, message, str(button["callback_data"]))
            where = f"message {message_id}" if message_id is not None else "any bot message"
            raise LookupError(f"no {what} on {where} in chat {self.chat_id}")

    def _callback(self, chat: _Chat, message: _Message, data: str) -> str:
        fake = self._fake
        query_id = str(next(fake._query_ids))
        fake._queries[query_id] = CallbackQueryRecord(
            query_id, self.user_id, chat.id, message.message_id, data, fake.clock.now(), False
        )
        self._mark = chat.next_message_id - 1
        fake._enqueue(
            "callback_query",
            {
                "id": query_id,
                "from": _clone(self.user),
                "message": fake._message_api(message),
                "chat_instance": str(abs(hash((fake.bot_id, chat.id))) % 10**18),
                "data": data,
            },
        )
        return query_id

    # ---- reading replies -------------------------------------------------------------------

    def messages(self) -> list[VisibleMessage]:
        return self.view.visible()

    def last_bot_message(self) -> VisibleMessage | None:
        return self.view.last_bot_message()

    def _replies(self, after: int, count: int) -> list[VisibleMessage] | None:
        replies = [m for m in self.view.history() if m.sender == "bot" and m.message_id > after]
        return replies if len(replies) >= count else None

    def wait_for_replies(self, count: int = 1, timeout: float = 5.0) -> list[VisibleMessage]:
        """Block until the bot sent `count` messages after this participant's latest action."""
        after = self._mark
        return self._fake.wait_for(
            lambda: self._replies(after, count),
            timeout,
            f"{count} bot message(s) in chat {self.chat_id} after message {after}",
        )

    async def wait_for_replies_async(
        self, count: int = 1, timeout: float = 5.0
    ) -> list[VisibleMessage]:
        after = self._mark
        return await self._fake.wait_for_async(
            lambda: self._replies(after, count),
            timeout,
            f"{count} bot message(s) in chat {self.chat_id} after message {after}",
        )


class Person(Participant):
    """A person in a private chat with the bot (chat id = user id)."""

    @property
    def blocked(self) -> bool:
        with self._fake._lock:
            return self._fake._chats[self.chat_id].blocked

    def _member_update(self, old: str, new: str) -> None:
        fake = self._fake
        new_member: JSON = {"status": new, "user": _clone(fake.bot_user)}
        if new == "kicked":
            new_member["until_date"] = 0
        fake._enqueue(
            "my_chat_member",
            {
                "chat": fake._chats[self.chat_id].api(),
                "from": _clone(self.user),
                "date": fake.clock.timestamp(),
                "old_chat_member": {"status": old, "user": _clone(fake.bot_user)},
                "new_chat_member": new_member,
            },
        )

    def block_bot(self) -> None:
        """From now on every send to this person fails with 403 "bot was blocked by the user"."""
        with self._fake._lock:
            chat = self._fake._chats[self.chat_id]
            if not chat.blocked:
                chat.blocked = True
                self._member_update("member", "kicked")

    def unblock_bot(self) -> None:
        with self._fake._lock:
            chat = self._fake._chats[self.chat_id]
            if chat.blocked:
                chat.blocked = False
                self._member_update("kicked", "member")


class Group:
    """A group or forum supergroup the bot is in; members write into it, optionally in topics."""

    def __init__(self, fake: FakeTelegram, chat_id: int) -> None:
        self._fake = fake
        self.chat_id = chat_id
        self._members: dict[int, Participant] = {}

    @property
    def view(self) -> ChatView:
        return ChatView(self._fake, self.chat_id)

    def member(
        self,
        user_id: int,
        first_name: str = "Member",
        *,
        language_code: str | None = None,
        username: str | None = None,
    ) -> Participant:
        with self._fake._lock:
            if user_id not in self._members:
                user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
                if username:
                    user["username"] = username
                if language_code:
                    user["language_code"] = language_code
                self._fake._chats[self.chat_id].members[user_id] = user
                self._members[user_id] = Participant(self._fake, user, self.chat_id)
            return self._members[user_id]

    def create_topic(
        self, name: str, *, by: Participant | None = None, icon_color: int = 7322096
    ) -> int:
        """A topic created by a member (the bot gets the service message) or silently."""
        fake = self._fake
        with fake._lock:
            chat = fake._chats[self.chat_id]
            if not chat.is_forum:
                raise ValueError(f"chat {self.chat_id} is not a forum")
            creator = by.user if by is not None else fake.bot_user
            try:
                topic, service = fake._new_topic(chat, name, icon_color, None, creator)
            except ApiError as exc:
                raise ValueError(exc.description) from exc
            if by is not None and fake._bot_sees(chat, service):
                fake._enqueue("message", fake._message_api(service))
            return topic.thread_id

    def close_topic(self, thread_id: int) -> None:
        with self._fake._lock:
            self._fake._chats[self.chat_id].topics[thread_id].closed = True

    def topics(self) -> list[JSON]:
        return self.view.topics()

    def remove_bot(self) -> None:
        with self._fake._lock:
            self._fake._chats[self.chat_id].bot_member = False


def iter_updates_of(updates: Sequence[JSON], kind: str) -> Iterator[JSON]:
    """The payloads of one update kind, e.g. iter_updates_of(fake.updates, "callback_query")."""
    for update in updates:
        if kind in update:
            yield update[kind]
