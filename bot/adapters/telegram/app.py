"""The Telegram channel: updates in, the conversation service, messages out.

One chat's updates are handled in order and different chats in parallel (PerChatProcessor);
the service runs in a worker thread and commits before anything is sent. Telegram's limits
are kept by PTB's AIORateLimiter, which also waits out a 429's retry_after and sends again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from telegram import Bot, BotCommand, Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)

from bot.adapters.db.cases import CaseStore
from bot.adapters.db.referrals import ReferralStore
from bot.adapters.db.store import SqlStore
from bot.adapters.geo import CountryLookup
from bot.adapters.i18n import BabelTranslator
from bot.adapters.telegram.callbacks import CallbackCodec
from bot.adapters.telegram.render import render
from bot.adapters.telegram.request import AiohttpRequest
from bot.adapters.telegram.settings import TelegramSettings
from bot.adapters.telegram.staff import StaffDesk
from bot.adapters.telegram.staff_settings import StaffSettings
from bot.domain.case import owned_by_staff
from bot.domain.directory import ChannelType
from bot.services.conversation import ConversationService
from bot.services.messages import Command, Inbound, InboundKind, Outbound, Text
from bot.services.partner_answers import PartnerAnswers

log = logging.getLogger(__name__)
_T = TypeVar("_T")

CHANNEL = "telegram"
DELETE_WINDOW = timedelta(hours=47, minutes=50)  # Telegram allows 48 h; keep a margin
TYPING_AFTER = 0.4  # seconds: show "typing…" only when an answer takes a while
MEDIA_KINDS = ("photo", "document", "voice", "video", "video_note", "audio", "sticker", "animation")


class PerChatProcessor(BaseUpdateProcessor):
    """Updates of one chat one after another, in the order received; other chats in parallel."""

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock, users = self._locks.get(chat.id, (asyncio.Lock(), 0))
        self._locks[chat.id] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._locks[chat.id]
            if users == 1:
                del self._locks[chat.id]
            else:
                self._locks[chat.id] = (lock, users - 1)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


class TelegramChannel:
    def __init__(
        self,
        service: ConversationService,
        store: SqlStore,
        translator: BabelTranslator,
        countries: CountryLookup | None = None,
        staff: StaffSettings | None = None,
        partners: PartnerAnswers | None = None,
    ) -> None:
        self.service = service
        self.partners = partners
        # Partners' Telegram chats from the directory: the bot stays there (silent) and takes
        # their Accept / Reject presses.
        self.partner_chats = frozenset(
            int(c.target)
            for svc in service.data.directory.services
            for c in svc.referral_channels
            if c.type is ChannelType.TELEGRAM and c.target.strip().lstrip("-").isdigit()
        )
        self.store = store
        self.translator = translator
        self.codec = CallbackCodec(service.flow)
        self.countries = countries or CountryLookup()
        self._groups_told: set[int] = set()
        self.desk = (
            StaffDesk(CaseStore(store), service, staff, service.clock, self, ReferralStore(store))
            if staff
            else None
        )
        # SQLite answers in about a millisecond from a local file, and one writer runs at a
        # time anyway: calling it on the event loop beat a worker thread (430 vs 360 messages/s
        # in tests/bench). PostgreSQL waits on the network: there a thread keeps the loop free.
        self._inline = store.engine.dialect.name == "sqlite"

    async def blocking(self, function: Callable[..., _T], *args: Any) -> _T:
        if self._inline:
            return function(*args)
        return await asyncio.to_thread(function, *args)

    # -- wiring --------------------------------------------------------------------------
    def build(self, settings: TelegramSettings) -> Application[Any, Any, Any, Any, Any, Any]:
        builder = (
            ApplicationBuilder()
            .token(settings.token)
            .concurrent_updates(PerChatProcessor())
            .rate_limiter(
                # A 429 is waited out (retry_after) and the message sent again: under a burst,
                # giving up after a few tries would lose answers.
                AIORateLimiter(overall_max_rate=settings.max_rate, max_retries=30)
            )
            .request(AiohttpRequest(settings.pool_size))
            .get_updates_request(AiohttpRequest(1, read_timeout=10))
            .post_init(self._post_init)
            .post_shutdown(self._post_shutdown)
        )
        if settings.base_url:
            builder = builder.base_url(settings.base_url).base_file_url(
                settings.base_url.replace("/bot", "/file/bot", 1)
            )
        application = builder.build()
        application.add_handler(TypeHandler(Update, self.on_update))
        application.add_error_handler(self._on_error)
        return application

    async def _post_shutdown(self, _application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        if self.desk is not None:
            await self.desk.stop()

    async def _post_init(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """The command menu and a neutral description, in every language with a catalog."""
        bot = application.bot
        if self.desk is not None:
            await self.desk.start(bot)
        commands = [command.value for command in Command]
        done: set[str] = set()
        for language in self.translator.languages():
            code = "" if language == "en" else language.split("_")[0]
            if code in done:
                continue  # one menu per two-letter code (zh_Hans serves zh)
            done.add(code)
            menu = [
                BotCommand(c, self.translator.text(language, f"command.{c}")[:256])
                for c in commands
            ]
            try:
                await bot.set_my_commands(menu, language_code=code or None)
                await bot.set_my_description(
                    self.translator.text(language, "telegram.description"),
                    language_code=code or None,
                )
                await bot.set_my_short_description(
                    self.translator.text(language, "telegram.short_description"),
                    language_code=code or None,
                )
            except TelegramError as exc:
                log.warning("could not set the menu for %s: %s", code or "default", exc)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error(
            "error while handling an update: %s",
            type(context.error).__name__,
            exc_info=context.error,
        )

    # -- one update ----------------------------------------------------------------------
    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if update.my_chat_member is not None:
            await self._membership(update, context.bot)
            return
        if chat is None:
            return
        if chat.type != ChatType.PRIVATE:
            if chat.id in self.partner_chats:
                await self._partner_update(update)
            elif self.desk is not None and chat.id in self.desk.settings.chat_ids:
                await self.desk.on_update(update, context.bot)
            else:
                await self._not_private(update, context)
            return
        inbound, message_id = await self._inbound(update)
        if inbound is None:
            return
        typing = asyncio.create_task(self._typing(context, chat.id))
        try:
            outbound = await self.blocking(self.service.handle, inbound)
        finally:
            typing.cancel()
        user_ref = str(chat.id)
        if outbound.quick_exit:
            await self._quick_exit(context, chat.id, message_id)
        if self.desk is not None and outbound.relay:
            edited = update.edited_message
            await self.desk.relay_from_person(
                context.bot,
                outbound,
                chat.id,
                edited.message_id if edited else message_id,
                (edited.text or edited.caption or "") if edited else None,
            )
        sent = await self._send(context, chat.id, outbound)
        if self.desk is not None and outbound.handover is not None:
            await self.desk.open_case(context.bot, outbound, outbound.handover)
        tracked = [(i, True) for i in sent]
        if message_id is not None and not outbound.quick_exit:
            tracked.insert(0, (message_id, False))
        if outbound.conversation_id is not None or outbound.quick_exit:
            await self.blocking(
                self.store.track_messages, CHANNEL, user_ref, tracked, datetime.now(UTC)
            )

    async def _inbound(self, update: Update) -> tuple[Inbound | None, int | None]:
        user = update.effective_user
        chat = update.effective_chat
        assert chat is not None
        base: dict[str, Any] = {
            "channel": CHANNEL,
            "user_ref": str(chat.id),
            "language_hint": user.language_code if user else None,
            # Only ever shared with a partner when the person chooses "with my username".
            "handle": f"@{user.username}" if user and user.username else None,
        }
        query = update.callback_query
        if query is not None:
            # Always answered at once: no spinner left hanging, whatever happens next.
            with contextlib.suppress(TelegramError):
                await query.answer()
            payload = self.codec.decode(query.data or "") or "stale"
            return Inbound(kind=InboundKind.BUTTON, button=payload, **base), None
        if update.edited_message is not None:
            edited = update.edited_message
            return Inbound(
                kind=InboundKind.EDITED, text=edited.text or edited.caption or "", **base
            ), None
        message = update.message
        if message is None:
            return None, None
        return self._message(message, base), message.message_id

    def _message(self, message: Message, base: dict[str, Any]) -> Inbound:
        if message.forward_origin is not None:
            return Inbound(
                kind=InboundKind.FORWARDED, text=message.text or message.caption or "", **base
            )
        if message.text is not None:
            text = message.text
            if text.startswith("/") and len(text) > 1:
                command = text[1:].split()[0].split("@")[0]
                return Inbound(kind=InboundKind.COMMAND, text=command, **base)
            return Inbound(kind=InboundKind.TEXT, text=text, **base)
        if message.location is not None:
            country = self.countries.country_at(
                message.location.latitude, message.location.longitude
            )
            return Inbound(kind=InboundKind.LOCATION, country=country, **base)
        if message.contact is not None:
            return Inbound(kind=InboundKind.CONTACT, text=message.contact.phone_number, **base)
        kind = next((k for k in MEDIA_KINDS if getattr(message, k, None)), "other")
        return Inbound(kind=InboundKind.MEDIA, media=kind, **base)

    async def _partner_update(self, update: Update) -> None:
        """A partner pressed Accept or Reject under a referral (anything else: ignored)."""
        query = update.callback_query
        chat, user = update.effective_chat, update.effective_user
        if query is None or chat is None or user is None or self.partners is None:
            return
        answered = await self.blocking(
            self.partners.answer_from_telegram, query.data or "", chat.id, user.id
        )
        if answered is None or answered.referral is None:
            note = "This button is not known here."
        elif answered.result.value == "conflict":
            note = f"Not recorded: the referral is {answered.referral.status.value}."
        else:
            note = f"Recorded: {answered.referral.status.value}. Thank you."
        with contextlib.suppress(TelegramError):
            await query.answer(note, show_alert=True)
        if answered is not None and answered.referral is not None:
            with contextlib.suppress(TelegramError):
                await query.edit_message_reply_markup(None)

    async def _typing(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
        await asyncio.sleep(TYPING_AFTER)
        with contextlib.suppress(TelegramError):
            await context.bot.send_chat_action(chat_id, ChatAction.TYPING)

    async def notify(self, bot: Bot, address: tuple[str, str], key: str, **options: Any) -> None:
        """Send a message outside an answer (staff joined or left, nobody free yet): staff
        actions, so it goes out whoever owns the conversation."""
        outbound = await self.blocking(partial(self.service.notice, *address, key, **options))
        await self.deliver(bot, address, outbound)

    async def deliver(self, bot: Bot, address: tuple[str, str], outbound: Outbound) -> None:
        """Send what staff caused (a notice, a referral question), whoever owns the chat."""
        sent = await self._send_to(bot, int(address[1]), outbound, check_owner=False)
        await self.blocking(
            self.store.track_messages,
            CHANNEL,
            address[1],
            [(i, True) for i in sent],
            datetime.now(UTC),
        )

    async def _send(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, outbound: Outbound
    ) -> list[int]:
        return await self._send_to(context.bot, chat_id, outbound, check_owner=True)

    async def _send_to(
        self, bot: Bot, chat_id: int, outbound: Outbound, *, check_owner: bool
    ) -> list[int]:
        sent: list[int] = []
        for message in render(outbound, self.translator, self.codec):
            if (
                check_owner
                and outbound.conversation_id is not None
                and owned_by_staff(
                    await self.blocking(self.store.owner_of, outbound.conversation_id)
                )
            ):
                log.info(
                    "a member of staff owns conversation %s: the bot stays silent",
                    outbound.conversation_id,
                )
                break
            try:
                result = await bot.send_message(
                    chat_id,
                    message.text,
                    reply_markup=message.keyboard,
                    protect_content=message.protect or None,
                )
            except Forbidden:
                log.info(
                    "person blocked the bot; no more messages are sent (conversation=%s)",
                    outbound.conversation_id,
                )
                await self.blocking(
                    self.store.set_blocked, CHANNEL, str(chat_id), datetime.now(UTC)
                )
                if self.desk is not None:
                    await self.desk.person_blocked(bot, outbound.person_id)
                break
            except TelegramError as exc:
                log.error(
                    "a reply could not be sent (conversation=%s): %s",
                    outbound.conversation_id,
                    type(exc).__name__,
                )
                break
            sent.append(result.message_id)
        return sent

    async def _quick_exit(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, message_id: int | None
    ) -> None:
        """Delete every message of this chat that Telegram still allows (48 hours)."""
        tracked = await self.blocking(self.store.take_messages, CHANNEL, str(chat_id))
        cutoff = datetime.now(UTC) - DELETE_WINDOW
        ids = sorted(
            {i for i, sent_at in tracked if sent_at >= cutoff}
            | ({message_id} if message_id is not None else set())
        )
        for start in range(0, len(ids), 100):
            batch = ids[start : start + 100]
            try:
                await context.bot.delete_messages(chat_id, batch)
            except BadRequest:
                for single in batch:  # one too old or already gone: delete the rest one by one
                    with contextlib.suppress(TelegramError):
                        await context.bot.delete_message(chat_id, single)
            except TelegramError as exc:
                log.error("quick exit could not delete messages: %s", type(exc).__name__)
        log.info("quick exit: %d message(s) deleted", len(ids))

    async def _not_private(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Groups: say once, in neutral words, that the bot only talks in private, and leave."""
        chat = update.effective_chat
        assert chat is not None
        if chat.id in self._groups_told or chat.type == ChatType.CHANNEL:
            return
        self._groups_told.add(chat.id)
        user = update.effective_user
        language = self._language(user.language_code if user else None)
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(
                chat.id, self.translator.render(language, Text("telegram.private_only"))
            )
            await context.bot.leave_chat(chat.id)
        log.info("left a group chat (the bot works in private chats only)")

    def _language(self, code: str | None) -> str:
        for candidate in ((code or "").replace("-", "_"), (code or "").split("-")[0]):
            if candidate and self.translator.supports(candidate):
                return candidate
        return "en"

    async def _membership(self, update: Update, bot: Bot) -> None:
        member = update.my_chat_member
        assert member is not None
        if member.chat.type != ChatType.PRIVATE:
            return
        blocked = member.new_chat_member.status in ("kicked", "left")
        await self.blocking(
            self.store.set_blocked,
            CHANNEL,
            str(member.chat.id),
            datetime.now(UTC) if blocked else None,
        )
        if blocked and self.desk is not None:
            person = await self.blocking(self.store.person_id_for, CHANNEL, str(member.chat.id))
            await self.desk.person_blocked(bot, person)
        log.info("a person %s the bot", "blocked" if blocked else "unblocked")


class _RefusedUpdates(logging.Filter):
    """PTB's webhook server answers 403 to an update without the right secret token but logs
    that only at debug level, with the token it got: log one clear warning without it, and let
    the logger's other debug lines drop as they would at its usual level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.INFO:
            return True
        message = record.getMessage()
        if "secret token" in message and "expecting" not in message:
            log.warning("webhook: refused an update without the right secret token (403)")
        return False


def quiet_libraries() -> None:
    """httpx logs every request URL at INFO, and the URL holds the bot token."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    updater = logging.getLogger("telegram.ext.Updater")  # PTB's webhook handler logs here
    updater.setLevel(logging.DEBUG)
    updater.addFilter(_RefusedUpdates())


def run(channel: TelegramChannel, settings: TelegramSettings) -> None:
    """Long polling, or a webhook when a URL is set (every update must carry the secret)."""
    quiet_libraries()
    application = channel.build(settings)
    if settings.webhook_url:
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=settings.token.split(":")[0],
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
