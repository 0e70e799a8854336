"""The composition root: the one place where real adapters are chosen and built.

Everything is built lazily and once per instance, so a cold start pays only for what the
first request uses. Any part can be replaced when the container is made
(``Container(settings, channels=FakeChannels())``) and a made container installed for the
entry modules with ``install``: in-process tests run the real functions over fakes of our
ports this way.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Literal

from shared import logs
from shared.google_errors import EVENT_POLICY, REQUEST_POLICY, RetryPolicy
from shared.settings import Settings, get_settings

if TYPE_CHECKING:
    from google.cloud import firestore

    from shared.adapters.channel_store import FirestoreChannelStore
    from shared.adapters.due_index import FirestoreDueIndex
    from shared.adapters.google_credentials import GoogleCredentialsProvider
    from shared.adapters.google_gateway import GoogleGateway
    from shared.adapters.own_marks import FirestoreOwnMarks
    from shared.adapters.preference_store import FirestorePreferenceStore
    from shared.adapters.pubsub_publisher import PubSubJobPublisher, PubSubMessagePublisher
    from shared.adapters.sync_store import FirestoreFeedReader, FirestoreSyncStore
    from shared.adapters.user_records import FirestoreUserRecords
    from shared.auth import FirebaseAuthenticator
    from shared.ports.sync import SourceKind
    from shared.services.calendar import CalendarService
    from shared.services.devices import DevicesService
    from shared.services.linking import LinkingService
    from shared.services.maintenance import MaintenanceService
    from shared.services.notifications import NotificationService
    from shared.services.push import PushService
    from shared.services.relink import RelinkNotifier
    from shared.services.sync import SyncRunner
    from shared.services.watches import WatchService
    from shared.vault import TokenVault


Caller = Literal["request", "event"]
_POLICIES: dict[Caller, RetryPolicy] = {"request": REQUEST_POLICY, "event": EVENT_POLICY}


class Container:
    """Lazily built adapters and services of one function instance.

    ``retry_policy``: how long Google calls may retry (an app waits on an HTTP request; a
    Pub/Sub or webhook handler can wait longer). ``overrides``: parts to use instead of
    building them, by attribute name.
    """

    def __init__(
        self, settings: Settings, retry_policy: RetryPolicy = REQUEST_POLICY, **overrides: Any
    ) -> None:
        unknown = set(overrides) - set(dir(type(self)))
        if unknown:
            raise TypeError(f"no such part to override: {sorted(unknown)}")
        self.settings = settings
        self.retry_policy = retry_policy
        self.__dict__.update(overrides)  # cached properties read the instance dict first

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
    def google(self) -> GoogleGateway:
        """The one way to call Google APIs."""
        from shared.adapters.google_gateway import GoogleGateway

        return GoogleGateway(self.settings, self.credentials, self.retry_policy)

    @functools.cached_property
    def sources(self) -> dict[SourceKind, Any]:
        """The change source of each kind (also the watch calls of its kind)."""
        from shared.adapters.calendar_source import CalendarSource
        from shared.adapters.drive_source import DriveSource
        from shared.adapters.gmail_source import GmailSource
        from shared.ports.sync import SourceKind

        return {
            SourceKind.GMAIL: GmailSource(self.google),
            SourceKind.DRIVE: DriveSource(self.google),
            SourceKind.CALENDAR: CalendarSource(self.google, self.sync_store),
        }

    @functools.cached_property
    def feed_reader(self) -> FirestoreFeedReader:
        """Reads the activity feed."""
        from shared.adapters.sync_store import FirestoreFeedReader

        return FirestoreFeedReader(self.firestore)

    @functools.cached_property
    def work_queue(self) -> PubSubMessagePublisher:
        """Publishes maintenance work (batches, sync follow-ups, prune)."""
        from shared.adapters.pubsub_publisher import PubSubMessagePublisher

        settings = self.settings
        return PubSubMessagePublisher(
            settings.google_cloud_project, settings.maintenance_work_topic
        )

    @functools.cached_property
    def tick_queue(self) -> PubSubMessagePublisher:
        """Publishes continuations of a maintenance tick."""
        from shared.adapters.pubsub_publisher import PubSubMessagePublisher

        settings = self.settings
        return PubSubMessagePublisher(
            settings.google_cloud_project, settings.maintenance_ticks_topic
        )

    @functools.cached_property
    def due_index(self) -> FirestoreDueIndex:
        """Sources due for maintenance."""
        from shared.adapters.due_index import FirestoreDueIndex

        return FirestoreDueIndex(self.firestore)

    def sync_runner(self, kind: SourceKind) -> SyncRunner:
        """The coalescing sync runner of one kind of source; a run still dirty after its
        passes is continued through the maintenance work topic."""
        from shared.services.maintenance import encode_sources
        from shared.services.sync import SyncRunner

        def follow_up(key: Any) -> None:
            self.work_queue.publish([{"task": "sync", "sources": encode_sources([key])}])

        return SyncRunner(self.sync_store, self.sources[kind], self.job_publisher, follow_up)

    @functools.cached_property
    def own_changes(self) -> FirestoreOwnMarks:
        """The user's own Calendar writes, marked on the event records the sync reads."""
        from shared.adapters.own_marks import FirestoreOwnMarks

        return FirestoreOwnMarks(self.firestore, self.sync_store)

    @functools.cached_property
    def watch_service(self) -> WatchService:
        """Starts, renews and stops channels and watches; reconciles."""
        from datetime import timedelta

        from shared.ports.sync import SourceKind
        from shared.services.upkeep import UpkeepPolicy
        from shared.services.watches import WatchService

        settings = self.settings
        policy = UpkeepPolicy(
            renew_before=timedelta(hours=settings.channel_renew_hours),
            # A Gmail watch lasts 7 days: re-watch once it has fewer than 7 days - interval.
            gmail_rewatch=timedelta(days=7) - timedelta(hours=settings.gmail_rewatch_hours),
            reconcile_min=timedelta(minutes=settings.reconcile_after_minutes),
            reconcile_max=timedelta(hours=settings.reconcile_max_hours),
            calendar_list_every=timedelta(hours=settings.calendar_list_hours),
        )
        return WatchService(
            settings,
            self.channels,
            self.sync_store,
            self.sources[SourceKind.GMAIL],
            {kind: self.sources[kind] for kind in (SourceKind.DRIVE, SourceKind.CALENDAR)},
            is_linked=self.is_linked,
            calendar_list=self.sources[SourceKind.CALENDAR],
            policy=policy,
        )

    def is_linked(self, uid: str) -> bool:
        """The user's Google account is linked (not unlinked, not waiting for a re-link)."""
        return self.linking.status(uid).status == "linked"

    @functools.cached_property
    def maintenance(self) -> MaintenanceService:
        """The maintenance tick and its workers."""
        from shared.services.maintenance import MaintenanceService

        # The watch service and the devices are resolved on first use: a batch that only
        # skips sources reads their cursors and builds nothing of the Google side.
        return MaintenanceService(
            lambda: self.watch_service,
            self.sync_store,
            self.due_index,
            self.work_queue,
            self.tick_queue,
            self.sync_runner,
            self.is_linked,
            lambda now, limit: self.devices.prune_stale(now, limit),
        )

    @functools.cached_property
    def notifications(self) -> NotificationService:
        """Receives Gmail, Drive and Calendar notifications."""
        from shared.services.notifications import NotificationService

        return NotificationService(self.channels, self.sync_runner)

    @functools.cached_property
    def relink(self) -> RelinkNotifier:
        """What follows a grant Google refused: watches stopped, the app told."""
        from shared.services.relink import RelinkNotifier

        return RelinkNotifier(self.watch_service.stop_all, self.sync_store, self.job_publisher)

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
            self.firestore,
            self.vault,
            self.settings,
            # Late-bound: stopping the watches itself needs these credentials.
            lambda uid: self.relink.after_relink_required(uid),
        )

    @functools.cached_property
    def calendar(self) -> CalendarService:
        """Calendar CRUD on the user's Google Calendar."""
        from shared.adapters.google_calendar import GoogleCalendar
        from shared.services.calendar import CalendarService

        return CalendarService(GoogleCalendar(self.google), self.own_changes)

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
            sender=FcmSender(
                self.settings.google_cloud_project,
                self.settings.fcm_base_url,
                self.settings.fcm_timeout_seconds,
            ),
            stale_after=self.devices.stale_after,
        )


_installed: Container | None = None


def install(made: Container | None) -> None:
    """Use ``made`` as the instance's container from now on (None: build from settings)."""
    global _installed
    _installed = made
    _built.cache_clear()


@functools.cache
def _built(caller: Caller) -> Container:
    settings = get_settings()
    logs.configure(settings.log_level, settings.google_cloud_project)
    return Container(settings, _POLICIES[caller])


def container(caller: Caller = "request") -> Container:
    """The instance's container; validates settings and configures logging on first use.

    ``caller``: ``request`` for HTTP functions the app waits on, ``event`` for Pub/Sub
    and webhook handlers.
    """
    return _installed if _installed is not None else _built(caller)
