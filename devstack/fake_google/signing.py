"""The fake's RSA signing key: ID token signatures and the certificate endpoints."""

from __future__ import annotations

import base64
import datetime
import hashlib
import secrets
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt


def _b64url_uint(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_sha256_half(value: str) -> str:
    """OIDC `at_hash`: base64url of the left half of SHA-256 of the access token."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


class SigningKey:
    """A fresh RSA key per server start, published like Google's rotating keys."""

    def __init__(self) -> None:
        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(20)
        private_pem = self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._signer = crypt.RSASigner.from_string(private_pem, key_id=self.kid)
        self._certificate_pem = self._self_signed_certificate()

    def _self_signed_certificate(self) -> str:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-google-signing")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(self._private_key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def sign_jwt(self, payload: dict[str, Any]) -> str:
        """An RS256 JWT with this key's `kid` in the header."""
        token: bytes = jwt.encode(self._signer, payload)
        return token.decode("ascii")

    def certs_pem(self) -> dict[str, str]:
        """`/oauth2/v1/certs`: `{kid: PEM x509 certificate}`."""
        return {self.kid: self._certificate_pem}

    def jwks(self) -> dict[str, Any]:
        """`/oauth2/v3/certs`: the public key as a JWK set."""
        numbers = self._private_key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": self.kid,
                    "n": _b64url_uint(numbers.n),
                    "e": _b64url_uint(numbers.e),
                }
            ]
        }
