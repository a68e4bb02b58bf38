"""A partner's webhook receiver on 127.0.0.1, as a partner would write it from our README.

It verifies X-Referral-Signature itself (its own HMAC code, not the bot's), refuses stale
timestamps, and processes each Idempotency-Key once: a repeat is answered 200 and counted,
not processed again. Tests can stop and restart it on the same port, make it answer with
another status, or hold requests (to kill the sender while it waits for the answer).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    duplicate: bool

    def json(self) -> Any:
        return json.loads(self.body)


class PartnerReceiver:
    def __init__(self, secret: str, *, delay: float = 0.0) -> None:
        self.secret = secret
        self.delay = delay
        self.port = 0
        self.requests: list[Received] = []
        self.processed: dict[str, bytes] = {}  # idempotency key -> body, first time only
        self.answer_with: list[int] = []  # statuses for the next requests, then 200
        self.hold: threading.Event | None = None  # set: requests wait until it is set
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/referrals"

    def start(self) -> PartnerReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver._handle(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _valid(self, headers: Any, body: bytes) -> bool:
        timestamp = headers.get("X-Referral-Timestamp", "")
        given = headers.get("X-Referral-Signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return False
        mac = hmac.new(self.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        return hmac.compare_digest(f"sha256={mac.hexdigest()}", given)

    def _handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        valid = self._valid(request.headers, body)
        key = request.headers.get("Idempotency-Key", "")
        with self._lock:
            duplicate = valid and key in self.processed
            if valid and not duplicate and not self.answer_with:
                self.processed[key] = body  # "process" it: once per key
            status = self.answer_with.pop(0) if self.answer_with and valid else 200
            self.requests.append(
                Received(request.path, dict(request.headers), body, valid, duplicate)
            )
        self.arrived.set()
        if self.hold is not None:
            self.hold.wait(10)
        if self.delay:
            time.sleep(self.delay)
        if not valid:
            status = 401
        request.send_response(status)
        request.send_header("Content-Length", "0")
        request.end_headers()

    def keys(self) -> list[str]:
        with self._lock:
            return [r.headers.get("Idempotency-Key", "") for r in self.requests]
