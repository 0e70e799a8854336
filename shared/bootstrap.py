"""The composition root: the one place where real adapters are chosen and built.

Everything is built lazily and once per instance, so a cold start pays only for what the
first request uses.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from shared import logs
from shared.settings import Settings, get_settings

if TYPE_CHECKING:
    from google.cloud import firestore

    from shared.adapters.google_credentials import GoogleCredentialsProvider
    from shared.adapters.user_records import FirestoreUserRecords
    from shared.auth import FirebaseAuthenticator
    from shared.services.linking import LinkingService
    from shared.vault import TokenVault


class Container:
    """Lazily built adapters of one function instance."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @functools.cached_property
    def firestore(self) -> firestore.Client:
        """The instance's Firestore client."""
        from shared.firestore import make_client

        return make_client(self.settings.google_cloud_project)

    @functools.cached_property
    def authenticator(self) -> FirebaseAuthenticator:
        """Verifies Firebase ID tokens of the mobile app."""
        from shared.auth import FirebaseAuthenticator

        return FirebaseAuthenticator(self.settings.google_cloud_project)

    @functools.cached_property
    def user_records(self) -> FirestoreUserRecords:
        """User documents in Firestore."""
        from shared.adapters.user_records import FirestoreUserRecords

        return FirestoreUserRecords(self.firestore)

    @functools.cached_property
    def vault(self) -> TokenVault:
        """Seals Google tokens with the configured AES-256-GCM keys."""
        from shared.vault import TokenVault, parse_keys

        keys = parse_keys(self.settings.token_encryption_keys.get_secret_value())
        return TokenVault(keys, self.settings.token_encryption_key_id)

    @functools.cached_property
    def watches(self) -> NoWatchesYet:
        """Stops a user's Google channels and watches."""
        return NoWatchesYet()

    @functools.cached_property
    def linking(self) -> LinkingService:
        """Link, unlink, erase and export use cases."""
        from datetime import timedelta

        from shared.adapters.google_oauth import GoogleOAuthServer
        from shared.adapters.link_store import FirestoreLinkStore
        from shared.services.linking import LinkingService

        return LinkingService(
            store=FirestoreLinkStore(self.firestore),
            oauth=GoogleOAuthServer(self.settings),
            vault=self.vault,
            watches=self.watches,
            state_ttl=timedelta(seconds=self.settings.oauth_state_ttl_seconds),
        )

    @functools.cached_property
    def credentials(self) -> GoogleCredentialsProvider:
        """Per-user Google credentials with transparent refresh."""
        from shared.adapters.google_credentials import GoogleCredentialsProvider

        return GoogleCredentialsProvider(
            self.firestore, self.vault, self.settings, self.watches.stop_all
        )


class NoWatchesYet:
    """Stops watches; no function starts Gmail, Drive or Calendar watches yet, so a user
    has none. Replaced by the channel store when watches are started on link."""

    def stop_all(self, uid: str) -> None:
        """Nothing to stop until watches exist."""


@functools.cache
def container() -> Container:
    """The instance's container; validates settings and configures logging on first use."""
    settings = get_settings()
    logs.configure(settings.log_level)
    return Container(settings)
