"""Play a person on Telegram from this terminal: the fake Bot API server and the real bot.

make demo                      # type messages; a number presses that button; /quit ends
make demo ARGS=--script        # print a scripted transcript instead
make demo ARGS="--language th" # the person's phone is set to Thai
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e.telegram_driver import BotProcess, sent_by_bot, settle
from tests.fakes.telegram_server import FakeTelegram, Person
from tests.support import TEST_DATA_KEYS, TEST_LOOKUP_KEY

SCRIPT = ["/start", "1", "2", "1", "1", "2", "1"]


def show(person: Person, since: int) -> list[str]:
    """Print the bot's new messages with numbered buttons; return the buttons' data."""
    buttons: list[str] = []
    bot_messages = [m for m in person.view.history() if m.from_bot][since:]
    for message in bot_messages:
        if message.deleted:
            continue
        print(f"\n🤖 {message.text}")
        for row in (message.reply_markup or {}).get("inline_keyboard", []):
            labels = []
            for button in row:
                buttons.append(button["callback_data"])
                labels.append(f"[{len(buttons)}] {button['text']}")
            print("   " + "   ".join(labels))
    return buttons


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--script", action="store_true", help="print a scripted transcript")
    parser.add_argument("--language", default="en", help="the person's Telegram language_code")
    args = parser.parse_args()
    os.environ.setdefault("DATA_KEYS", TEST_DATA_KEYS)
    os.environ.setdefault("LOOKUP_KEY", TEST_LOOKUP_KEY)
    with tempfile.TemporaryDirectory() as tmp, FakeTelegram() as fake:
        bot = BotProcess(fake, f"sqlite:///{Path(tmp) / 'demo.sqlite3'}", Path(tmp))
        try:
            fake.wait_for(lambda: fake.is_polling, 60, "the bot to start")
            person = fake.person(4242, "You", language_code=args.language)
            print(
                "Telegram demo: the real bot, a fake Telegram. Type a message, or a number "
                "to press a button; /quit ends."
            )
            buttons: list[str] = []
            lines = iter(SCRIPT) if args.script else None
            while True:
                if lines is not None:
                    line = next(lines, None)
                    if line is None:
                        return 0
                    print(f"\n🙂 {line}")
                else:
                    try:
                        line = input("\n🙂 ").strip()
                    except EOFError:
                        return 0
                if line == "/quit":
                    return 0
                if not line:
                    continue
                before = sent_by_bot(person)
                if line.isdigit() and 1 <= int(line) <= len(buttons):
                    person.press(buttons[int(line) - 1])
                else:
                    person.send_text(line)
                try:
                    settle(fake, person, before, timeout=20)
                except TimeoutError:
                    print("(no answer yet)")
                buttons = show(person, before) or buttons
                time.sleep(0.05)
        finally:
            bot.stop()


if __name__ == "__main__":
    sys.exit(main())
