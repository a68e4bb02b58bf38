"""The fake Bot API server, driven by the real python-telegram-bot over HTTP (no mocks)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from telegram import Bot as PtbBot
from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes.telegram_server import (
    ERR_BLOCKED,
    ERR_CANT_INITIATE,
    FakeTelegram,
    RateLimits,
)

KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Yes", callback_data="v1:q1:yes")],
        [InlineKeyboardButton("No", callback_data="v1:q1:no")],
    ]
)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest_asyncio.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[PtbBot]:
    async with PtbBot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


# PTB 22 warns that RetryAfter.retry_after becomes a timedelta unless PTB_TIMEDELTA=1.
PTB_RETRY_AFTER_WARNING = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)


def seconds(value: int | float | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def retry_after(exc: RetryAfter) -> float:
    return seconds(exc.retry_after)


async def poll(bot: PtbBot, offset: int | None = None) -> tuple[Update, ...]:
    return await bot.get_updates(offset=offset, timeout=1)


# ---- basics ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_me_answers_with_the_bot_user(fake: FakeTelegram, bot: PtbBot) -> None:
    me = await bot.get_me()
    assert me.id == fake.bot_id
    assert me.is_bot
    assert me.username == "screening_test_bot"
    assert [c.method for c in fake.calls][:1] == ["getMe"]


def http(url: str, data: bytes | None = None, content_type: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=data)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_envelopes_and_encodings_from_a_sync_client(fake: FakeTelegram) -> None:
    person = fake.person(7, "Mai")
    person.send_text("hi")

    form = urllib.parse.urlencode({"chat_id": "7", "text": "123"}).encode()
    status, body = http(f"{fake.api_url}/SENDMESSAGE", form, "application/x-www-form-urlencoded")
    assert status == 200 and body["ok"] is True
    assert body["result"]["text"] == "123"  # string parameters stay strings

    payload = json.dumps({"chat_id": 7, "text": "json body", "protect_content": True}).encode()
    status, body = http(f"{fake.api_url}/sendMessage", payload, "application/json")
    assert status == 200 and body["result"]["has_protected_content"] is True

    assert http(f"{fake.api_url}/noSuchMethod") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    status, body = http(f"{fake.base_url}1:wrong/getMe")
    assert (status, body["description"]) == (401, "Unauthorized")
    status, body = http(f"{fake.api_url}/sendMessage?chat_id=999&text=x")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")

    assert [m.text for m in fake.chat(7).visible()] == ["hi", "123", "json body"]
    assert fake.wait_for(lambda: len(fake.calls_to("sendMessage")) == 3, timeout=1)
    with pytest.raises(TimeoutError, match="never"):
        fake.wait_for(lambda: False, timeout=0.05, message="never")


# ---- long polling ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_person_text_arrives_by_long_polling(fake: FakeTelegram, bot: PtbBot) -> None:
    person = fake.person(1001, "Somchai", language_code="th")
    task = asyncio.create_task(poll(bot))
    await fake.wait_for_async(lambda: fake.is_polling, timeout=2)
    started = time.monotonic()
    person.send_text("สวัสดี")
    updates = await task
    assert time.monotonic() - started < 0.5  # answered on arrival, not at the timeout

    (update,) = updates
    assert update.message is not None and update.message.from_user is not None
    assert update.message.text == "สวัสดี"
    assert update.message.from_user.language_code == "th"
    assert update.message.chat.type == "private"
    assert update.message.message_id == 1

    person.send_command("/start", "ref42")
    (command,) = await bot.get_updates(offset=update.update_id + 1, timeout=1)
    assert command.message is not None and command.message.text == "/start ref42"
    assert command.message.entities[0].type == "bot_command"
    assert command.message.message_id == 2  # fresh id per message in the chat

    assert await bot.get_updates(offset=command.update_id + 1, timeout=0) == ()
    assert fake.pending_updates == []  # confirmed by the offset


@pytest.mark.asyncio
async def test_long_poll_returns_empty_after_its_timeout(bot: PtbBot) -> None:
    started = time.monotonic()
    assert await poll(bot) == ()
    assert 0.9 <= time.monotonic() - started < 1.6


@pytest.mark.asyncio
async def test_a_second_poller_terminates_the_first(fake: FakeTelegram, bot: PtbBot) -> None:
    first = asyncio.create_task(poll(bot))
    await fake.wait_for_async(lambda: fake.is_polling, timeout=2)
    # PTB keeps one connection for getUpdates, so the rival is a second bot instance.
    async with PtbBot(fake.token, base_url=fake.base_url) as rival:
        assert await rival.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


# ---- keyboards, callbacks, edits --------------------------------------------------------------


@pytest.mark.asyncio
async def test_pressing_a_button_makes_an_answerable_callback_query(
    fake: FakeTelegram, bot: PtbBot
) -> None:
    person = fake.person(1002, "Aung", language_code="my")
    person.send_command("/start")
    sent = await bot.send_message(1002, "Are you safe now?", reply_markup=KEYBOARD)
    assert sent.reply_markup == KEYBOARD

    query_id = person.press_button("No")
    updates = await poll(bot)
    query = updates[-1].callback_query
    assert query is not None and query.id == query_id
    assert query.data == "v1:q1:no"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert fake.unanswered_callbacks()[0].data == "v1:q1:no"

    assert await query.answer("Noted")
    assert [(a.data, a.text) for a in fake.answered_callbacks] == [("v1:q1:no", "Noted")]
    assert fake.unanswered_callbacks() == []
    with pytest.raises(BadRequest, match="Query is too old"):
        await query.answer()  # a query is answered once

    with pytest.raises(LookupError):
        person.press_button("Maybe")
    person.press("v1:q1:yes", message_id=sent.message_id)  # an old message, by its data
    assert fake.callback_queries[-1].data == "v1:q1:yes"


@pytest.mark.asyncio
async def test_edits_change_what_the_chat_shows(fake: FakeTelegram, bot: PtbBot) -> None:
    person = fake.person(1003, "Dara")
    person.send_text("hello")
    sent = await bot.send_message(
        1003, "<b>Step 1</b> of 3", parse_mode="HTML", reply_markup=KEYBOARD
    )
    assert sent.text == "Step 1 of 3"
    assert sent.entities[0].type == "bold"

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "<b>Step 1</b> of 3", 1003, sent.message_id, parse_mode="HTML", reply_markup=KEYBOARD
        )
    edited = await bot.edit_message_text("Step 2 of 3", 1003, sent.message_id)
    assert not isinstance(edited, bool) and edited.edit_date is not None
    (shown,) = fake.bot_messages(1003)
    assert shown.text == "Step 2 of 3"
    assert shown.edited and shown.reply_markup is None  # no markup given: keyboard removed

    await bot.edit_message_reply_markup(1003, sent.message_id, reply_markup=KEYBOARD)
    assert fake.bot_messages(1003)[0].button_labels == ["Yes", "No"]
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("no", 1003, 1)  # the person's message

    person.edit_last("hello again")
    updates = await poll(bot)
    assert updates[-1].edited_message is not None
    assert updates[-1].edited_message.text == "hello again"
    assert fake.chat(1003).user_messages()[0].text == "hello again"


@pytest.mark.asyncio
async def test_formatting_errors_and_limits_match_telegram(fake: FakeTelegram, bot: PtbBot) -> None:
    fake.person(1004, "Lin").send_text("hi")
    with pytest.raises(BadRequest, match="reserved and must be escaped"):
        await bot.send_message(1004, "Done.", parse_mode="MarkdownV2")
    ok = await bot.send_message(1004, r"*Done*\. Call 1\-2\-3", parse_mode="MarkdownV2")
    assert ok.text == "Done. Call 1-2-3"
    with pytest.raises(BadRequest, match="find end tag corresponding"):
        await bot.send_message(1004, "<b>open", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(1004, "x" * 4097)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(1004, "keyboard", reply_markup=too_long)


# ---- deletion -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_deletion_follows_the_48_hour_rule(fake: FakeTelegram, bot: PtbBot) -> None:
    person = fake.person(1005, "Nita")
    first = person.send_text("my story")
    reply = await bot.send_message(1005, "Thank you")
    later = person.send_text("more")

    assert await bot.delete_message(1005, reply.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(1005, reply.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(1005, 999)
    assert [m.text for m in fake.chat(1005).visible()] == ["my story", "more"]

    fake.clock.advance(hours=47)
    assert await bot.delete_message(1005, later)  # the person's own message, still young

    fresh = await bot.send_message(1005, "Still here")
    fake.clock.advance(hours=2)  # "my story" is now 49 hours old, "Still here" 2 hours
    with pytest.raises(BadRequest, match="Message can't be deleted for everyone"):
        await bot.delete_message(1005, first)
    with pytest.raises(BadRequest, match="Message can't be deleted for everyone"):
        await bot.delete_messages(1005, [first, fresh.message_id])  # refused as a whole
    assert await bot.delete_messages(1005, [fresh.message_id, 12345])  # unknown ids skipped
    assert [m.text for m in fake.chat(1005).visible()] == ["my story"]
    assert {m.text for m in fake.chat(1005).deleted()} == {"Thank you", "more", "Still here"}


# ---- blocked people, 429s, rate limits ------------------------------------------------------


@pytest.mark.asyncio
async def test_blocked_person_gets_nothing(fake: FakeTelegram, bot: PtbBot) -> None:
    stranger = fake.person(1006, "Never wrote")
    with pytest.raises(Forbidden, match=ERR_CANT_INITIATE):
        await bot.send_message(stranger.chat_id, "hello?")

    person = fake.person(1007, "Kyaw")
    person.send_text("hi")
    await bot.send_message(1007, "Hello")
    person.block_bot()
    with pytest.raises(Forbidden, match=ERR_BLOCKED):
        await bot.send_message(1007, "Are you there?")
    with pytest.raises(Forbidden, match=ERR_BLOCKED):
        await bot.send_chat_action(1007, "typing")
    updates = await poll(bot)
    member = updates[-1].my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"
    with pytest.raises(RuntimeError):
        person.send_text("can't write while blocked")

    person.unblock_bot()
    await bot.send_message(1007, "Welcome back")
    assert fake.bot_messages(1007)[-1].text == "Welcome back"


@PTB_RETRY_AFTER_WARNING
@pytest.mark.asyncio
async def test_fail_next_serves_429_with_retry_after(fake: FakeTelegram, bot: PtbBot) -> None:
    fake.person(1008, "Hla").send_text("hi")
    fake.fail_next("sendMessage", retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(1008, "first try")
    assert retry_after(caught.value) == 3
    assert fake.served_429 == 1
    await bot.send_message(1008, "second try")
    assert [m.text for m in fake.bot_messages(1008)] == ["second try"]
    failed, ok = fake.calls_to("sendMessage")
    assert (failed.status, ok.status) == (429, 200)


@PTB_RETRY_AFTER_WARNING
@pytest.mark.asyncio
async def test_rate_limits_when_enabled(fake: FakeTelegram, bot: PtbBot) -> None:
    fake.person(1009, "Ploy").send_text("hi")
    fake.set_rate_limits(RateLimits(private_count=2, private_period=5.0))
    await bot.send_message(1009, "one")
    await bot.send_message(1009, "two")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(1009, "three")
    assert 1 <= retry_after(caught.value) <= 5
    assert fake.served_429 == 1
    fake.set_rate_limits(None)
    await bot.send_message(1009, "three")


# ---- webhooks -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_webhook_delivers_with_the_secret_and_retries(
    fake: FakeTelegram, bot: PtbBot
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    failures = [500]  # the first delivery fails, then the receiver recovers

    async def receive(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(status=failures.pop() if failures else 200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        url = f"http://127.0.0.1:{port}/hook"
        assert await bot.set_webhook(url, secret_token="s3cret_T0ken")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates(timeout=0)
        fake.person(1010, "Mya").send_text("via webhook")
        await fake.wait_for_async(lambda: not fake.pending_updates, timeout=3)

        assert len(received) == 2  # one failure, one success, same update
        assert {secret for secret, _ in received} == {"s3cret_T0ken"}
        assert received[0][1] == received[1][1]
        assert received[1][1]["message"]["text"] == "via webhook"
        assert [d.status for d in fake.webhook_deliveries] == [500, 200]
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        assert info.last_error_message is not None and "500" in info.last_error_message

        assert await bot.delete_webhook()
        assert await bot.get_updates(timeout=0) == ()
    finally:
        await runner.cleanup()


# ---- commands and profile -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_commands_per_language_and_scope(fake: FakeTelegram, bot: PtbBot) -> None:
    person = fake.person(1011, "Noi", language_code="th")
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("exit", "Leave now")])
    await bot.set_my_commands(
        [BotCommand("start", "เริ่ม"), BotCommand("exit", "ออกทันที")], language_code="th"
    )
    await bot.set_my_commands(
        [BotCommand("help", "Help")], scope=BotCommandScopeAllPrivateChats(), language_code="my"
    )
    thai = await bot.get_my_commands(language_code="th")
    assert [(c.command, c.description) for c in thai] == [("start", "เริ่ม"), ("exit", "ออกทันที")]
    assert fake.commands() == [("start", "Start"), ("exit", "Leave now")]
    assert fake.commands("my", scope="all_private_chats") == [("help", "Help")]
    assert fake.menu_for(person.chat_id, "th")[0] == ("start", "เริ่ม")
    assert fake.menu_for(person.chat_id, "my") == [("help", "Help")]
    assert fake.menu_for(person.chat_id, "de") == [("start", "Start"), ("exit", "Leave now")]

    await bot.set_my_commands([BotCommand("stop", "Stop")], scope=BotCommandScopeChat(1011))
    assert fake.menu_for(1011, "th") == [("stop", "Stop")]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start", "capital letters are refused")])

    await bot.delete_my_commands(language_code="th")
    assert fake.commands("th") == []
    await bot.set_my_description("A safe place to ask for help", language_code="en")
    await bot.set_my_short_description("Help")
    assert fake.my_description("en") == "A safe place to ask for help"
    assert (await bot.get_my_short_description()).short_description == "Help"


# ---- groups and forum topics ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_forum_topics_and_thread_messages(fake: FakeTelegram, bot: PtbBot) -> None:
    staff = fake.group(-1001234567890, "Case workers", forum=True)
    worker = staff.member(501, "Case worker")

    topic = await bot.create_forum_topic(staff.chat_id, "Case 17")
    assert topic.name == "Case 17"
    thread = topic.message_thread_id
    sent = await bot.send_message(staff.chat_id, "New case", message_thread_id=thread)
    assert sent.message_thread_id == thread and sent.is_topic_message

    worker.send_text("I'll take it", thread_id=thread)
    updates = await poll(bot)
    message = updates[-1].message
    assert message is not None and message.message_thread_id == thread
    assert message.is_topic_message and message.chat.is_forum

    texts = [m.text for m in staff.view.visible(thread_id=thread) if m.kind == "text"]
    assert texts == ["New case", "I'll take it"]
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_message(staff.chat_id, "lost", message_thread_id=999)

    await bot.edit_forum_topic(staff.chat_id, thread, name="Case 17 (closed)")
    await bot.close_forum_topic(staff.chat_id, thread)
    with pytest.raises(BadRequest, match="Topic_not_modified"):
        await bot.close_forum_topic(staff.chat_id, thread)
    await bot.reopen_forum_topic(staff.chat_id, thread)
    assert staff.topics() == [
        {
            "message_thread_id": thread,
            "name": "Case 17 (closed)",
            "icon_color": 7322096,
            "closed": False,
        }
    ]

    person = fake.person(1012, "Thida")
    person.send_text("please help")
    copied = await bot.copy_message(staff.chat_id, person.chat_id, 1, message_thread_id=thread)
    forwarded = await bot.forward_message(
        staff.chat_id, person.chat_id, 1, message_thread_id=thread
    )
    assert forwarded.forward_origin is not None
    assert [m.message_id for m in staff.view.visible(thread)][-2:] == [
        copied.message_id,
        forwarded.message_id,
    ]

    await bot.delete_forum_topic(staff.chat_id, thread)
    assert staff.topics() == [] and staff.view.visible(thread) == []
    with pytest.raises(BadRequest, match="The chat is not a forum"):
        await bot.create_forum_topic(fake.group(-1009, "Plain").chat_id, "x")

    assert await bot.leave_chat(staff.chat_id)
    with pytest.raises(Forbidden, match="not a member"):
        await bot.send_message(staff.chat_id, "after leaving")


# ---- media ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_media_both_ways(fake: FakeTelegram, bot: PtbBot) -> None:
    person = fake.person(1013, "Sok")
    person.send_photo(caption="my passport")
    person.send_document("contract.pdf")
    person.send_voice()
    person.send_video()
    person.send_sticker()
    person.send_location(13.75, 100.5)
    person.send_contact("+66 81 234 5678")
    person.forward_text("job offer: easy money")

    updates = await poll(bot)
    messages = [u.message for u in updates if u.message is not None]
    assert len(messages) == 8
    photo, document, voice, video, sticker, location, contact, forward = messages
    assert photo.photo and photo.caption == "my passport"
    assert document.document is not None and document.document.file_name == "contract.pdf"
    assert voice.voice is not None and video.video is not None and sticker.sticker is not None
    assert location.location is not None and location.location.latitude == 13.75
    assert contact.contact is not None and contact.contact.user_id == 1013
    assert forward.forward_origin is not None and forward.text == "job offer: easy money"

    data = await (await photo.photo[-1].get_file()).download_as_bytearray()
    assert bytes(data) == fake.file_content(photo.photo[-1].file_id)

    await bot.send_photo(1013, photo.photo[-1].file_id, caption="received")
    await bot.send_document(1013, b"%PDF upload", filename="leaflet.pdf")  # multipart upload
    await bot.send_location(1013, 13.7, 100.5)
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_voice(1013, "no-such-file-id")
    kinds = [m.kind for m in fake.bot_messages(1013)]
    assert kinds == ["photo", "document", "location"]
    assert fake.bot_messages(1013)[1].raw["document"]["file_name"] == "leaflet.pdf"


# ---- the real Application end to end --------------------------------------------------------


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None and update.effective_message is not None
    await context.bot.send_chat_action(update.effective_chat.id, "typing")
    await update.effective_message.reply_text(
        f"echo: {update.effective_message.text}", reply_markup=KEYBOARD
    )


async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text(f"you chose {query.data}")


@pytest.mark.asyncio
async def test_a_ptb_application_polls_and_replies(fake: FakeTelegram) -> None:
    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(on_press))
    person = fake.person(1014, "Ei")
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=1, poll_interval=0)
        try:
            person.send_text("hello")
            (reply,) = await person.wait_for_replies_async(timeout=5)
            assert reply.text == "echo: hello" and reply.button_labels == ["Yes", "No"]
            assert [a.action for a in fake.chat(1014).actions()] == ["typing"]

            person.press_button("Yes")
            await fake.wait_for_async(lambda: fake.answered_callbacks, timeout=5)
            await fake.wait_for_async(
                lambda: fake.bot_messages(1014)[-1].text == "you chose v1:q1:yes", timeout=5
            )
            assert fake.unanswered_callbacks() == []
        finally:
            await app.updater.stop()
            await app.stop()
    assert fake.pending_updates == []  # the updater confirmed everything on the way out
    assert {c.status for c in fake.calls} == {200}  # the cancelled poll is not a conflict


def test_sync_wait_for_sees_changes_from_other_threads(fake: FakeTelegram) -> None:
    person = fake.person(1015, "Bo")
    person.send_text("hi")

    def reply_later() -> None:
        time.sleep(0.05)
        form = urllib.parse.urlencode({"chat_id": 1015, "text": "later"}).encode()
        http(f"{fake.api_url}/sendMessage", form, "application/x-www-form-urlencoded")

    thread = threading.Thread(target=reply_later)
    thread.start()
    (reply,) = person.wait_for_replies(timeout=2)
    thread.join()
    assert reply.text == "later"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("text", "parse_mode", "plain", "pieces"),
    [
        (
            "🆘 <b>Help</b> &amp; <a href='https://example.org'>info</a>",
            "HTML",
            "🆘 Help & info",
            {"bold": "Help", "text_link": "info"},
        ),
        (
            r"🆘 *Help* \& [info](https://example.org)",
            "MarkdownV2",
            "🆘 Help & info",
            {"bold": "Help", "text_link": "info"},
        ),
        ("🆘 *Help* _now_", "Markdown", "🆘 Help now", {"bold": "Help", "italic": "now"}),
    ],
)
async def test_entity_offsets_are_utf16_like_telegram(
    fake: FakeTelegram, bot: PtbBot, text: str, parse_mode: str, plain: str, pieces: dict[str, str]
) -> None:
    fake.person(1016, "Ko").send_text("hi")
    sent = await bot.send_message(1016, text, parse_mode=parse_mode)
    assert sent.text == plain
    assert {e.type: piece for e, piece in sent.parse_entities().items()} == pieces


@pytest.mark.asyncio
async def test_lost_response_means_sent_but_unknown_to_the_bot(
    fake: FakeTelegram, bot: PtbBot
) -> None:
    fake.person(1017, "Nu").send_text("hi")
    fake.lose_response_next("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(1017, "did this arrive?")
    assert [m.text for m in fake.bot_messages(1017)] == ["did this arrive?"]


@pytest.mark.asyncio
async def test_groups_without_admin_rights_see_only_what_privacy_mode_allows(
    fake: FakeTelegram, bot: PtbBot
) -> None:
    group = fake.group(-1002, "Chat", bot_is_admin=False)
    member = group.member(601, "Member")
    member.send_text("talking among ourselves")
    member.send_text("/start")
    member.send_text("hey @screening_test_bot")
    texts = [u.message.text for u in await poll(bot) if u.message]
    assert texts == ["/start", "hey @screening_test_bot"]
    assert len(group.view.visible()) == 3  # the chat itself shows everything


@pytest.mark.asyncio
async def test_webhook_keeps_each_chat_in_order(fake: FakeTelegram, bot: PtbBot) -> None:
    in_flight: dict[int, int] = {}
    most_in_flight = {"chat": 0, "all": 0}
    seen: dict[int, list[str]] = {}

    async def receive(request: web.Request) -> web.Response:
        update = await request.json()
        chat_id = update["message"]["chat"]["id"]
        in_flight[chat_id] = in_flight.get(chat_id, 0) + 1
        most_in_flight["chat"] = max(most_in_flight["chat"], in_flight[chat_id])
        most_in_flight["all"] = max(most_in_flight["all"], sum(in_flight.values()))
        await asyncio.sleep(0.02)
        seen.setdefault(chat_id, []).append(update["message"]["text"])
        in_flight[chat_id] -= 1
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/hook")
        people = [fake.person(2000 + i, f"P{i}") for i in range(4)]
        for n in range(3):
            for person in people:
                person.send_text(f"m{n}")
        await fake.wait_for_async(lambda: not fake.pending_updates, timeout=5)
    finally:
        await bot.delete_webhook()
        await runner.cleanup()
    assert all(texts == ["m0", "m1", "m2"] for texts in seen.values()) and len(seen) == 4
    assert most_in_flight["chat"] == 1  # never two updates of one chat at once
    assert most_in_flight["all"] > 1  # but chats in parallel


@pytest.mark.asyncio
async def test_async_context_manager_and_restart_free_shutdown() -> None:
    async with FakeTelegram() as fake, PtbBot(fake.token, base_url=fake.base_url) as bot:
        poller = asyncio.create_task(bot.get_updates(timeout=1))
        await fake.wait_for_async(lambda: fake.is_polling, timeout=2)
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
    assert not [t for t in threading.enumerate() if t.name == "fake-telegram"]
