"""HMAC-SHA256 signatures of referral webhooks and of partners' status callbacks.

The signed message is "<timestamp>.<body>": the timestamp (Unix seconds, as sent in
X-Referral-Timestamp) followed by a dot and the raw body bytes. The signature header is
"sha256=<hex digest>". A receiver recomputes it with the shared secret, compares in constant
time and refuses timestamps more than five minutes away from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Referral-Timestamp"
SIGNATURE_HEADER = "X-Referral-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Referral-Signature value for this timestamp and body."""
    message = timestamp.encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str | None,
    given: str | None,
    body: bytes,
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> bool:
    """True when the signature matches and the timestamp is within `tolerance` of now."""
    if not (secret and timestamp and given and timestamp.isascii() and timestamp.isdigit()):
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    if not given.isascii():
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), given.strip())
