"""The local stack's service account: a real key file for Application Default Credentials.

The stack writes a service-account key JSON (fresh RSA key, ``token_uri`` = the fake Google's
``/token``) and points the functions' ``GOOGLE_APPLICATION_CREDENTIALS`` at it, then registers
the public key with the fake, which verifies the JWT-bearer assertions google-auth signs with
it. firebase-admin's own credential path runs unchanged, as on Cloud Run with its metadata
server.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def write_key_file(path: Path, project_id: str, fake_google: str) -> dict[str, str]:
    """Write a new service-account key JSON (mode 600) and return its contents."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    key = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": private_pem,
        "client_email": f"functions@{project_id}.iam.gserviceaccount.com",
        "client_id": str(secrets.randbelow(9 * 10**20) + 10**20),
        "auth_uri": f"{fake_google}/o/oauth2/auth",
        "token_uri": f"{fake_google}/token",
        "universe_domain": "googleapis.com",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(key, indent=2))
    return key


def register_with_fake(key: dict[str, str], fake_google: str) -> None:
    """Give the fake Google the account's public key, so it accepts the account's assertions."""
    private_key = serialization.load_pem_private_key(key["private_key"].encode(), password=None)
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    response = requests.post(
        f"{fake_google}/_control/service-accounts",
        json={
            "client_email": key["client_email"],
            "client_id": key["client_id"],
            "project_id": key["project_id"],
            "private_key_id": key["private_key_id"],
            "public_key_pem": public_pem,
        },
        timeout=10,
    )
    response.raise_for_status()
