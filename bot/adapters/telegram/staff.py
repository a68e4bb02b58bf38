"""Hotline staff on Telegram: a forum topic per case in a staff supergroup, a case card,
claim / release / close / reassign, relay both ways by copying (staff stay anonymous), internal
notes, canned replies in the person's language, escalation when nobody claims a case.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.adapters.db.cases import CardFacts, CaseStore
from bot.adapters.db.referrals import ReferralStore
from bot.adapters.telegram.staff_settings import StaffSettings
from bot.domain import engine
from bot.domain.case import BOT, Case, CaseStatus, Role, allowed, staff_owner
from bot.domain.referral_lifecycle import Referral
from bot.ports import Clock
from bot.services.conversation import ConversationService
from bot.services.messages import Outbound
from bot.services.referral_offers import Basis

if TYPE_CHECKING:
    from bot.adapters.telegram.app import TelegramChannel

log = logging.getLogger(__name__)
CHANNEL = "telegram"


def card_text(case: Case, facts: CardFacts, profile: Mapping[str, str], minutes: int) -> str:
    """What staff see first: labels and ids only, never a name or a phone number."""
    lines = [
        f"{case.title(facts.language or '?')}",
        f"Opened because: {case.reason}",
        f"Language: {facts.language or 'unknown'}",
        f"Country now: {profile.get('country') or facts.state.get('country') or 'not given'}"
        f" · Nationality: {profile.get('nationality') or 'not given'}",
        f"Outcome: {facts.outcome or 'not assessed yet'}"
        + (f" (rule {facts.rule})" if facts.rule else ""),
        f"Flags: {', '.join(facts.flags) or 'none'}",
        f"Supporting: {', '.join(facts.supporting) or 'none'}",
        f"Suggested by their own words, not confirmed: "
        f"{str(facts.state.get('suggested') or 'none').replace(',', ', ')}",
        f"Safety mode: {'yes' if facts.state.get('safe_mode') else 'no'}",
        f"Last message: {minutes} min ago",
        f"Owner: {('staff ' + str(case.owner_id)) if case.owner_id else 'nobody yet'}",
    ]
    return "\n".join(lines)


def card_buttons(case: Case) -> InlineKeyboardMarkup:
    if case.status is CaseStatus.CLOSED:
        return InlineKeyboardMarkup([])
    row = (
        [InlineKeyboardButton("Release", callback_data=f"s:release:{case.id}")]
        if (case.owner_id)
        else [InlineKeyboardButton("Claim", callback_data=f"s:claim:{case.id}")]
    )
    row.append(InlineKeyboardButton("Close", callback_data=f"s:close:{case.id}"))
    return InlineKeyboardMarkup([row])


@dataclass
class StaffDesk:
    cases: CaseStore
    service: ConversationService
    settings: StaffSettings
    clock: Clock
    channel: TelegramChannel
    referrals: ReferralStore
    _reported: set[tuple[int, int]] = field(default_factory=set)
    _escalation: asyncio.Task[None] | None = None

    # -- set-up ----------------------------------------------------------------------------
    async def start(self, bot: Bot) -> None:
        await self._db(self.cases.bootstrap_admins, self.settings.admins, self.clock.now())
        self._escalation = asyncio.create_task(self._escalate_forever(bot))

    async def stop(self) -> None:
        if self._escalation is not None:
            self._escalation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._escalation

    async def _db(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self.channel.blocking(partial(function, *args, **kwargs))

    # -- cases for people --------------------------------------------------------------------
    async def open_case(self, bot: Bot, outbound: Outbound, reason: str) -> Case | None:
        if outbound.person_id is None:
            return None
        language = outbound.language
        case, created = await self._db(
            self.cases.open_case,
            outbound.person_id,
            outbound.conversation_id,
            self.settings.group_for(language),
            reason,
            self.clock.now(),
        )
        opened: Case = case
        if created or opened.thread_id is None:
            opened = await self._new_topic(bot, opened)
        return opened

    async def _new_topic(self, bot: Bot, case: Case) -> Case:
        """A forum topic for the case with its card on top (again, if staff deleted it)."""
        facts = await self._db(self.cases.card_facts, case)
        topic = await bot.create_forum_topic(case.group_chat_id, case.title(facts.language or "?"))
        card = await bot.send_message(
            case.group_chat_id,
            self._card(case, facts),
            message_thread_id=topic.message_thread_id,
            reply_markup=card_buttons(case),
        )
        await self._db(
            self.cases.set_topic,
            case.id,
            topic.message_thread_id,
            card.message_id,
            self.clock.now(),
        )
        log.info("case %s: topic opened in its staff group", case.id)
        refreshed: Case = await self._db(self.cases.get, case.id)
        return refreshed

    def _card(self, case: Case, facts: CardFacts) -> str:
        answers = tuple(engine.Answered(step, value) for step, value in facts.answers)
        profile = engine.profile_values(self.service.flow, answers)
        minutes = int((self.clock.now() - facts.last_seen_at).total_seconds() // 60)
        return card_text(case, facts, profile, max(minutes, 0))

    async def _refresh(self, bot: Bot, case_id: str) -> Case | None:
        """Title and card follow the case's status and owner."""
        case: Case | None = await self._db(self.cases.get, case_id)
        if case is None or case.thread_id is None:
            return case
        facts = await self._db(self.cases.card_facts, case)
        with contextlib.suppress(TelegramError):
            await bot.edit_forum_topic(
                case.group_chat_id, case.thread_id, name=case.title(facts.language or "?")
            )
        if case.card_message_id:
            with contextlib.suppress(TelegramError):
                await bot.edit_message_text(
                    self._card(case, facts),
                    case.group_chat_id,
                    case.card_message_id,
                    reply_markup=card_buttons(case),
                )
        if case.status is CaseStatus.CLOSED:
            with contextlib.suppress(TelegramError):
                await bot.close_forum_topic(case.group_chat_id, case.thread_id)
        return case

    async def to_topic(self, bot: Bot, case: Case, send: Callable[[int], Awaitable[Any]]) -> Any:
        """Post into the case's topic; a topic staff deleted is made again with its card."""
        assert case.thread_id is not None
        try:
            return await send(case.thread_id)
        except BadRequest as exc:
            if "thread" not in str(exc).lower():
                raise
            case = await self._new_topic(bot, case)
            assert case.thread_id is not None
            return await send(case.thread_id)

    async def relay_from_person(
        self,
        bot: Bot,
        outbound: Outbound,
        chat_id: int,
        message_id: int | None,
        edited_text: str | None,
    ) -> None:
        """The person wrote while a member of staff owns the case: copy it into the topic."""
        case: Case | None = await self._db(self.cases.open_for_person, outbound.person_id or "")
        if case is None or case.thread_id is None:
            return
        if edited_text is not None and message_id is not None:
            link = await self._db(self.cases.linked, case.id, person_message_id=message_id)
            if link is not None:
                with contextlib.suppress(TelegramError):
                    await bot.edit_message_text(edited_text, case.group_chat_id, link[1])
            return
        if message_id is None:
            return
        copy = await self.to_topic(
            bot,
            case,
            lambda thread: bot.copy_message(
                case.group_chat_id, chat_id, message_id, message_thread_id=thread
            ),
        )
        if copy is not None:
            await self._db(self.cases.link, case.id, message_id, copy.message_id, True)
        if case.status is CaseStatus.WAITING:
            await self._db(self.cases.set_status, case.id, CaseStatus.CLAIMED, self.clock.now())
            await self._refresh(bot, case.id)

    async def person_blocked(self, bot: Bot, person_id: str | None) -> None:
        if person_id is None:
            return
        case: Case | None = await self._db(self.cases.open_for_person, person_id)
        if case is not None:
            await self._db(self.cases.set_status, case.id, CaseStatus.BLOCKED, self.clock.now())
            await self._db(self.cases.event, case, "person_blocked_bot", BOT, self.clock.now())
            await self._refresh(bot, case.id)

    # -- staff in their groups -------------------------------------------------------------
    async def on_update(self, update: Update, bot: Bot) -> None:
        user = update.effective_user
        chat = update.effective_chat
        if chat is None or user is None or user.is_bot:
            return
        role: Role | None = await self._db(self.cases.role_of, user.id)
        query = update.callback_query
        if query is not None:
            with contextlib.suppress(TelegramError):
                await query.answer("" if role else "Only staff can do this.")
            if role is not None and query.data and query.data.startswith("s:"):
                _, action, case_id = [*query.data.split(":"), "", ""][:3]
                await self._act(bot, user.id, role, action, case_id, [])
            elif role is None:
                await self._report(bot, chat.id, user.id)
            return
        message = update.message or update.edited_message
        if message is None:
            return
        if role is None:
            await self._report(bot, chat.id, user.id)
            return
        thread = message.message_thread_id if message.is_topic_message else None
        case: Case | None = await self._db(self.cases.by_topic, chat.id, thread) if thread else None
        text = message.text or ""
        if text.startswith("/"):
            words = text[1:].split()
            command = words[0].split("@")[0].lower() if words else ""
            await self._command(bot, message, user.id, role, command, words[1:], case)
            return
        if case is None:
            return
        if text.startswith(self.settings.note_prefix):
            await self._db(
                self.cases.event, case, "internal_note", f"staff:{user.id}", self.clock.now()
            )
            return  # notes stay in the topic, never reach the person
        if case.owner_id != user.id:
            await self._say(
                bot,
                message,
                "Only the member of staff who claimed this case writes "
                f"to the person. Claim it first, or start with "
                f"{self.settings.note_prefix} for an internal note.",
            )
            return
        await self._relay_to_person(bot, case, message, edited=update.edited_message is not None)

    async def _relay_to_person(
        self, bot: Bot, case: Case, message: Message, *, edited: bool
    ) -> None:
        address = await self._db(self.channel.store.reply_address, case.person_id)
        if address is None:
            return
        person_chat = int(address[1])
        now = self.clock.now()
        if edited:
            link = await self._db(self.cases.linked, case.id, topic_message_id=message.message_id)
            if link is not None and message.text:
                with contextlib.suppress(TelegramError):
                    await bot.edit_message_text(message.text, person_chat, link[0])
            return
        try:
            copy = await bot.copy_message(person_chat, case.group_chat_id, message.message_id)
        except Forbidden:
            await self.person_blocked(bot, case.person_id)
            await self._say(bot, message, "The person has blocked the bot: nothing was sent.")
            return
        await self._db(self.cases.link, case.id, copy.message_id, message.message_id, False)
        await self._db(
            self.channel.store.track_messages, CHANNEL, address[1], [(copy.message_id, True)], now
        )
        await self._db(self.cases.event, case, "staff_message", f"staff:{case.owner_id}", now)
        if case.status is CaseStatus.CLAIMED:
            await self._db(self.cases.set_status, case.id, CaseStatus.WAITING, now)
            await self._refresh(bot, case.id)

    async def _command(
        self,
        bot: Bot,
        message: Message,
        user_id: int,
        role: Role,
        command: str,
        args: list[str],
        case: Case | None,
    ) -> None:
        if command in ("claim", "release", "close", "reassign", "view") and case is not None:
            await self._act(bot, user_id, role, command, case.id, args, message)
        elif command == "c" and case is not None and args:
            await self._canned(bot, message, user_id, case, args[0])
        elif command in ("refer", "override") and case is not None:
            await self._refer(bot, message, user_id, role, command, case, args)
        elif command == "staff":
            await self._staff_command(bot, message, user_id, role, args)
        elif command == "open" and args:
            await self._open_by_staff(bot, message, user_id, role, args[0])
        elif command == "cases":
            await self._say(bot, message, await self._digest() or "No unclaimed cases.")
        else:
            await self._say(
                bot,
                message,
                "Commands: in a case topic /claim /release /close "
                "/reassign USER_ID /c NAME (canned reply) /view /refer SERVICE_ID (asks the "
                "person's consent); supervisors: /override SERVICE_ID REASON; anywhere /cases, "
                "/open P-XXXXXX; admins: /staff add USER_ID ROLE, /staff remove "
                f"USER_ID, /staff list. Start a line with {self.settings.note_prefix}"
                " for a note that never reaches the person.",
            )

    async def _act(
        self,
        bot: Bot,
        user_id: int,
        role: Role,
        action: str,
        case_id: str,
        args: list[str],
        message: Message | None = None,
    ) -> None:
        case: Case | None = await self._db(self.cases.get, case_id)
        if case is None or not allowed(
            role, action if action in ("claim", "release", "close", "reassign", "view") else "view"
        ):
            if message is not None:
                await self._say(bot, message, f"Your role cannot {action} here.")
            return
        actor = f"staff:{user_id}"
        now = self.clock.now()
        address = await self._db(self.channel.store.reply_address, case.person_id)
        if action == "view":
            await self._db(self.cases.event, case, "case_viewed", actor, now)
            if message is not None:
                facts = await self._db(self.cases.card_facts, case)
                await self._say(bot, message, self._card(case, facts))
            return
        if action in ("claim", "reassign"):
            target = user_id
            if action == "reassign":
                if not args or not args[0].lstrip("-").isdigit():
                    if message is not None:
                        await self._say(bot, message, "Use /reassign USER_ID")
                    return
                target = int(args[0])
                if await self._db(self.cases.role_of, target) is None:
                    if message is not None:
                        await self._say(bot, message, "That user is not on the staff list.")
                    return
            won = await self._db(
                self.cases.claim, case.id, target, now, force=(action == "reassign")
            )
            if not won:
                if message is not None:
                    await self._say(bot, message, "Someone else has already claimed this case.")
                return
            await self._db(
                self.cases.event,
                case,
                f"case_{action}ed" if action == "claim" else "case_reassigned",
                actor,
                now,
                {"owner": target},
            )
            if address is not None:
                await self._db(
                    self.service.set_owner, address[0], address[1], staff_owner(target), actor
                )
                if case.owner_id is None:
                    await self.channel.notify(bot, address, "handover.joined")
        elif action in ("release", "close"):
            if (
                action == "release"
                and case.owner_id not in (None, user_id)
                and not allowed(role, "reassign")
            ):
                if message is not None:
                    await self._say(bot, message, "Only the owner or a supervisor can release.")
                return
            status = CaseStatus.CLOSED if action == "close" else CaseStatus.WAITING
            await self._db(self.cases.set_status, case.id, status, now, owner_id=None)
            await self._db(self.cases.event, case, f"case_{action}d", actor, now)
            if address is not None:
                await self._db(self.service.set_owner, address[0], address[1], BOT, actor)
                if case.owner_id is not None:
                    await self.channel.notify(bot, address, "handover.left", resume=True)
        await self._refresh(bot, case.id)

    async def _canned(
        self, bot: Bot, message: Message, user_id: int, case: Case, name: str
    ) -> None:
        key = f"canned.{name}"
        if case.owner_id != user_id:
            await self._say(bot, message, "Claim the case before writing to the person.")
            return
        if key not in self.service.data.catalog:
            names = sorted(
                k.split(".", 1)[1]
                for k in self.service.data.catalog.texts
                if k.startswith("canned.")
            )
            await self._say(bot, message, f"No canned reply {name!r}. There is: {', '.join(names)}")
            return
        address = await self._db(self.channel.store.reply_address, case.person_id)
        if address is not None:
            await self.channel.notify(bot, address, key)
            await self._db(
                self.cases.event,
                case,
                "canned_reply",
                f"staff:{user_id}",
                self.clock.now(),
                {"key": key},
            )

    async def _refer(
        self,
        bot: Bot,
        message: Message,
        user_id: int,
        role: Role,
        command: str,
        case: Case,
        args: list[str],
    ) -> None:
        """/refer SERVICE_ID: the person is asked for consent (by the case's owner).
        /override SERVICE_ID REASON: a supervisor records the referral without it, audited."""
        if not allowed(role, command):
            await self._say(bot, message, f"Your role cannot {command}: ask a supervisor.")
            return
        if command == "refer" and case.owner_id != user_id:
            await self._say(bot, message, "Claim the case before writing to the person.")
            return
        reason = " ".join(args[1:]).strip()
        if not args or (command == "override" and not reason):
            await self._say(
                bot, message, "Use /refer SERVICE_ID, or /override SERVICE_ID REASON (required)"
            )
            return
        address = await self._db(self.channel.store.reply_address, case.person_id)
        if address is None:
            await self._say(bot, message, "The person's chat is not known any more.")
            return
        actor = f"staff:{user_id}"
        if command == "refer":
            outbound = await self._db(self.service.offer_referral, *address, args[0], actor)
            if outbound is None:
                await self._say(
                    bot,
                    message,
                    f"No referral to {args[0]!r} is possible for this person (unknown id, "
                    "no channel that takes referrals, or it does not fit their situation).",
                )
                return
            await self.channel.deliver(bot, address, outbound)
            await self._say(bot, message, f"The person was asked whether to send it to {args[0]}.")
            return
        referral_id = await self._db(
            self.service.override_referral, *address, args[0], user_id, reason
        )
        if referral_id is None:
            await self._say(bot, message, f"{args[0]!r} is not a service that takes referrals.")
            return
        await self._say(
            bot,
            message,
            f"Referral {referral_id[:8]} to {args[0]} recorded without the person's answer "
            "(outcome only, no contact details). Your reason is in the audit log.",
        )

    async def _staff_command(
        self, bot: Bot, message: Message, user_id: int, role: Role, args: list[str]
    ) -> None:
        if not allowed(role, "role"):
            await self._say(bot, message, "Only admins manage the staff list.")
            return
        if args[:1] == ["list"]:
            listing = await self._db(self.cases.staff)
            await self._say(bot, message, "\n".join(f"{uid}: {r.value}" for uid, r in listing))
            return
        if len(args) >= 2 and args[0] in ("add", "remove") and args[1].isdigit():
            target = int(args[1])
            new_role = None
            if args[0] == "add":
                try:
                    new_role = Role(args[2] if len(args) > 2 else "agent")
                except ValueError:
                    await self._say(bot, message, "Roles: agent, supervisor, admin.")
                    return
            await self._db(
                self.cases.set_role, target, new_role, f"staff:{user_id}", self.clock.now()
            )
            await self._say(bot, message, f"{target}: {new_role.value if new_role else 'removed'}")
            return
        await self._say(
            bot, message, "Use /staff add USER_ID ROLE, /staff remove USER_ID, /staff list"
        )

    async def _open_by_staff(
        self, bot: Bot, message: Message, user_id: int, role: Role, pseudonym: str
    ) -> None:
        known: Case | None = await self._db(self.cases.by_pseudonym, pseudonym)
        if known is None or not allowed(role, "open"):
            await self._say(bot, message, "No person with that id.")
            return
        case, created = await self._db(
            self.cases.open_case,
            known.person_id,
            known.conversation_id,
            known.group_chat_id,
            "opened_by_staff",
            self.clock.now(),
        )
        if created or case.thread_id is None:
            await self._new_topic(bot, case)
        await self._db(
            self.cases.event, case, "case_opened_by_staff", f"staff:{user_id}", self.clock.now()
        )

    async def _report(self, bot: Bot, chat_id: int, user_id: int) -> None:
        """Someone not on the staff list wrote in a staff group: nothing for them, and the
        admins are told once."""
        if (chat_id, user_id) in self._reported:
            return
        self._reported.add((chat_id, user_id))
        log.warning("a member who is not staff wrote in a staff group (group=%s)", chat_id)
        with contextlib.suppress(TelegramError):
            await bot.send_message(
                chat_id,
                f"Admins: Telegram user {user_id} wrote in this staff group but is not "
                "on the staff list. They see nothing from the bot. Remove them if they should "
                "not be here, or add them with /staff add.",
            )

    async def _say(self, bot: Bot, message: Message, text: str) -> None:
        with contextlib.suppress(TelegramError):
            await bot.send_message(
                message.chat_id,
                text,
                message_thread_id=message.message_thread_id if message.is_topic_message else None,
            )

    # -- escalation ------------------------------------------------------------------------
    async def _escalate_forever(self, bot: Bot) -> None:
        while True:
            try:
                await self.escalate(bot)
                await self.referral_news(bot)
            except Exception:
                log.exception("escalation check failed; it runs again")
            await asyncio.sleep(self.settings.check_every)

    async def escalate(self, bot: Bot) -> int:
        """Cases nobody claimed in time: tell the person honestly, with the emergency numbers
        for their country, alert the topic again and send supervisors a digest."""
        cutoff = self.clock.now() - self.settings.escalate_after
        late: list[Case] = await self._db(self.cases.unclaimed_since, cutoff)
        for case in late:
            await self._db(self.cases.mark_escalated, case.id, self.clock.now())
            address = await self._db(self.channel.store.reply_address, case.person_id)
            if address is not None:
                await self.channel.notify(bot, address, "handover.busy", emergency_numbers=True)
            minutes = int(self.settings.escalate_after.total_seconds() // 60)
            if case.thread_id is not None:
                with contextlib.suppress(TelegramError):
                    alert = (
                        f"⏰ Nobody has claimed this case after {minutes} min. The person "
                        "was given the emergency numbers. Please claim it."
                    )
                    await self.to_topic(
                        bot, case, partial(self._post, bot, case.group_chat_id, alert)
                    )
            await self._db(self.cases.event, case, "case_escalated", BOT, self.clock.now())
        if late:
            digest = await self._digest()
            for chat_id in self.settings.chat_ids:
                with contextlib.suppress(TelegramError):
                    await bot.send_message(chat_id, digest)
        return len(late)

    async def referral_news(self, bot: Bot) -> int:
        """Tell staff what partners answered (with their reason) and what failed. When a
        partner could not take a case, a case opens (if none is) with the next matching
        service, which the person is also offered when they next write."""
        found: list[tuple[Referral, str]] = await self._db(self.referrals.staff_news)
        for referral, news in found:
            if referral.person_id is None:  # forgotten at their request: nothing to follow up
                await self._db(self.referrals.set_staff_told, referral.id, news)
                continue
            text = await self._db(self._news_text, referral, news)
            case: Case | None = await self._db(self.cases.open_for_person, referral.person_id)
            if case is None and news in ("rejected", "overdue", "failed"):
                case, _ = await self._db(
                    self.cases.open_case,
                    referral.person_id,
                    referral.conversation_id,
                    self.settings.group_for(None),
                    f"referral_{news}",
                    self.clock.now(),
                )
                case = await self._new_topic(bot, case)
            if case is not None and case.thread_id is not None:
                with contextlib.suppress(TelegramError):
                    await self.to_topic(
                        bot, case, partial(self._post, bot, case.group_chat_id, text)
                    )
            await self._db(self.referrals.set_staff_told, referral.id, news)
        return len(found)

    def _news_text(self, referral: Referral, news: str) -> str:
        directory = self.service.data.directory
        service = directory.service(referral.service_id)
        name = service.name if service else referral.service_id
        what = {
            "accepted": "accepted",
            "done": "marked done",
            "rejected": "rejected",
            "overdue": "got no answer in time",
            "failed": "could not be delivered on any channel",
            "revoked": "withdrawn by the person",
        }.get(news, news)
        lines = [f"📨 Referral {referral.id[:8]} to {name}: {what}."]
        if news == "rejected" and referral.partner_reason:
            lines.append(f"Partner's reason (for staff only): {referral.partner_reason}")
        if news in ("rejected", "overdue", "failed"):
            packet = self.referrals.packet(referral.id)
            person = referral.person_id or ""
            tried = {r.service_id for r in self.referrals.list_for_person(person)}
            options = (
                self.service.offers.candidates(self.clock.now(), Basis.from_packet(packet), tried)
                if packet
                else []
            )
            if options:
                nxt = options[0][0]
                lines.append(
                    f"Next matching service: {nxt.name} ({nxt.id}). The person is offered it "
                    f"when they next write; /refer {nxt.id} asks them now."
                )
            else:
                lines.append("No other matching service takes referrals: please follow up.")
        return "\n".join(lines)

    @staticmethod
    async def _post(bot: Bot, chat_id: int, text: str, thread: int) -> Message:
        return await bot.send_message(chat_id, text, message_thread_id=thread)

    async def _digest(self) -> str:
        waiting: list[Case] = await self._db(self.cases.unclaimed)
        if not waiting:
            return ""
        now = self.clock.now()
        lines = [
            f"{c.pseudonym}: {int((now - c.opened_at).total_seconds() // 60)} min, {c.reason}"
            for c in waiting
        ]
        return "Supervisors: unclaimed cases\n" + "\n".join(lines)
