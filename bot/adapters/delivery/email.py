"""A partner's intake mailbox over SMTP: a plain-text summary and the packet as a JSON file.

STARTTLS by default (SMTP_TLS=starttls; "ssl" for implicit TLS on port 465; "none" only for a
relay on the same host). The Message-ID is derived from the idempotency key, so a message sent
twice (worker killed before recording) is recognisable as the same one.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal

from bot.domain.referral_lifecycle import (
    DeliveryResult,
    OutboxKind,
    Parcel,
    Refused,
    Sent,
    TryAgain,
)

TlsMode = Literal["starttls", "ssl", "none"]


def build_message(parcel: Parcel, sender: str) -> EmailMessage:
    item = parcel.item
    rid = item.referral_id
    message = EmailMessage()
    message["From"] = sender
    message["To"] = item.target
    message["Date"] = formatdate(usegmt=True)
    domain = sender.rpartition("@")[2].strip("> ") or "localhost"
    message["Message-ID"] = f"<{item.idempotency_key}@{domain}>"
    message["X-Referral-Id"] = rid
    message["Idempotency-Key"] = item.idempotency_key
    if item.kind is OutboxKind.WITHDRAWAL:
        message["Subject"] = f"Referral {rid} withdrawn"
        message.set_content(
            f"Referral {rid} was withdrawn: the person withdrew their consent.\n"
            "Please do not act on it and delete what you received about it.\n"
        )
    else:
        message["Subject"] = f"New referral {rid}"
        summary = f"{parcel.summary}\n\n" if parcel.summary else ""
        message.set_content(
            f"New referral {rid}.\n\n{summary}"
            f"Please answer by {parcel.answer_by:%Y-%m-%d %H:%M} UTC. "
            "The referral is attached as JSON.\n"
        )
    message.add_attachment(
        parcel.body, maintype="application", subtype="json", filename=f"referral-{rid}.json"
    )
    return message


class EmailChannel:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str = "",
        password: str = "",
        tls: TlsMode = "starttls",
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self._username, self._password = username, password
        self._tls = tls
        self._timeout = timeout

    def send(self, parcel: Parcel) -> DeliveryResult:
        message = build_message(parcel, self.sender)
        try:
            self._deliver(message)
        except smtplib.SMTPRecipientsRefused:
            return Refused("smtp recipient refused")
        except smtplib.SMTPResponseException as exc:
            kind = Refused if exc.smtp_code >= 500 else TryAgain
            return kind(f"smtp {exc.smtp_code} ({type(exc).__name__})")
        except (smtplib.SMTPException, OSError) as exc:
            return TryAgain(f"smtp unreachable ({type(exc).__name__})")
        return Sent("smtp accepted")

    def _deliver(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self._tls == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self._timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self._timeout)
        with smtp:
            if self._tls == "starttls":
                smtp.starttls(context=context)
            if self._username:
                smtp.login(self._username, self._password)
            smtp.send_message(message)

    def close(self) -> None:
        """Nothing kept open: one SMTP session per message."""
