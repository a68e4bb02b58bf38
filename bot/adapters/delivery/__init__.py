"""Delivery channels for the referral outbox: signed webhook, partner Telegram chat, e-mail.

Each channel has `send(parcel) -> Sent | TryAgain | Refused` and `close()`; none raises for a
failed delivery, and error texts carry status codes and exception names, never content.
"""
