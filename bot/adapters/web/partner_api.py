"""The partners' callback endpoint: `POST /referrals/{id}/status`, signed like our webhooks.

Body: `{"status": "accepted" | "rejected" | "done", "reason": "..."}` (reason optional, kept
for staff and never shown to the person). Headers: X-Referral-Timestamp and
X-Referral-Signature = "sha256=" + hex HMAC-SHA256 of "<timestamp>.<raw body>" with the secret
named by the service's secret_env in the directory.

401: missing or wrong signature, or a timestamp more than 5 minutes off. 404: unknown referral.
409: the answer is not possible now (e.g. the person withdrew; the body says the status).
422: a body that is not such JSON. 200: recorded, or the same answer again (idempotent).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from bot.adapters.db.referrals import ReferralStore
from bot.adapters.delivery.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from bot.domain.directory import ChannelType, Directory
from bot.services.partner_answers import AnswerResult, PartnerAnswers

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
SecretLookup = Callable[[str], str | None]


class StatusBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["accepted", "rejected", "done"]
    reason: str | None = Field(default=None, max_length=500)


def partner_secret(directory: Directory, service_id: str, secrets: SecretLookup) -> str | None:
    """The secret of the service's channels (its webhook's first), from the environment."""
    service = directory.service(service_id)
    if service is None:
        return None
    channels = sorted(service.referral_channels, key=lambda c: c.type != ChannelType.WEBHOOK)
    for channel in channels:
        if channel.secret_env:
            value = secrets(channel.secret_env)
            if value:
                return value
    return None


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def create_app(
    referrals: ReferralStore,
    answers: PartnerAnswers,
    directory: Directory,
    secrets: SecretLookup,
    *,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    app = FastAPI(
        title="Referral status callbacks",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # nothing to browse: partners get the README section
    )

    @app.post("/referrals/{referral_id}/status")
    async def set_status(referral_id: str, request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(413, "body too large")
        referral = await run_in_threadpool(referrals.get, referral_id)
        if referral is None:
            return _error(404, "unknown referral")
        secret = partner_secret(directory, referral.service_id, secrets)
        if secret is None:
            log.warning("referral %s: no partner secret for %s", referral_id, referral.service_id)
            return _error(401, "signature required")
        headers = request.headers
        if not verify(
            secret, headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER), body, clock()
        ):
            log.info("referral %s: a status callback with a bad signature", referral_id)
            return _error(401, "bad or stale signature")
        try:
            answer = StatusBody.model_validate_json(body)
        except ValidationError:
            return _error(422, 'expected {"status": "accepted|rejected|done", "reason": "..."}')
        done = await run_in_threadpool(
            answers.answer, referral_id, answer.status, answer.reason, "partner:callback"
        )
        if done.result is AnswerResult.NOT_FOUND or done.referral is None:
            return _error(404, "unknown referral")
        current = done.referral.status.value
        if done.result is AnswerResult.CONFLICT:
            return JSONResponse(
                {"detail": f"the referral is {current}", "status": current}, status_code=409
            )
        return JSONResponse(
            {"referral_id": referral_id, "status": current, "result": done.result.value}
        )

    return app
