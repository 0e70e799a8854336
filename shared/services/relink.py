"""What follows when Google refuses our grant for good (``invalid_grant`` on refresh, or a
fresh access token answered with 401): the same on every path.

The credentials adapter has already marked the account ``relink_required`` and dropped its
tokens. Here its watches are stopped (best effort: Google refuses most calls once the grant
is gone, and a stopped channel is forgotten on our side either way) and the user's devices
get an ``account.relink_required`` push (data-only) so the app can ask for a new link.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from shared.activity import relink_item
from shared.logs import get_logger
from shared.ports.sync import FeedRecorder, JobPublisher
from shared.services.sync import publish_committed

log = get_logger(__name__)


class RelinkNotifier:
    """Stops the watches of a refused account and tells the app to re-link."""

    def __init__(
        self,
        stop_watches: Callable[[str], None],
        feed: FeedRecorder,
        publisher: JobPublisher,
    ) -> None:
        self._stop_watches = stop_watches
        self._feed = feed
        self._publisher = publisher

    def after_relink_required(self, uid: str) -> None:
        """Stop watches, record the re-link item and publish its push job."""
        try:
            self._stop_watches(uid)
        except Exception as exc:  # best effort: the account state is already final
            log.warning("stopping watches failed", extra={"reason": type(exc).__name__})
        now = datetime.now(UTC)
        jobs = self._feed.record(uid, [relink_item(uid, now)], now)
        publish_committed(self._publisher, self._feed, uid, jobs)
