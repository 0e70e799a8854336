"""The objects one fake server instance is wired from, shared by its route modules."""

from __future__ import annotations

from dataclasses import dataclass

from devstack.fake_google.config import FakeGoogleConfig
from devstack.fake_google.discovery import DiscoveryRouter
from devstack.fake_google.registry import ApiRegistry
from devstack.fake_google.signing import SigningKey
from devstack.fake_google.state import FakeState


@dataclass(frozen=True)
class ServerContext:
    """Config, state, discovery router, handler registry and signing key of one server."""

    config: FakeGoogleConfig
    state: FakeState
    router: DiscoveryRouter
    registry: ApiRegistry
    signing_key: SigningKey
    # Scopes the consent page accepts: every registered API's plus the identity scopes.
    known_scopes: frozenset[str]
