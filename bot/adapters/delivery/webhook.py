"""The partner's HTTPS webhook: the JSON body, signed (see signing.py), with an idempotency key.

2xx: delivered. 408, 429 and 5xx, timeouts and network errors: try again later (honouring
Retry-After). Any other 4xx: refused for good, the partner does not want this request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx

from bot.adapters.delivery.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)
from bot.domain.referral_lifecycle import DeliveryResult, Parcel, Refused, Sent, TryAgain

log = logging.getLogger(__name__)

SecretLookup = Callable[[str], str | None]


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After in seconds (HTTP dates are ignored: the backoff applies instead)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 86_400 else None


class WebhookChannel:
    def __init__(
        self,
        secrets: SecretLookup,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secrets = secrets
        self._clock = clock
        # No redirects: a signed body goes only to the URL in the directory.
        self._client = httpx.Client(
            timeout=timeout, transport=transport, follow_redirects=False, trust_env=False
        )

    def send(self, parcel: Parcel) -> DeliveryResult:
        item = parcel.item
        secret = self._secrets(item.secret_env) if item.secret_env else None
        if not secret:
            # A configuration problem: retried until the deadline, then staff are alerted.
            log.warning(
                "outbox %d: the webhook secret %s is not set", item.id, item.secret_env or "-"
            )
            return TryAgain(f"webhook secret {item.secret_env or '(none)'} is not set")
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(secret, timestamp, parcel.body),
            IDEMPOTENCY_HEADER: item.idempotency_key,
            "User-Agent": "screening-bot-referrals/1",
        }
        try:
            response = self._client.post(item.target, content=parcel.body, headers=headers)
        except httpx.TimeoutException as exc:
            return TryAgain(f"webhook timeout ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return TryAgain(f"webhook unreachable ({type(exc).__name__})")
        code = response.status_code
        if 200 <= code < 300:
            return Sent(f"http {code}")
        if code in (408, 429) or code >= 500:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            return TryAgain(f"webhook http {code}", retry_after=wait)
        return Refused(f"webhook http {code}")

    def close(self) -> None:
        self._client.close()
