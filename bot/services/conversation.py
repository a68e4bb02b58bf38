"""The conversation use case: one inbound message in, replies out, state committed first.

Safety rules (screening.md section 7) live here: safety check and consent come first, every
question can be skipped, a person and quick exit are offered with every question, and the bot
only ever answers: it never writes first.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain import engine
from bot.domain.assessment import assess
from bot.domain.case import BOT, owned_by_staff
from bot.domain.flow import EndAction, Flow, Step, StepKind
from bot.domain.model import Assessment, Outcome, Profile
from bot.domain.referral import deliverable
from bot.domain.referral_lifecycle import ReferralScope
from bot.domain.routing import route
from bot.flowdata.load import FlowData
from bot.ports import (
    Clock,
    ConversationRecord,
    ConversationStatus,
    Detection,
    Intent,
    LanguageDetector,
    Nlu,
    NluResult,
    StaleConversation,
    Store,
    StoreUnavailable,
    Translator,
    Unit,
)
from bot.services.messages import (
    MAX_TEXT,
    Choice,
    Command,
    Inbound,
    InboundKind,
    Outbound,
    Reply,
    Text,
    say,
)
from bot.services.referral_offers import (
    CONSENT,
    WITHDRAW,
    Basis,
    ReferralOffers,
    ReferralOptions,
)
from bot.services.turn import Turn

log = logging.getLogger(__name__)

# Inbound kinds that are kept (encrypted) and acknowledged, never taken as an answer.
_KEPT = {
    InboundKind.EDITED: ("free_text", "input.edited"),
    InboundKind.FORWARDED: ("free_text", "input.forwarded"),
    InboundKind.CONTACT: ("contact", "input.contact"),
}

ANSWER, GLOBAL, LANGUAGE, FORGET = "a", "g", "l", "f"


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    flow_id: str = "screening"
    org_name: str = "a non-profit helpline"
    retention_days: int = 90
    default_language: str = "en"
    verified_within_days: int = 365
    referral_answer_hours: float = 72.0  # a partner's time to answer, unless the directory says
    delivery_deadline_hours: float = 24.0


class ConversationService:
    def __init__(
        self,
        data: FlowData,
        store: Store,
        clock: Clock,
        translator: Translator,
        detector: LanguageDetector,
        options: ServiceOptions | None = None,
        nlu: Nlu | None = None,
    ) -> None:
        self.data = data
        self.store = store
        self.clock = clock
        self.translator = translator
        self.detector = detector
        self.nlu = nlu
        self.options = options or ServiceOptions()
        self.flow: Flow = data.flows[self.options.flow_id]
        self.offers = ReferralOffers(
            data,
            translator,
            ReferralOptions(
                answer_within=timedelta(hours=self.options.referral_answer_hours),
                delivery_deadline=timedelta(hours=self.options.delivery_deadline_hours),
                verified_within_days=self.options.verified_within_days,
            ),
        )

    # -- entry point -----------------------------------------------------------------------
    def handle(self, msg: Inbound) -> Outbound:
        """Handle one message. Everything it changes is committed before this returns."""
        now = self.clock.now()
        if msg.text and msg.kind is not InboundKind.COMMAND:
            msg = replace(msg, text=self.detector.normalize(msg.text[: MAX_TEXT * 2]))
        detection = self._detect(msg)
        understood = self._understand(msg, detection)
        for _attempt in range(3):
            try:
                with self.store.unit(msg.channel, msg.user_ref, now) as unit:
                    turn = Turn(unit=unit, msg=msg, now=now, language="", understood=understood)
                    self._choose_language(turn, detection)
                    self._dispatch(turn)
                    self._news(turn)
                    self._language_notes(turn)
                if turn.forgotten:
                    self.store.scrub()
                return self._outbound(turn)
            except StaleConversation:
                log.info("conversation changed by another worker; handling the message again")
            except StoreUnavailable:
                log.exception("database unavailable; the person was asked to try again")
                break
        language = self._supported(msg.language_hint) or self.options.default_language
        return Outbound(language=language, replies=(say("error.try_again"),))

    # -- routing of one message ------------------------------------------------------------
    def _dispatch(self, turn: Turn) -> None:
        msg = turn.msg
        turn.conversation = turn.unit.active_conversation()
        conv = turn.conversation
        if (
            conv is not None
            and conv.state.get("pending") == "forget"
            and not (msg.kind is InboundKind.BUTTON and msg.button.startswith(f"{FORGET}:"))
        ):
            conv.state.pop("pending", None)
            self._save(turn)
        if conv is not None and owned_by_staff(conv.state.get("owner")) and _for_staff(msg):
            self._relay(turn)
            return
        if msg.kind is InboundKind.COMMAND:
            self._command(turn, _command_name(msg))
        elif msg.kind is InboundKind.BUTTON:
            self._button(turn, msg.button)
        elif conv is None:
            self._begin(turn)
            if msg.kind is InboundKind.TEXT and msg.text.strip():
                self._keep_text(turn, msg.text.strip())  # a first cry for help is never lost
                self._act_on_meaning(turn)
        elif msg.kind is InboundKind.TEXT:
            self._text(turn)
        elif msg.kind is InboundKind.LOCATION:
            self._location(turn)
        elif msg.kind in _KEPT:
            kind, reply = _KEPT[msg.kind]
            if msg.text.strip():
                self._keep_text(turn, msg.text.strip(), kind)
            turn.replies.append(say(reply))
            self._ask_current(turn)
        else:
            self._event(turn, "media_received", {"media": msg.media or "unknown"})
            turn.replies.append(say("input.media"))
            self._ask_current(turn)

    def _command(self, turn: Turn, name: str) -> None:
        try:
            command = Command(name)
        except ValueError:
            turn.replies.append(say("input.unknown_command"))
            self._ask_current(turn)
            return
        self._event(turn, f"command_{command.value}")
        match command:
            case Command.START:
                self._begin(turn)
            case Command.HELP:
                turn.replies.append(say("help.text"))
                self._ask_current(turn)
            case Command.LANGUAGE:
                turn.replies.append(self._language_picker())
            case Command.RESTART:
                self._restart(turn)
            case Command.HUMAN:
                self._ask_for_person(turn)
            case Command.EXIT:
                self._quick_exit(turn)
            case Command.FORGET:
                self._confirm_forget(turn)
            case Command.BACK:
                self._back(turn)
            case Command.REFERRALS:
                self.offers.show(turn)
                if turn.conversation is not None:
                    self._ask_current(turn)

    def _button(self, turn: Turn, payload: str) -> None:
        kind, _, rest = payload.partition(":")
        if kind == ANSWER:
            step_id, _, answer = rest.partition(":")
            self._answer(turn, step_id, answer)
        elif kind == GLOBAL and rest in ("human", "exit", "back"):
            self._command(turn, rest)
        elif kind == LANGUAGE and self.translator.supports(rest):
            turn.unit.set_language(rest, explicit=True)
            turn.language = rest
            self._event(turn, "language_chosen", {"language": rest})
            turn.replies.append(say("language.changed"))
            self._ask_current(turn)
        elif kind == CONSENT and self.offers.answer(turn, rest):
            self._ask_current(turn)
        elif kind == WITHDRAW:
            self.offers.withdraw(turn, rest)
            if turn.conversation is not None:
                self._ask_current(turn)
        elif (
            kind == FORGET
            and turn.conversation is not None
            and turn.conversation.state.get("pending") == "forget"
        ):
            self._forget_answer(turn, rest == "yes")
        else:
            # An old, foreign or garbled button: say so kindly and show where we are.
            self._event(turn, "stale_button")
            turn.replies.append(say("input.already_answered"))
            self._ask_current(turn)

    # -- the interview -----------------------------------------------------------------------
    def _begin(self, turn: Turn) -> None:
        conv = turn.conversation
        if conv is not None and not self._finished(conv):
            turn.replies.append(say("resume.welcome"))
            self._ask_current(turn)
            return
        if conv is not None and self._step(conv).action is EndAction.PAUSE:
            self._undo_pause(turn)
            return
        if conv is not None:
            self._close(turn, "finished")
        self._new_conversation(turn)

    def _new_conversation(self, turn: Turn) -> None:
        progress = engine.start(self.flow, self.data.book)
        turn.conversation = turn.unit.start_conversation(self.flow.id, progress.step, turn.now)
        self._event(turn, "conversation_started", {"flow": self.flow.id})
        self._ask_current(turn)

    def _answer(self, turn: Turn, step_id: str, answer: str) -> None:
        conv = turn.conversation
        if conv is None or conv.step != step_id or self._finished(conv):
            self._event(turn, "stale_button")
            turn.replies.append(say("input.already_answered"))
            if conv is None:
                self._new_conversation(turn)
            else:
                self._ask_current(turn)
            return
        progress = engine.Progress(step=conv.step, answers=conv.answers)
        try:
            progress = engine.advance(self.flow, self.data.book, progress, answer)
        except engine.InvalidAnswer:
            self._event(turn, "invalid_answer", {"step": step_id})
            turn.replies.append(say("input.not_understood"))
            self._ask_current(turn)
            return
        turn.unit.add_answer(conv.id, progress.answers[-1], turn.now)
        device_unsafe = (
            self.flow.steps[step_id].indicator == "urg_device_unsafe" and answer == "yes"
        )
        unsure = step_id == self.flow.start and answer == "prefer_not_to_say"
        if device_unsafe or unsure:  # someone may see this chat: short, neutral, no outcomes
            conv.state["safe_mode"] = True
        conv.step, conv.answers = progress.step, progress.answers
        self._save(turn)
        self._arrive(turn)

    def _arrive(self, turn: Turn) -> None:
        """After moving: ask the next question, or carry out the end the interview reached."""
        conv = turn.conversation
        assert conv is not None
        step = self._step(conv)
        if step.kind is not StepKind.END:
            self._ask_current(turn)
            return
        self._event(turn, "step_end", {"step": step.id, "action": str(step.action)})
        turn.replies.append(say(step.text))
        if step.action in (EndAction.ASSESS, EndAction.HANDOVER):
            self._conclude(turn, step)
        elif step.action is EndAction.ADVICE:
            self._advice(turn)
        if step.action is EndAction.HANDOVER:
            self._mark_needs_person(turn, reason=step.id)

    def _conclude(self, turn: Turn, step: Step) -> None:
        conv = turn.conversation
        assert conv is not None
        values = engine.indicator_values(self.flow, self.data.book, conv.answers)
        result = assess(self.data.book, values)
        turn.unit.add_assessment(conv.id, result, turn.now)
        self._event(turn, "assessed", {"outcome": result.outcome.value, "rule": result.rule})
        if step.action is EndAction.HANDOVER and result.outcome is not Outcome.IMMEDIATE_DANGER:
            return  # "something else" or the person asked: a person takes it from here
        if result.needs_person and step.action is not EndAction.HANDOVER:  # _arrive marks it
            self._mark_needs_person(turn, reason=result.outcome.value)
        safe_mode = bool(conv.state.get("safe_mode"))
        if safe_mode and result.outcome is not Outcome.IMMEDIATE_DANGER:
            turn.replies.append(say("outcome.safe_mode"))
        elif step.action is EndAction.ASSESS:
            turn.replies.append(
                Reply(parts=(Text(f"outcome.{result.outcome.value}"),), protect=True)
            )
            if result.outcome is Outcome.SCAM_FRAUD_VICTIM or "fraud_victim_too" in result.flags:
                turn.replies.append(Reply(parts=(Text("fraud.first_steps"),), protect=True))
        self._referrals(turn, result)
        if step.action is EndAction.ASSESS and not safe_mode:
            self.offers.after_outcome(turn, Basis(result, self._profile(turn)))

    def _advice(self, turn: Turn) -> None:
        conv = turn.conversation
        assert conv is not None
        count = engine.signals_answered_yes(self.flow, conv.answers)
        turn.replies.append(
            say("end.job_offer", count=count) if count else say("end.job_offer_none")
        )
        turn.replies.append(say("job_offer.advice"))
        values = engine.indicator_values(self.flow, self.data.book, conv.answers)
        self._referrals(
            turn, assess(self.data.book, values), outcome=Outcome.INSUFFICIENT_INFORMATION
        )

    def _referrals(self, turn: Turn, result: Assessment, outcome: Outcome | None = None) -> None:
        profile = self._profile(turn)
        options = route(
            outcome or result.outcome,
            profile,
            turn.now,
            self.data.directory,
            child="child" in result.flags,
            verified_within_days=self.options.verified_within_days,
        )
        shown = [r for r in options if r.shown_to_person]
        if not shown:
            turn.replies.append(say("referrals.none"))
            return
        turn.replies.append(Reply(parts=(Text("referrals.header"),), protect=True))
        for referral in shown:
            line = Text("referral.line", {"name": referral.name, "phone": referral.phone})
            reasons = tuple(Text(r.key, dict(r.params)) for r in referral.reasons)
            turn.replies.append(Reply(parts=(line, *reasons), protect=True))
        self._event(turn, "referrals_shown", {"services": ",".join(r.service_id for r in shown)})

    def _profile(self, turn: Turn) -> Profile:
        conv = turn.conversation
        assert conv is not None
        fields = engine.profile_values(self.flow, conv.answers)
        country = fields.get("country") or _str(conv.state.get("country"))
        return Profile(
            nationality=fields.get("nationality"), country=country, language=turn.language
        )

    def _news(self, turn: Turn) -> None:
        """What partners answered, told at the top of the reply (the bot never writes first)."""
        if turn.quick_exit or turn.forgotten or turn.relay:
            return
        conv = turn.conversation
        asked = turn.msg.kind is InboundKind.COMMAND and _command_name(turn.msg) == "referrals"
        if not (turn.unit.person.referral_news or asked):
            return  # nothing new (no query on the hot path)
        if conv is not None and conv.state.get("safe_mode") and not asked:
            return  # someone may see this chat: news waits until the person asks (/referrals)
        turn.replies[0:0] = self.offers.news(turn)
        turn.unit.clear_referral_news()

    # -- free input --------------------------------------------------------------------------
    def _text(self, turn: Turn) -> None:
        conv = turn.conversation
        assert conv is not None
        text = turn.msg.text.strip()
        if not text:
            turn.replies.append(say("input.not_understood"))
            self._ask_current(turn)
            return
        step = self._step(conv)
        if step.kind is not StepKind.END:
            matched = self._match_option(turn, step, text)
            if matched is not None:
                self._answer(turn, step.id, matched)
                return
        self._keep_text(turn, text)
        if self._act_on_meaning(turn):
            return
        if step.action is EndAction.PAUSE:
            self._undo_pause(turn)
            return
        if step.kind is StepKind.END:
            turn.replies.append(say("ended.info"))
            return
        turn.replies.append(say("input.noted"))
        self._ask_current(turn)

    # -- what free text means (NLU) -------------------------------------------------------
    def _understand(self, msg: Inbound, detection: Detection | None) -> NluResult | None:
        if self.nlu is None or msg.kind is not InboundKind.TEXT or not msg.text.strip():
            return None
        language = detection.language if detection and detection.language else msg.language_hint
        return self.nlu.parse(msg.text, (language or "").split("-")[0].split("_")[0] or None)

    def _act_on_meaning(self, turn: Turn) -> bool:
        """Act on typed text: danger goes straight to a person (with emergency numbers); a
        request for a person is one; a typed yes / no / don't know answers the question.
        Indicators found are only suggestions, kept for staff: the questions confirm them."""
        understood = turn.understood
        conv = turn.conversation
        if understood is None or conv is None:
            return False
        if understood.indicators:
            suggested = sorted(set(_strs(conv.state.get("suggested"))) | set(understood.indicators))
            conv.state["suggested"] = ",".join(suggested)
            self._save(turn)
            self._event(
                turn,
                "indicators_suggested",
                {"indicators": ",".join(understood.indicators), "engine": understood.engine.value},
            )
        if understood.intent is Intent.EMERGENCY:
            self._event(
                turn,
                "emergency_in_text",
                {"engine": understood.engine.value, "urgent": understood.urgent},
            )
            turn.replies.append(Reply(parts=(Text("end.danger"),), protect=True))
            values = engine.indicator_values(self.flow, self.data.book, conv.answers)
            self._referrals(turn, assess(self.data.book, values), outcome=Outcome.IMMEDIATE_DANGER)
            self._mark_needs_person(turn, reason="emergency_in_text")
            if not any(
                c.payload.startswith(f"{ANSWER}:{conv.step}:")
                for r in turn.replies
                for c in r.choices
            ):
                self._ask_current(turn)
            return True
        if understood.intent is Intent.WANT_HUMAN and understood.confidence >= 0.5:
            self._ask_for_person(turn)
            return True
        step = self._step(conv)
        answer = (
            _ANSWER_FOR.get(understood.intent)
            if step.kind in (StepKind.QUESTION, StepKind.SIGNAL)
            else _PATH_FOR.get(understood.intent)
        )
        if answer is not None and understood.confidence >= 0.6 and answer in step.answer_ids:
            self._answer(turn, step.id, answer)
            return True
        return False

    def _keep_text(self, turn: Turn, text: str, kind: str = "free_text") -> None:
        conv = turn.conversation
        assert conv is not None
        if len(text) > MAX_TEXT:
            self._event(turn, "text_cut", {"length": len(text)})
            text = text[:MAX_TEXT]
        turn.unit.add_text(conv.id, kind, text, turn.now)
        self._event(turn, f"{kind}_received", {"step": conv.step, "length": len(text)})

    def _match_option(self, turn: Turn, step: Step, text: str) -> str | None:
        wanted = text.casefold().strip(" .!?")
        for option in step.options:
            labels = {
                option.id.casefold(),
                self.translator.text(turn.language, option.text).casefold(),
                self.translator.text("en", option.text).casefold(),
            }
            if wanted in labels:
                return option.id
        return None

    def _location(self, turn: Turn) -> None:
        conv = turn.conversation
        assert conv is not None
        country = (turn.msg.country or "").upper()
        if len(country) == 2 and country.isalpha():
            conv.state["country"] = country
            self._save(turn)
            self._event(turn, "location_country", {"country": country})
            step = self._step(conv)
            if step.kind is StepKind.PROFILE and step.field == "country":
                choice = country if country in step.answer_ids else "other"
                turn.replies.append(say("input.location"))
                self._answer(turn, step.id, choice)
                return
            turn.replies.append(say("input.location"))
        else:
            turn.replies.append(say("input.not_understood"))
        self._ask_current(turn)

    # -- commands ----------------------------------------------------------------------------
    def _back(self, turn: Turn) -> None:
        conv = turn.conversation
        previous = None
        if conv is not None:
            previous = engine.back(
                self.flow, self.data.book, engine.Progress(step=conv.step, answers=conv.answers)
            )
        if conv is None or previous is None:
            turn.replies.append(say("back.none"))
            self._ask_current(turn)
            return
        turn.unit.retract_last_answer(conv.id, turn.now)
        conv.step, conv.answers = previous.step, previous.answers
        self._save(turn)
        turn.replies.append(say("back.done"))
        self._ask_current(turn)

    def _undo_pause(self, turn: Turn) -> None:
        """The person comes back after "not now": ask the safety question again."""
        self._back(turn)

    def _restart(self, turn: Turn) -> None:
        if turn.conversation is not None:
            self._close(turn, "restarted")
        turn.replies.append(say("restart.done"))
        self._new_conversation(turn)

    def _ask_for_person(self, turn: Turn) -> None:
        if turn.conversation is None:
            progress = engine.start(self.flow, self.data.book)
            turn.conversation = turn.unit.start_conversation(self.flow.id, progress.step, turn.now)
        self._mark_needs_person(turn, reason="asked")
        turn.replies.append(say("human.requested"))
        self._ask_current(turn)

    def _mark_needs_person(self, turn: Turn, reason: str) -> None:
        conv = turn.conversation
        assert conv is not None
        if not conv.state.get("needs_person"):
            conv.state["needs_person"] = True
            self._save(turn)
        self._event(turn, "handover_requested", {"reason": reason})
        turn.handover = reason

    def _relay(self, turn: Turn) -> None:
        """A member of staff owns the conversation: the bot keeps what was sent and is silent."""
        text = turn.msg.text.strip()
        if text:
            self._keep_text(
                turn, text, "contact" if turn.msg.kind is InboundKind.CONTACT else "free_text"
            )
        self._event(turn, "relayed_to_staff", {"kind": turn.msg.kind.value})
        turn.relay = True

    def _quick_exit(self, turn: Turn) -> None:
        turn.quick_exit = True
        turn.replies.clear()
        turn.replies.append(say("exit.done"))

    def _confirm_forget(self, turn: Turn) -> None:
        if turn.conversation is None:
            progress = engine.start(self.flow, self.data.book)
            turn.conversation = turn.unit.start_conversation(self.flow.id, progress.step, turn.now)
        turn.conversation.state["pending"] = "forget"
        self._save(turn)
        turn.replies.append(
            Reply(
                parts=(Text("forget.confirm"),),
                choices=(
                    Choice(f"{FORGET}:yes", "forget.yes"),
                    Choice(f"{FORGET}:no", "forget.no"),
                ),
            )
        )

    def _forget_answer(self, turn: Turn, confirmed: bool) -> None:
        conv = turn.conversation
        assert conv is not None
        conv.state.pop("pending", None)
        if confirmed:
            turn.unit.forget_person(turn.now)
            turn.forgotten = True
            turn.conversation = None
            turn.replies.append(say("forget.done"))
            return
        self._save(turn)
        turn.replies.append(say("forget.cancelled"))
        self._ask_current(turn)

    def _language_picker(self) -> Reply:
        choices = tuple(
            Choice(f"{LANGUAGE}:{code}", "language.ask", label=name)
            for code, name in self.translator.languages().items()
        )
        return Reply(parts=(Text("language.ask"),), choices=choices)

    # -- helpers -------------------------------------------------------------------------
    def _ask_current(self, turn: Turn) -> None:
        conv = turn.conversation
        if conv is None:
            self._new_conversation(turn)
            return
        step = self._step(conv)
        if step.kind is StepKind.END:
            if not turn.replies:
                turn.replies.append(say("ended.info"))
            return
        params: dict[str, str | int] = {}
        if step.id == "consent":
            params = {"org": self.options.org_name, "retention_days": self.options.retention_days}
        choices = tuple(Choice(f"{ANSWER}:{step.id}:{o.id}", o.text) for o in step.options)
        turn.replies.append(Reply(parts=(Text(step.text, params),), choices=choices))

    def _step(self, conv: ConversationRecord) -> Step:
        return self.flow.steps[conv.step]

    def _finished(self, conv: ConversationRecord) -> bool:
        return self._step(conv).kind is StepKind.END

    def _save(self, turn: Turn) -> None:
        turn.save()

    def _close(self, turn: Turn, reason: str) -> None:
        conv = turn.conversation
        assert conv is not None
        conv.status = ConversationStatus.CLOSED
        self._save(turn)
        self._event(turn, "conversation_closed", {"reason": reason})
        turn.conversation = None

    def _event(
        self, turn: Turn, kind: str, data: dict[str, str | int | bool | None] | None = None
    ) -> None:
        turn.event(kind, data)

    # -- language ------------------------------------------------------------------------
    def _detect(self, msg: Inbound) -> Detection | None:
        if msg.kind is not InboundKind.TEXT or not msg.text.strip():
            return None
        return self.detector.detect(msg.text, msg.language_hint)

    def _choose_language(self, turn: Turn, detection: Detection | None) -> None:
        """An explicit choice always wins; then a confident detection (which persists); then
        the language already in use; then Telegram's language_code; then the default."""
        person = turn.unit.person
        current = (
            person.language
            if person.language and self.translator.supports(person.language)
            else None
        )
        if person.language_explicit and current:
            turn.language = current
            return
        if detection is not None and detection.language:
            locale = self._locale(detection, turn.msg.language_hint)
            if locale:
                if locale != person.language:
                    turn.unit.set_language(locale, explicit=False)
                    self._log_language(turn, locale)
                turn.language = locale
                return
            if current is None:  # said once; then the person can pick from the menu
                turn.unsupported_language = True
                turn.offer_languages = True
        elif detection is not None and current is None:
            turn.offer_languages = True  # "ok", "hi", "555": not enough to tell
        hinted = self._supported(turn.msg.language_hint)
        turn.language = current or hinted or self.options.default_language
        if current is None:
            # Remember the language used, so the picker is offered once, not every message.
            turn.unit.set_language(turn.language, explicit=False)

    def _locale(self, detection: Detection, hint: str | None) -> str | None:
        language = detection.language or ""
        if language == "zh":
            variant = detection.variant
            if variant is None:
                traditional = (hint or "").lower().replace("_", "-")
                variant = (
                    "Hant" if traditional in ("zh-hant", "zh-tw", "zh-hk", "zh-mo") else ("Hans")
                )
            language = f"zh_{variant}"
        return language if self.translator.supports(language) else None

    def _language_notes(self, turn: Turn) -> None:
        if turn.quick_exit or turn.forgotten:
            return
        if turn.unsupported_language:
            turn.replies.append(say("language.unsupported"))
        if turn.offer_languages and not any(
            c.payload.startswith(f"{LANGUAGE}:") for r in turn.replies for c in r.choices
        ):
            turn.replies.append(self._language_picker())

    def _log_language(self, turn: Turn, language: str) -> None:
        log.info("language %s detected for person=%s", language, turn.unit.person.id)

    def _supported(self, hint: str | None) -> str | None:
        if not hint:
            return None
        for candidate in (hint.replace("-", "_"), re.split(r"[-_]", hint)[0]):
            if self.translator.supports(candidate):
                return candidate
        return None

    def _outbound(self, turn: Turn) -> Outbound:
        conv = turn.conversation
        always: tuple[Choice, ...] = ()
        if conv is not None and not turn.quick_exit:
            always = (Choice(f"{GLOBAL}:human", "global.human"),)
            if conv.answers:
                always += (Choice(f"{GLOBAL}:back", "global.back"),)
            always += (Choice(f"{GLOBAL}:exit", "global.exit"),)
        if turn.relay:
            always = ()
        return Outbound(
            language=turn.language,
            replies=tuple(turn.replies),
            always=always,
            quick_exit=turn.quick_exit,
            conversation_id=conv.id if conv else None,
            person_id=None if turn.forgotten else turn.unit.person.id,
            handover=turn.handover,
            relay=turn.relay,
        )

    # -- staff ---------------------------------------------------------------------------
    def set_owner(self, channel: str, user_ref: str, owner: str, actor: str) -> str | None:
        """Hand the person's conversation to a member of staff, or back to the bot (under the
        person's lock, so no answer is half-processed meanwhile). Returns the conversation."""
        now = self.clock.now()
        with self.store.unit(channel, user_ref, now) as unit:
            conv = unit.active_conversation()
            if conv is None:
                return None
            if owner == BOT:
                conv.state.pop("owner", None)
            else:
                conv.state["owner"] = owner
            unit.save_conversation(conv, now)
            unit.add_event(conv.id, "owner_changed", now, {"owner": owner}, actor=actor)
            return conv.id

    def notice(
        self,
        channel: str,
        user_ref: str,
        key: str,
        *,
        resume: bool = False,
        emergency_numbers: bool = False,
    ) -> Outbound:
        """A message the bot sends outside an answer (staff joined or left, nobody free yet),
        in the person's language; with resume, the interview's current question follows."""
        now = self.clock.now()
        with self.store.unit(channel, user_ref, now) as unit:
            turn = self._staff_turn(unit, channel, user_ref, now)
            if emergency_numbers and turn.conversation is not None:
                turn.replies.append(Reply(parts=(Text(key),), protect=True))
                values = engine.indicator_values(
                    self.flow, self.data.book, turn.conversation.answers
                )
                self._referrals(
                    turn, assess(self.data.book, values), outcome=Outcome.IMMEDIATE_DANGER
                )
            else:
                turn.replies.append(say(key))
            if resume:
                self._ask_current(turn)
            self._event(turn, "notice_sent", {"key": key})
            return self._outbound(turn)

    def offer_referral(
        self, channel: str, user_ref: str, service_id: str, actor: str
    ) -> Outbound | None:
        """Staff propose a service that routing allows for this person: the person is asked
        for consent like any offer. None when there is no conversation or no such service."""
        now = self.clock.now()
        with self.store.unit(channel, user_ref, now) as unit:
            turn = self._staff_turn(unit, channel, user_ref, now)
            if turn.conversation is None:
                return None
            attempt = len(unit.referrals()) + 1
            if not self.offers.offer(turn, self._basis(turn), attempt, service_id=service_id):
                return None
            unit.add_event(
                turn.conversation.id, "referral_proposed", now, {"service": service_id}, actor
            )
            return self._outbound(turn)

    def override_referral(
        self, channel: str, user_ref: str, service_id: str, staff_id: int, reason: str
    ) -> str | None:
        """A supervisor records a referral without the person's answer (e.g. they are in
        danger and cannot reply). Outcome only; needs a reason; audited. Returns its id."""
        service = self.data.directory.service(service_id)
        if service is None or not deliverable(service) or not reason.strip():
            return None
        now = self.clock.now()
        with self.store.unit(channel, user_ref, now) as unit:
            turn = self._staff_turn(unit, channel, user_ref, now)
            if turn.conversation is None:
                return None
            attempt = len(unit.referrals()) + 1
            return self.offers.refer(
                turn,
                service,
                self._basis(turn),
                ReferralScope.OUTCOME_ONLY,
                None,
                attempt,
                f"staff:{staff_id}",
                override_reason=reason,
            )

    def _staff_turn(self, unit: Unit, channel: str, user_ref: str, now: datetime) -> Turn:
        turn = Turn(
            unit=unit, msg=Inbound(channel, user_ref, InboundKind.TEXT), now=now, language=""
        )
        turn.language = self._person_language(unit)
        turn.conversation = unit.active_conversation()
        return turn

    def _basis(self, turn: Turn) -> Basis:
        conv = turn.conversation
        assert conv is not None
        values = engine.indicator_values(self.flow, self.data.book, conv.answers)
        return Basis(assess(self.data.book, values), self._profile(turn))

    def _person_language(self, unit: Unit) -> str:
        language = unit.person.language
        if language and self.translator.supports(language):
            return language
        return self.options.default_language


