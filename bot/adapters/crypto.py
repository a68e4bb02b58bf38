"""Encryption at rest and keyed lookup of channel ids.

Free text, contact details and the channel's user id are stored only as Fernet tokens
(AES-128-CBC with HMAC-SHA256, so tampering is detected). Keys come newest first: the first
encrypts, all decrypt, so a new key can be put in front and old data re-encrypted later.
People are found by an HMAC of their channel id, so the id is never stored in clear.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.errors import ConfigError

_CREATE = "create one with `python -m bot keys`"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class Cipher:
    """Authenticated encryption with key rotation, over MultiFernet."""

    def __init__(self, keys: Sequence[str]) -> None:
        if isinstance(keys, str):
            raise TypeError("Cipher takes a list of keys, not one string")
        if not keys:
            raise ConfigError(f"DATA_KEYS has no key; {_CREATE}")
        fernets = []
        for n, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip()))
            except (ValueError, TypeError):
                # `from None`: the library error must not drag key material into a traceback.
                raise ConfigError(
                    f"DATA_KEYS: the {_ordinal(n)} key is not a valid key; {_CREATE}"
                ) from None
        self._primary = fernets[0]
        self._all = MultiFernet(fernets)

    def encrypt(self, text: str) -> bytes:
        return self._all.encrypt(text.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._all.decrypt(token).decode("utf-8")
        except InvalidToken:
            raise ConfigError(
                "DATA_KEYS: no key decrypts stored data; keep old keys in DATA_KEYS "
                "until `python -m bot rotate-keys` has run"
            ) from None

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt with the first key; a token already under it is returned unchanged."""
        try:
            self._primary.decrypt(token)
        except InvalidToken:
            pass
        else:
            return token
        try:
            return self._all.rotate(token)
        except InvalidToken:
            raise ConfigError(
                "DATA_KEYS: no key decrypts stored data; add the old key back to DATA_KEYS"
            ) from None


def lookup_key(channel: str, user_ref: str, secret: bytes) -> str:
    """HMAC-SHA256 (hex) of a channel's user id: finds a person without storing the id."""
    message = f"{len(channel)}:{channel}:{user_ref}".encode()  # length prefix: unambiguous
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")
