"""Whole conversations through the channel-neutral service, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from myanmar import converter

from bot.bootstrap import App
from bot.services.messages import Inbound, InboundKind, Outbound
from tests.support import SCRIPTS

USER = "12345678"


def send(
    app: App, kind: InboundKind = InboundKind.TEXT, user: str = USER, **fields: str
) -> Outbound:
    return app.service.handle(Inbound(channel="test", user_ref=user, kind=kind, **fields))


def press(app: App, payload: str, user: str = USER) -> Outbound:
    return send(app, InboundKind.BUTTON, user=user, button=payload)


def keys(out: Outbound) -> list[str]:
    return [part.key for reply in out.replies for part in reply.parts]


def question(out: Outbound) -> str | None:
    """The step id of the question the person is asked now, from the answer buttons."""
    for reply in reversed(out.replies):
        for choice in reply.choices:
            if choice.payload.startswith("a:"):
                return choice.payload.split(":")[1]
    return None


def answer_for(out: Outbound, step: str, script: dict[str, str]) -> str:
    offered = [
        c.payload.split(":")[2]
        for r in out.replies
        for c in r.choices
        if c.payload.startswith(f"a:{step}:")
    ]
    wanted = script.get(step, "no")
    return wanted if wanted in offered else ("other" if "other" in offered else offered[0])


def run_script(app: App, script: dict[str, str], user: str = USER) -> Outbound:
    out = send(app, InboundKind.COMMAND, user=user, text="start")
    for _ in range(80):
        step = question(out)
        if step is None:
            return out
        out = press(app, f"a:{step}:{answer_for(out, step, script)}", user=user)
    raise AssertionError("the interview did not end")


def stored_outcomes(app: App) -> list[str]:
    with app.store.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT outcome FROM assessments")).scalars())


@pytest.mark.parametrize("outcome", sorted(SCRIPTS))
def test_each_outcome_end_to_end(app: App, outcome: str) -> None:
    out = run_script(app, SCRIPTS[outcome])
    assert stored_outcomes(app) == [outcome]
    if outcome == "immediate_danger":
        assert "end.danger" in keys(out)
    else:
        assert f"outcome.{outcome}" in keys(out)
    assert next(c.payload for c in out.always) == "g:human"


def test_safety_first_then_consent(app: App) -> None:
    out = send(app, text="hello")
    assert question(out) == "safe_now"
    out = press(app, "a:safe_now:safe")
    assert question(out) == "device_unsafe"
    out = press(app, "a:device_unsafe:no")
    assert question(out) == "consent"
    assert out.replies[-1].parts[0].params["org"] == "Test Helpline"


def test_not_safe_now_pauses_and_any_message_asks_again(app: App) -> None:
    send(app, InboundKind.COMMAND, text="start")
    out = press(app, "a:safe_now:not_now")
    assert "end.paused" in keys(out)
    out = send(app, text="ok now")
    assert question(out) == "safe_now"


def test_every_question_offers_skip_and_a_person(app: App) -> None:
    out = send(app, InboundKind.COMMAND, text="start")
    for _ in range(12):
        step = question(out)
        assert step is not None
        payloads = [c.payload for r in out.replies for c in r.choices]
        assert f"a:{step}:prefer_not_to_say" in payloads or step == "consent"
        assert "g:human" in [c.payload for c in out.always]
        assert "g:exit" in [c.payload for c in out.always]
        out = press(app, f"a:{step}:{answer_for(out, step, SCRIPTS['forced_labour'])}")


def test_back_changes_the_last_answer(app: App) -> None:
    script = SCRIPTS["forced_labour"]
    out = send(app, InboundKind.COMMAND, text="start")
    for _ in range(6):
        step = question(out)
        assert step is not None
        out = press(app, f"a:{step}:{answer_for(out, step, script)}")
    before = question(out)
    out = send(app, InboundKind.COMMAND, text="back")
    assert "back.done" in keys(out)
    previous = question(out)
    assert previous != before
    out = press(app, f"a:{previous}:dont_know")
    assert question(out) == before


def test_old_and_garbage_buttons_get_a_kind_answer(app: App) -> None:
    send(app, InboundKind.COMMAND, text="start")
    out = press(app, "a:safe_now:safe")
    again = press(app, "a:safe_now:safe")  # a double tap
    assert "input.already_answered" in keys(again)
    assert question(again) == question(out) == "device_unsafe"
    for garbage in ("", "x", "a:nope:yes", "a:device_unsafe:maybe", "l:xx", "f:yes", "💥" * 70):
        out = press(app, garbage)
        assert question(out) == "device_unsafe", garbage
        assert out.replies


def test_bad_input_loses_nothing(app: App) -> None:
    send(app, InboundKind.COMMAND, text="start")
    for text in ("", "   ", "😀😀", "x" * 10_000):
        out = send(app, text=text)
        assert question(out) == "safe_now"
    out = send(app, InboundKind.COMMAND, text="frobnicate")
    assert "input.unknown_command" in keys(out)
    out = send(app, InboundKind.MEDIA, media="sticker")
    assert "input.media" in keys(out)
    assert question(out) == "safe_now"
    with app.store.engine.connect() as conn:
        texts = conn.execute(sa.text("SELECT count(*) FROM texts")).scalar_one()
    assert texts == 2  # the emoji and the long message are kept (encrypted); blanks are not


def test_typed_answer_matches_an_option(app: App) -> None:
    send(app, InboundKind.COMMAND, text="start")
    out = send(app, text="Yes, I can chat")
    assert question(out) == "device_unsafe"
    out = send(app, text="no")
    assert question(out) == "consent"


def test_language_switch_keeps_answers_and_reasks(app: App) -> None:
    send(app, InboundKind.COMMAND, text="start")
    press(app, "a:safe_now:safe")
    out = send(app, InboundKind.COMMAND, text="language")
    payloads = [c.payload for c in out.replies[-1].choices]
    assert "l:th" in payloads and "l:en" in payloads
    out = press(app, "l:th")
    assert out.language == "th"
    assert question(out) == "device_unsafe"
    assert app.translator.reply_text("th", out.replies[-1]) != app.translator.reply_text(
        "en", out.replies[-1]
    )
    out = send(app, text="hello")
    assert out.language == "th"  # the explicit choice sticks


def test_quick_exit_and_forget(app: App) -> None:
    run_script(app, SCRIPTS["forced_labour"])
    out = send(app, InboundKind.COMMAND, text="exit")
    assert out.quick_exit and keys(out) == ["exit.done"]
    out = send(app, InboundKind.COMMAND, text="forget")
    assert [c.payload for c in out.replies[-1].choices] == ["f:yes", "f:no"]
    out = press(app, "f:no")
    assert "forget.cancelled" in keys(out)
    send(app, InboundKind.COMMAND, text="forget")
    out = press(app, "f:yes")
    assert "forget.done" in keys(out)
    with app.store.engine.connect() as conn:
        for table in ("people", "conversations", "answers", "texts", "assessments"):
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
        counts = dict(conn.execute(sa.text("SELECT metric, count FROM daily_counts")).all())
    assert counts["outcome:forced_labour"] == 1 and counts["forgotten"] == 1


def test_human_request_is_recorded(app: App) -> None:
    send(app, InboundKind.COMMAND, text="start")
    out = press(app, "g:human")
    assert "human.requested" in keys(out)
    assert question(out) == "safe_now"  # the person may go on while waiting
    with app.store.engine.connect() as conn:
        kinds = list(conn.execute(sa.text("SELECT kind FROM case_events")).scalars())
    assert "handover_requested" in kinds


def test_two_presses_at_once_advance_once(app: App) -> None:
    send(app, InboundKind.COMMAND, text="start")
    results: list[Outbound] = []
    barrier = threading.Barrier(4)

    def tap() -> None:
        barrier.wait()
        results.append(press(app, "a:safe_now:safe"))

    threads = [threading.Thread(target=tap) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    already = [out for out in results if "input.already_answered" in keys(out)]
    assert len(already) == 3
    assert all(question(out) == "device_unsafe" for out in results)
    with app.store.engine.connect() as conn:
        answers = conn.execute(sa.text("SELECT count(*) FROM answers")).scalar_one()
    assert answers == 1


ZAWGYI = converter.convert("ကျွန်တော်ကို ကူညီပါ။ သူတို့ ပတ်စ်ပို့ ယူသွားတယ်", "unicode", "zawgyi")
FIRST_MESSAGES = [
    ("ช่วยด้วย", "th"),
    ("ကျွန်တော်ကို ကူညီပါ", "my"),
    (ZAWGYI, "my"),
    ("ជួយខ្ញុំផង", "km"),
    ("ຊ່ວຍແດ່", "lo"),
    ("cứu tôi với", "vi"),
    ("请帮帮我", "zh_Hans"),
    ("請幫幫我", "zh_Hant"),
    ("tolong bantu saya, paspor saya diambil", "id"),
    ("도와주세요", "ko"),
    ("助けてください", "ja"),
]


@pytest.mark.parametrize(("text", "language"), FIRST_MESSAGES)
def test_first_message_is_answered_in_its_language(app: App, text: str, language: str) -> None:
    out = send(app, text=text)
    assert out.language == language
    assert question(out) == "safe_now"
    asked = next(r for r in out.replies if r.parts[0].key == "safety.ask")
    assert app.translator.reply_text(language, asked) != app.translator.reply_text("en", asked)


def test_zawgyi_is_stored_as_unicode(app: App) -> None:
    out = send(app, text=ZAWGYI)
    assert out.conversation_id
    stored = [t.text for t in app.store.read_texts(out.conversation_id)]
    assert stored == [converter.convert(ZAWGYI, "zawgyi", "unicode")]
    assert stored[0] != ZAWGYI


def test_unsure_first_message_offers_the_picker_in_the_prior_language(app: App) -> None:
    out = app.service.handle(
        Inbound(channel="test", user_ref=USER, kind=InboundKind.TEXT, text="ok", language_hint="th")
    )
    assert out.language == "th"
    assert any(c.payload == "l:my" for r in out.replies for c in r.choices)


def test_language_without_a_catalog_gets_english_and_a_note(app: App) -> None:
    out = send(app, text="मुझे मदद चाहिए")
    assert out.language == "en"
    assert "language.unsupported" in keys(out)
    assert any(c.payload == "l:th" for r in out.replies for c in r.choices)


def test_detection_never_overrides_an_explicit_choice(app: App) -> None:
    send(app, InboundKind.COMMAND, text="start")
    press(app, "l:km")
    out = send(app, text="ช่วยด้วย ช่วยด้วย")
    assert out.language == "km"


def test_typed_emergency_goes_straight_to_a_person(app: App) -> None:
    send(app, InboundKind.COMMAND, text="start")
    out = send(app, text="help me now they are beating me")
    assert "end.danger" in keys(out)
    assert question(out) == "safe_now"  # the interview is still there
    with app.store.engine.connect() as conn:
        kinds = list(conn.execute(sa.text("SELECT kind FROM case_events")).scalars())
    assert "emergency_in_text" in kinds and "handover_requested" in kinds
    assert out.handover == "emergency_in_text"


def test_typed_yes_and_no_answer_the_question(app: App) -> None:
    send(app, InboundKind.COMMAND, text="start")
    press(app, "a:safe_now:safe")
    out = send(app, text="nope")
    assert question(out) == "consent"


def test_indicators_in_free_text_are_only_suggestions(app: App) -> None:
    send(app, InboundKind.COMMAND, text="start")
    out = send(app, text="they took my passport and we must meet the target")
    assert question(out) == "safe_now"  # nothing was answered for the person
    with app.store.engine.connect() as conn:
        answers = conn.execute(sa.text("SELECT count(*) FROM answers")).scalar_one()
        state = conn.execute(sa.text("SELECT state FROM conversations")).scalar_one()
    assert answers == 0
    assert "pen_documents_retained" in str(state)
