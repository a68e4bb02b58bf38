"""Compact, versioned callback data for inline buttons (Telegram allows 64 bytes).

"a:<step>:<answer>" becomes "<version>a<step index>.<option index>", where the version is a
short fingerprint of the interview's steps and options: after the flows change, a press on an
old message is recognised as old instead of being read as a different answer.
"""

from __future__ import annotations

import hashlib

from bot.domain.flow import Flow

MAX_BYTES = 64


class CallbackCodec:
    def __init__(self, flow: Flow) -> None:
        self._steps = list(flow.steps.values())
        self._index = {step.id: i for i, step in enumerate(self._steps)}
        shape = "|".join(f"{s.id}:{','.join(o.id for o in s.options)}" for s in self._steps)
        self.version = hashlib.sha256(shape.encode()).hexdigest()[:4]

    def encode(self, payload: str) -> str:
        kind, _, rest = payload.partition(":")
        if kind == "a":
            step_id, _, answer = rest.partition(":")
            step = self._steps[self._index[step_id]]
            option = [o.id for o in step.options].index(answer)
            data = f"{self.version}a{self._index[step_id]:x}.{option:x}"
        else:
            data = f"{self.version}{kind}{rest}"
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data too long: {payload!r}")
        return data

    def decode(self, data: str) -> str | None:
        """The service payload, or None for an old version or garbage."""
        if len(data) < 6 or not data.startswith(self.version):
            return None
        kind, rest = data[4], data[5:]
        if kind != "a":
            return f"{kind}:{rest}"
        try:
            step_index, option_index = (int(part, 16) for part in rest.split("."))
            step = self._steps[step_index]
            return f"a:{step.id}:{step.options[option_index].id}"
        except (ValueError, IndexError):
            return None
