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

    from shared.adapters.user_records import FirestoreUserRecords
    from shared.auth import FirebaseAuthenticator


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


@functools.cache
def container() -> Container:
    """The instance's container; validates settings and configures logging on first use."""
    settings = get_settings()
    logs.configure(settings.log_level)
    return Container(settings)
