"""The token vault: AES-256-GCM encryption of Google tokens at rest.

A sealed value is ``v1.<key id>.<base64url(nonce || ciphertext+tag)>``. The key id lets
keys rotate (new writes use the current key, older keys still open what they sealed); the
Firebase uid is the associated data, so a value copied onto another user fails to open.
"""

from __future__ import annotations

import base64
import binascii
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.logs import get_logger

log = get_logger(__name__)

_VERSION = "v1"
_NONCE_BYTES = 12


class VaultError(Exception):
    """A sealed value could not be opened (tampered, wrong user, or unknown key)."""


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_keys(raw: str) -> dict[str, bytes]:
    """Keys from JSON ``{"key id": "base64 of 32 bytes", ...}`` (the secret's format)."""
    try:
        entries = json.loads(raw)
        keys = {str(kid): _b64decode(str(value)) for kid, value in dict(entries).items()}
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValueError("TOKEN_ENCRYPTION_KEYS must be JSON of key id -> base64 key") from exc
    for kid, key in keys.items():
        if len(key) != 32:
            raise ValueError(f"key {kid!r} is not 256 bits")
        if not kid or "." in kid:
            raise ValueError("key ids must be non-empty and contain no '.'")
    return keys


class TokenVault:
    """Seals and opens secrets bound to one user."""

    def __init__(self, keys: dict[str, bytes], current_key_id: str) -> None:
        if current_key_id not in keys:
            raise ValueError("the current key id has no key")
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}
        self._current = current_key_id

    def seal(self, uid: str, plaintext: str) -> str:
        """Encrypt with the current key, bound to ``uid``."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self._current].encrypt(nonce, plaintext.encode(), uid.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()
        return f"{_VERSION}.{self._current}.{body}"

    def open(self, uid: str, sealed: str) -> str:
        """Decrypt a value sealed for ``uid``; fails closed with ``VaultError``."""
        try:
            version, kid, body = sealed.split(".")
            if version != _VERSION:
                raise VaultError("unknown format")
            cipher = self._ciphers.get(kid)
            if cipher is None:
                raise VaultError("unknown key id")
            raw = _b64decode(body)
            plaintext = cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], uid.encode())
            return plaintext.decode()
        except (ValueError, InvalidTag, binascii.Error, UnicodeDecodeError) as exc:
            reason = type(exc).__name__ if not isinstance(exc, VaultError) else str(exc)
            # The value and the uid stay out of the log: only why it failed.
            log.error("sealed token failed to open", extra={"reason": reason})
            raise VaultError("sealed value rejected") from None

    def needs_reseal(self, sealed: str) -> bool:
        """True when the value was sealed with a key other than the current one."""
        parts = sealed.split(".")
        return len(parts) != 3 or parts[1] != self._current
