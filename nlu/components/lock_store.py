"""A lock store that lets `rasa run` start several Sanic workers (nlu/endpoints.yml).

Rasa refuses more than one worker with its default in-memory lock store, because dialogue
turns of one conversation must not run in two processes at once. This server only answers
`POST /model/parse`, which never takes a conversation lock, so per-process locks are enough;
two workers on two cores serve about twice the parses per second (see the README's figures).
"""

from __future__ import annotations

from typing import Any, Optional

from rasa.core.lock_store import InMemoryLockStore


class PerProcessLockStore(InMemoryLockStore):
    def __init__(self, endpoint_config: Optional[Any] = None) -> None:
        super().__init__()
