"""The token vault: AES-256-GCM with key ids and the uid as associated data."""

from __future__ import annotations

import base64
import json
import logging
import os

import pytest

from shared.vault import TokenVault, VaultError, parse_keys

K1, K2 = os.urandom(32), os.urandom(32)


def test_round_trip_and_ciphertext_hides_plaintext() -> None:
    vault = TokenVault({"k1": K1}, "k1")
    sealed = vault.seal("uid-a", "1//refresh-token-value")
    assert "refresh-token-value" not in sealed
    assert sealed.startswith("v1.k1.")
    assert vault.open("uid-a", sealed) == "1//refresh-token-value"
    assert vault.seal("uid-a", "same") != vault.seal("uid-a", "same")  # fresh nonce


def test_rotation_old_keys_open_new_writes_use_current() -> None:
    old = TokenVault({"k1": K1}, "k1").seal("u", "secret")
    rotated = TokenVault({"k1": K1, "k2": K2}, "k2")
    assert rotated.open("u", old) == "secret"
    assert rotated.needs_reseal(old)
    assert rotated.seal("u", "secret").startswith("v1.k2.")


def test_moved_to_another_user_fails(caplog: pytest.LogCaptureFixture) -> None:
    vault = TokenVault({"k1": K1}, "k1")
    sealed = vault.seal("uid-a", "secret-token")
    with caplog.at_level(logging.ERROR), pytest.raises(VaultError):
        vault.open("uid-b", sealed)
    assert "secret-token" not in caplog.text and sealed not in caplog.text


@pytest.mark.parametrize("position", [0, 11, 12, 20, -16, -1])
def test_tampered_ciphertext_fails_closed(position: int) -> None:
    """One flipped bit in the nonce, the ciphertext or the tag."""
    vault = TokenVault({"k1": K1}, "k1")
    version, kid, body = vault.seal("u", "secret-value").split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[position] ^= 0x01
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(VaultError):
        vault.open("u", f"{version}.{kid}.{tampered}")


def test_wrong_key_and_garbage_fail_closed() -> None:
    sealed = TokenVault({"k1": K1}, "k1").seal("u", "secret")
    with pytest.raises(VaultError):
        TokenVault({"k1": K2}, "k1").open("u", sealed)
    with pytest.raises(VaultError):
        TokenVault({"k2": K2}, "k2").open("u", sealed)
    for garbage in ("", "v1", "v2.k1.abc", "v1.k1.!!!", "v1.k1." + "A" * 5):
        with pytest.raises(VaultError):
            TokenVault({"k1": K1}, "k1").open("u", garbage)


def test_parse_keys_validates() -> None:
    raw = json.dumps({"k1": base64.urlsafe_b64encode(K1).decode()})
    assert parse_keys(raw) == {"k1": K1}
    for bad in ("not json", json.dumps({"k1": "c2hvcnQ="}), json.dumps({"a.b": raw})):
        with pytest.raises(ValueError):
            parse_keys(bad)
