"""Bursts of duplicate, concurrent notifications, and end-to-end latency from a mail
arriving at the fake Gmail to the push recorded by the fake FCM."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import requests

from bench.stats import median, percentile
from bench.world import BenchUser, World, wait_until
from devstack.drivers.watch import deliver_mail, drive_file, live_channel, notify_gmail

HISTORY_LIST = "gmail.users.history.list"
CHANGES_LIST = "drive.changes.list"
MAX_COPIES = 100  # per control call of the fake


def _in_threads(actions: list[Callable[[], Any]]) -> None:
    threads = [threading.Thread(target=action) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _gmail_notifications(world: World, user: BenchUser, count: int) -> list[Callable[[], Any]]:
    calls: list[Callable[[], Any]] = []
    while count > 0:
        copies = min(count, MAX_COPIES)
        calls.append(partial(notify_gmail, world.urls.fake_google, user.sub, copies=copies))
        count -= copies
    return calls


def _delivered(world: World, users: list[BenchUser]) -> tuple[int, int]:
    """(distinct items pushed, duplicate pushes) across the users' phones."""
    distinct = duplicates = 0
    for user in users:
        items = [m["message"]["data"]["item_id"] for m in world.fcm_messages(user.token)]
        distinct += len(set(items))
        duplicates += len(items) - len(set(items))
    return distinct, duplicates


def gmail_burst(
    world: World, users: list[BenchUser], per_user: int, new_items: int
) -> dict[str, Any]:
    """``per_user`` copies of the latest notification for each user, all at once, after
    ``new_items`` mails each arrived silently."""
    for user in users:
        for index in range(new_items):
            deliver_mail(world.urls.fake_google, user.sub, f"burst {index}", notify="drop")
    world.settle(quiet=0.5)
    world.google.reset_calls()
    pushed_before = _delivered(world, users)[0]
    handled_before = world.log_count("gmail_receiver", "gmail notification handled")
    total = per_user * len(users)
    began = time.monotonic()
    _in_threads([call for user in users for call in _gmail_notifications(world, user, per_user)])
    expected = pushed_before + new_items * len(users)
    wait_until(
        lambda: (
            world.log_count("gmail_receiver", "gmail notification handled")
            >= handled_before + total
            and _delivered(world, users)[0] >= expected
        ),
        timeout=300,
        interval=0.1,
    )
    wall = time.monotonic() - began
    time.sleep(1.5)  # a late duplicate would show up now
    distinct, duplicates = _delivered(world, users)
    return {
        "notifications": total,
        "new_items": new_items * len(users),
        "delivered": distinct - pushed_before,
        "duplicates": duplicates,
        "list_calls": world.method_calls(HISTORY_LIST),
        "handled": world.log_count("gmail_receiver", "gmail notification handled") - handled_before,
        "wall_seconds": wall,
    }


def _drive_answers(world: World, channel_id: str) -> Counter[str]:
    """Outcomes of the channel's change notifications: sent (with the webhook's status),
    failed (no answer within the fake's 5 s), dropped; "pending" while in flight."""
    response = requests.get(f"{world.urls.fake_google}/_control/drive/notifications", timeout=10)
    outcomes: Counter[str] = Counter()
    for n in response.json()["notifications"]:
        if n.get("channel_id") != channel_id or n.get("resource_state") == "sync":
            continue
        outcome = n.get("outcome") or "pending"
        outcomes[f"{outcome}_{n['status']}" if n.get("status") else outcome] += 1
    return outcomes


def _finished(outcomes: Counter[str]) -> int:
    return sum(n for outcome, n in outcomes.items() if outcome != "pending")


