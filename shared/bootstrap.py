"""The composition root: the one place where real adapters are chosen and built.

Everything is built lazily and once per instance, so a cold start pays only for what the
first request uses.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.settings import Settings, get_settings

if TYPE_CHECKING:
    from google.cloud import firestore

    from shared.adapters.channel_store import FirestoreChannelStore
    from shared.adapters.google_credentials import GoogleCredentialsProvider
    from shared.adapters.preference_store import FirestorePreferenceStore
    from shared.adapters.pubsub_publisher import PubSubJobPublisher
    from shared.adapters.sync_store import FirestoreFeedReader, FirestoreSyncStore
    from shared.adapters.user_records import FirestoreUserRecords
    from shared.auth import FirebaseAuthenticator
    from shared.services.calendar import CalendarService
    from shared.services.devices import DevicesService
    from shared.services.linking import LinkingService
    from shared.services.push import PushService
    from shared.services.sync import SourceKind, SyncRunner
    from shared.services.watches import WatchService
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
    def channels(self) -> FirestoreChannelStore:
        """Push channels and Gmail routing."""
        from shared.adapters.channel_store import FirestoreChannelStore

        return FirestoreChannelStore(self.firestore)

    @functools.cached_property
    def sync_store(self) -> FirestoreSyncStore:
        """Cursors, leases, feed items and the outbox."""
        from shared.adapters.sync_store import FirestoreSyncStore

        return FirestoreSyncStore(self.firestore)

    @functools.cached_property
    def job_publisher(self) -> PubSubJobPublisher:
        """Publishes push jobs."""
        from shared.adapters.pubsub_publisher import PubSubJobPublisher

        return PubSubJobPublisher(self.settings.google_cloud_project, self.settings.push_jobs_topic)

    @functools.cached_property
    def sources(self) -> dict[SourceKind, Any]:
        """The change source of each kind."""
        from shared.services.sync import SourceKind
        from shared.sources.calendar import CalendarSource
        from shared.sources.drive import DriveSource
        from shared.sources.gmail import GmailSource

        return {
            SourceKind.GMAIL: GmailSource(self.credentials, self.settings),
            SourceKind.DRIVE: DriveSource(self.credentials, self.settings),
            SourceKind.CALENDAR: CalendarSource(self.credentials, self.settings),
        }

    @functools.cached_property
    def feed_reader(self) -> FirestoreFeedReader:
        """Reads the activity feed."""
        from shared.adapters.sync_store import FirestoreFeedReader

        return FirestoreFeedReader(self.firestore)

    def sync_runner(self, kind: SourceKind) -> SyncRunner:
        """The coalescing sync runner of one kind of source."""
        from shared.services.sync import SyncRunner

        return SyncRunner(self.sync_store, self.sources[kind], self.job_publisher)

    @functools.cached_property
    def watch_service(self) -> WatchService:
        """Starts, renews and stops channels and watches; reconciles."""
        from shared.services.sync import SourceKind
        from shared.services.watches import WatchService

        return WatchService(
            self.settings,
            self.channels,
            self.sync_store,
            self.sources[SourceKind.GMAIL],
            self.sources[SourceKind.DRIVE],
            self.sources[SourceKind.CALENDAR],
            is_linked=lambda uid: self.linking.status(uid).status == "linked",
        )

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
            watches=self.watch_service,
            state_ttl=timedelta(seconds=self.settings.oauth_state_ttl_seconds),
        )

    @functools.cached_property
    def credentials(self) -> GoogleCredentialsProvider:
        """Per-user Google credentials with transparent refresh."""
        from shared.adapters.google_credentials import GoogleCredentialsProvider

        return GoogleCredentialsProvider(
            # Late-bound: the watch service itself needs these credentials.
            self.firestore,
            self.vault,
            self.settings,
            lambda uid: self.watch_service.stop_all(uid),
        )

    @functools.cached_property
    def calendar(self) -> CalendarService:
        """Calendar CRUD on the user's Google Calendar."""
        from shared.adapters.google_calendar import GoogleCalendar
        from shared.services.calendar import CalendarService

        return CalendarService(GoogleCalendar(self.settings, self.credentials))

    @functools.cached_property
    def devices(self) -> DevicesService:
        """The user's push devices."""
        from datetime import timedelta

        from shared.adapters.device_store import FirestoreDeviceStore
        from shared.services.devices import DevicesService

        stale_after = timedelta(days=self.settings.device_stale_days)
        return DevicesService(FirestoreDeviceStore(self.firestore), stale_after)

    @functools.cached_property
    def preferences(self) -> FirestorePreferenceStore:
        """Notification preferences."""
        from shared.adapters.preference_store import FirestorePreferenceStore

        return FirestorePreferenceStore(self.firestore)

    @functools.cached_property
    def push(self) -> PushService:
        """Push dispatch: feed item, preferences, devices, claims and FCM."""
        from shared.adapters.device_store import FirestoreDeviceStore
        from shared.adapters.fcm import FcmSender
        from shared.adapters.push_claims import FirestoreClaimStore, FirestoreFeedItems
        from shared.services.push import PushService

        return PushService(
            feed=FirestoreFeedItems(self.firestore),
            preferences=self.preferences,
            devices=FirestoreDeviceStore(self.firestore),
            claims=FirestoreClaimStore(self.firestore),
            sender=FcmSender(self.settings.google_cloud_project, self.settings.fcm_base_url),
            stale_after=self.devices.stale_after,
        )


@functools.cache
def container() -> Container:
    """The instance's container; validates settings and configures logging on first use."""
    settings = get_settings()
    logs.configure(settings.log_level, settings.google_cloud_project)
    return Container(settings)
