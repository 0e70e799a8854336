"""Small HTTP clients the end-to-end tests use to drive the emulators and the fake Google."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass
class SeenSecrets:
    """Every token and email address a test run handed out; the log audit looks for them."""

    values: set[str] = field(default_factory=set)

    def add(self, *values: str | None) -> None:
        for value in values:
            if value:
                self.values.add(value)


@dataclass
class AuthUser:
    """A user of the Firebase Auth emulator with a fresh ID token."""

    uid: str
    email: str
    id_token: str


class AuthEmulator:
    """The Firebase Auth emulator's REST API (identitytoolkit) and emulator controls."""

    def __init__(self, host: str, project_id: str, seen: SeenSecrets) -> None:
        self.base = f"http://{host}"
        self.project_id = project_id
        self.seen = seen

    def create_user(self, email: str | None = None) -> AuthUser:
        """Sign up a new email/password user and return its ID token."""
        email = email or f"user-{secrets.token_hex(4)}@example.com"
        response = requests.post(
            f"{self.base}/identitytoolkit.googleapis.com/v1/accounts:signUp",
            params={"key": "local"},
            json={"email": email, "password": secrets.token_hex(8), "returnSecureToken": True},
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        self.seen.add(email, body["idToken"], body.get("refreshToken"))
        return AuthUser(uid=body["localId"], email=email, id_token=body["idToken"])

    def _admin(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """An Admin API call (``accounts:{action}``) with the emulator's owner credential."""
        response = requests.post(
            f"{self.base}/identitytoolkit.googleapis.com/v1/projects/{self.project_id}"
            f"/accounts:{action}",
            json=body,
            headers={"Authorization": "Bearer owner"},
            timeout=10,
        )
        response.raise_for_status()
        return dict(response.json())

    def delete_user(self, uid: str) -> None:
        """Delete the user, as an admin would in the Firebase console."""
        self._admin("delete", {"localId": uid})

    def disable_user(self, uid: str) -> None:
        """Disable the user."""
        self._admin("update", {"localId": uid, "disableUser": True})

    def revoke_sessions(self, uid: str, valid_since: int) -> None:
        """Revoke every token issued before ``valid_since`` (epoch seconds)."""
        self._admin("update", {"localId": uid, "validSince": str(valid_since)})

    def exists(self, uid: str) -> bool:
        """True when the user is still in the emulator."""
        return bool(self._admin("lookup", {"localId": [uid]}).get("users"))

    def reset(self) -> None:
        """Delete every account of the project."""
        requests.delete(
            f"{self.base}/emulator/v1/projects/{self.project_id}/accounts", timeout=10
        ).raise_for_status()


class FirestoreEmulator:
    """Controls of the Firestore emulator."""

    def __init__(self, host: str, project_id: str) -> None:
        self.base = f"http://{host}"
        self.project_id = project_id

    def reset(self) -> None:
        """Delete every document of the project's default database."""
        requests.delete(
            f"{self.base}/emulator/v1/projects/{self.project_id}/databases/(default)/documents",
            timeout=10,
        ).raise_for_status()


class FakeGoogle:
    """The fake Google server's control API."""

    def __init__(self, base: str) -> None:
        self.base = base

    def reset(self) -> None:
        """Forget users, grants, tokens, faults and recorded calls."""
        requests.post(f"{self.base}/_control/reset", timeout=10).raise_for_status()

    def reset_calls(self) -> None:
        """Forget the recorded calls only."""
        requests.delete(f"{self.base}/_control/calls", timeout=10).raise_for_status()

    def create_user(self, email: str, name: str | None = None) -> dict[str, Any]:
        """A Google account the consent page can sign in as."""
        response = requests.post(
            f"{self.base}/_control/users", json={"email": email, "name": name}, timeout=10
        )
        response.raise_for_status()
        return dict(response.json())

    def calls(self, **filters: str) -> list[dict[str, Any]]:
        """Calls the fake received, in order."""
        response = requests.get(f"{self.base}/_control/calls", params=filters, timeout=10)
        response.raise_for_status()
        return list(response.json()["calls"])