_ANSWER_FOR = {Intent.AFFIRM: "yes", Intent.DENY: "no", Intent.DONT_KNOW: "dont_know"}
# What a typed sentence at "what would you like help with?" chooses.
_PATH_FOR = {
    Intent.REPORT_SCAM_LOSS: "scam",
    Intent.JOB_OFFER_CHECK: "job_offer",
    Intent.DESCRIBE_SITUATION: "work",
    Intent.WANT_GO_HOME: "work",
}


def _strs(value: object) -> list[str]:
    return [v for v in value.split(",") if v] if isinstance(value, str) else []


def _command_name(msg: Inbound) -> str:
    return msg.text.lstrip("/").split("@")[0].lower()


def _for_staff(msg: Inbound) -> bool:
    """While staff own the conversation, everything goes to them but quick exit, forgetting,
    the language and referrals (consent, the list, taking one back): the person keeps control
    of their own chat and data."""
    if msg.kind is InboundKind.COMMAND:
        return _command_name(msg) not in _PERSON_COMMANDS
    if msg.kind is InboundKind.BUTTON:
        return not msg.button.startswith(_PERSON_BUTTONS)
    return True


_PERSON_COMMANDS = ("exit", "forget", "language", "referrals")
_PERSON_BUTTONS = (f"{FORGET}:", f"{LANGUAGE}:", f"{GLOBAL}:exit", f"{CONSENT}:", f"{WITHDRAW}:")


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
