"""Startup configuration of the fake Google server."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OAuthClient:
    """A registered OAuth client (what the Google Cloud console would hold)."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        """The client as the control API shows it (without the secret)."""
        return {"client_id": self.client_id, "redirect_uris": list(self.redirect_uris)}


@dataclass(frozen=True)
class FakeGoogleConfig:
    """What `create_app` needs: the OAuth clients known from the start."""

    clients: tuple[OAuthClient, ...] = field(default_factory=tuple)
    # Emitted in ID tokens; Google sends exactly this value.
    issuer: str = "https://accounts.google.com"
