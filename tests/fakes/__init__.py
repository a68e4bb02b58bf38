"""Fakes of outside services for tests: real servers on 127.0.0.1, never mocks."""

from tests.fakes.telegram_server import (
    AnsweredCallback,
    ApiCall,
    CallbackQueryRecord,
    ChatActionRecord,
    ChatView,
    FakeClock,
    FakeTelegram,
    Group,
    Participant,
    Person,
    RateLimits,
    VisibleMessage,
    WebhookDelivery,
)

__all__ = [
    "AnsweredCallback",
    "ApiCall",
    "CallbackQueryRecord",
    "ChatActionRecord",
    "ChatView",
    "FakeClock",
    "FakeTelegram",
    "Group",
    "Participant",
    "Person",
    "RateLimits",
    "VisibleMessage",
    "WebhookDelivery",
]