def drive_burst(world: World, user: BenchUser, count: int, new_items: int) -> dict[str, Any]:
    """``count`` concurrent channel notifications after ``new_items`` silent file changes."""
    fake = world.urls.fake_google
    for index in range(new_items):
        drive_file(fake, sub=user.sub, name=f"burst {index}.txt", notify="drop")
    channel = live_channel(fake, "drive", user.sub)
    world.google.reset_calls()
    pushed_before = _delivered(world, [user])[0]
    before = _drive_answers(world, channel["id"])
    url = f"{fake}/_control/drive/channels/{channel['id']}/notify"
    began = time.monotonic()
    # 20 senders, like Google's fan-out: each posts its share of the notifications.
    share = [count // 20 + (1 if i < count % 20 else 0) for i in range(20)]

    def sender(n: int) -> None:
        for _ in range(n):
            requests.post(url, json={}, timeout=30).raise_for_status()

    _in_threads([partial(sender, n) for n in share if n])
    wait_until(lambda: _finished(_drive_answers(world, channel["id"]) - before) >= count, 120)

    def pushed() -> bool:
        return _delivered(world, [user])[0] >= pushed_before + new_items

    # A pass that failed leaves the cursor dirty for the scheduled reconcile (every few
    # minutes in production): run it here when the items did not come on their own.
    reconciled = 0
    while not wait_until(pushed, timeout=20, interval=0.1) and reconciled < 10:
        reconciled += 1
        world.reconcile()
    wall = time.monotonic() - began
    time.sleep(1.5)
    distinct, duplicates = _delivered(world, [user])
    outcomes = _drive_answers(world, channel["id"]) - before
    return {
        "webhook_200": outcomes["sent_200"],
        "reconcile_runs": reconciled,
        "webhook_errors": _finished(outcomes) - outcomes["sent_200"],
        "notifications": count,
        "new_items": new_items,
        "delivered": distinct - pushed_before,
        "duplicates": duplicates,
        "list_calls": world.method_calls(CHANGES_LIST),
        "wall_seconds": wall,
    }


def _summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k in samples[0] if isinstance(samples[0][k], int | float)]
    return {"median": {k: median([s[k] for s in samples]) for k in keys}, "samples": samples}


def bursts(
    world: World,
    sizes: list[int],
    drive_sizes: list[int],
    accounts: int,
    per_account: int,
    runs: int,
    drive_runs: int,
) -> dict[str, Any]:
    """Every burst, ``runs`` times each, on fresh linked users."""
    results: dict[str, Any] = {"gmail": {}, "drive": {}, "many_accounts": {}}
    for size in sizes:
        gmail: list[dict[str, Any]] = []
        drive: list[dict[str, Any]] = []
        for _ in range(runs):
            user = world.linked_user()
            world.settle(quiet=0.5)
            gmail.append(gmail_burst(world, [user], size, new_items=5))
            if size in drive_sizes and len(drive) < drive_runs:
                drive.append(drive_burst(world, user, size, new_items=5))
        results["gmail"][str(size)] = _summary(gmail)
        if drive:
            results["drive"][str(size)] = _summary(drive)
    users = [world.linked_user() for _ in range(accounts)]
    world.settle(quiet=0.5)
    many = [gmail_burst(world, users, per_account, new_items=2) for _ in range(runs)]
    results["many_accounts"] = {"accounts": accounts, "per_account": per_account, **_summary(many)}
    return results


def latency(world: World, mails: int) -> dict[str, Any]:
    """Seconds from "mail delivered to the fake Gmail" to "FCM send recorded", mail by mail."""
    user = world.linked_user()
    world.settle(quiet=0.5)
    samples = []
    for index in range(mails):
        before = len(world.fcm_messages(user.token))
        began = time.time()
        deliver_mail(world.urls.fake_google, user.sub, f"latency {index}")
        arrived: list[dict[str, Any]] = []

        def pushed(before: int = before, arrived: list[dict[str, Any]] = arrived) -> bool:
            messages = world.fcm_messages(user.token)
            arrived[:] = messages[before:]
            return bool(arrived)

        if not wait_until(pushed, timeout=60, interval=0.02):
            raise RuntimeError("a mail was never pushed")
        samples.append(float(arrived[0]["at"]) - began)
    return {
        "mails": mails,
        "p50_seconds": percentile(samples, 0.5),
        "p95_seconds": percentile(samples, 0.95),
        "max_seconds": max(samples),
        "samples": samples,
    }
