"""The terminal channel: the same conversation, typed, with numbered options."""

from __future__ import annotations

import logging
from typing import TextIO

from bot.adapters.i18n import BabelTranslator
from bot.services.conversation import ConversationService
from bot.services.messages import Choice, Inbound, InboundKind, Outbound, Text

log = logging.getLogger(__name__)
CLEAR_SCREEN = "\033[3J\033[H\033[2J"  # also clears the scroll-back of most terminals


class TerminalChat:
    def __init__(
        self,
        service: ConversationService,
        translator: BabelTranslator,
        stdin: TextIO,
        stdout: TextIO,
        *,
        user: str = "local",
        language: str | None = None,
    ) -> None:
        self.service = service
        self.translator = translator
        self.stdin = stdin
        self.stdout = stdout
        self.user = user
        self.language_hint = language
        self.numbered: list[Choice] = []

    def run(self) -> int:
        hint_language = (
            self.language_hint
            if self.language_hint and self.translator.supports(self.language_hint)
            else "en"
        )
        self._print(f"({self.translator.render(hint_language, Text('terminal.hint'))})")
        while True:
            self.stdout.write("> ")
            self.stdout.flush()
            line = self.stdin.readline()
            if not line:
                self._print("")
                return 0
            outbound = self.service.handle(self._inbound(line.rstrip("\r\n")))
            self._show(outbound)
            if outbound.quick_exit:
                return 0

    def _inbound(self, line: str) -> Inbound:
        stripped = line.strip()
        kind, text, button = InboundKind.TEXT, line, ""
        if stripped.isdigit() and 1 <= int(stripped) <= len(self.numbered):
            kind, text, button = InboundKind.BUTTON, "", self.numbered[int(stripped) - 1].payload
        elif stripped.startswith("/") and len(stripped) > 1 and " " not in stripped:
            kind, text = InboundKind.COMMAND, stripped[1:]
        return Inbound(
            channel="terminal",
            user_ref=self.user,
            kind=kind,
            text=text,
            button=button,
            language_hint=self.language_hint,
        )

    def _show(self, outbound: Outbound) -> None:
        language = outbound.language
        if outbound.quick_exit:
            self.stdout.write(CLEAR_SCREEN)
        self.numbered = []
        for reply in outbound.replies:
            self._print(self.translator.reply_text(language, reply))
            for choice in reply.choices:
                self.numbered.append(choice)
                self._print(f"  {len(self.numbered)}. {self.translator.label(language, choice)}")
        if outbound.always and not outbound.quick_exit:
            extras = []
            for choice in outbound.always:
                self.numbered.append(choice)
                extras.append(f"{len(self.numbered)}. {self.translator.label(language, choice)}")
            self._print("  [" + "   ".join(extras) + "]")

    def _print(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()
