"""Device registration through the account API: one record per install and per token."""

from __future__ import annotations

import hashlib

import requests

from devstack.drivers.clients import AuthUser
from devstack.drivers.push import device_body, new_token, put_device
from tests.e2e.conftest import RunningStack


def _get(stack: RunningStack, user: AuthUser) -> requests.Response:
    return requests.get(
        f"{stack.function_url('account_api')}/v1/devices",
        headers={"Authorization": f"Bearer {user.id_token}"},
        timeout=20,
    )


def _delete(stack: RunningStack, user: AuthUser, device_id: str) -> requests.Response:
    return requests.delete(
        f"{stack.function_url('account_api')}/v1/devices/{device_id}",
        headers={"Authorization": f"Bearer {user.id_token}"},
        timeout=20,
    )


def _stored(stack: RunningStack, uid: str) -> dict[str, dict[str, object]]:
    devices = stack.db.collection("users").document(uid).collection("devices")
    return {doc.id: doc.to_dict() or {} for doc in devices.stream()}


def _index(stack: RunningStack) -> dict[str, dict[str, object]]:
    return {doc.id: doc.to_dict() or {} for doc in stack.db.collection("device_tokens").stream()}


def test_register_refresh_and_rotate(stack: RunningStack) -> None:
    api = stack.function_url("account_api")
    user = stack.auth.create_user()
    first, rotated = new_token(stack.seen), new_token(stack.seen)

    created = put_device(api, user, "install-0001", device_body(first))
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["device_id"] == "install-0001"
    assert view["token_fingerprint"] == hashlib.sha256(first.encode()).hexdigest()[:12]
    assert first not in created.text

    again = put_device(api, user, "install-0001", device_body(first, locale="en-US"))
    assert again.status_code == 200
    assert again.json()["locale"] == "en-US"
    assert again.json()["created_at"] == view["created_at"]

    rotated_reply = put_device(api, user, "install-0001", device_body(rotated))
    assert rotated_reply.status_code == 200
    stored = _stored(stack, user.uid)
    assert list(stored) == ["install-0001"]
    assert stored["install-0001"]["token"] == rotated
    assert "advertising_id" not in stored["install-0001"]
    # The old token's index entry went with it: no stale route to this device.
    assert set(_index(stack)) == {hashlib.sha256(rotated.encode()).hexdigest()}

    listing = _get(stack, user)
    assert listing.status_code == 200
    assert [d["device_id"] for d in listing.json()["devices"]] == ["install-0001"]
    assert rotated not in listing.text and first not in listing.text


def test_a_token_is_held_by_one_device_only(stack: RunningStack) -> None:
    api = stack.function_url("account_api")
    user, other = stack.auth.create_user(), stack.auth.create_user()
    token = new_token(stack.seen)
    assert put_device(api, user, "install-old1", device_body(token)).status_code == 201
    # The same token under a new install id (reinstall): it moves, no duplicate.
    assert put_device(api, user, "install-new1", device_body(token)).status_code == 201
    assert list(_stored(stack, user.uid)) == ["install-new1"]
    # Another account signs in on that phone: the token follows the phone.
    assert put_device(api, other, "install-new1", device_body(token)).status_code == 201
    assert _stored(stack, user.uid) == {}
    assert list(_stored(stack, other.uid)) == ["install-new1"]
    index = _index(stack)
    assert list(index.values()) == [
        {
            "uid": other.uid,
            "device_id": "install-new1",
            "updated_at": index[next(iter(index))]["updated_at"],
        }
    ]


def test_advertising_id_is_stored_only_when_sent(stack: RunningStack) -> None:
    api = stack.function_url("account_api")
    user = stack.auth.create_user()
    body = {
        **device_body(new_token(stack.seen)),
        "advertising_id": "6D92078A-8246-4BA4-AE5B-76104861E7DC",
    }
    assert put_device(api, user, "install-0002", body).status_code == 201
    assert _stored(stack, user.uid)["install-0002"]["advertising_id"] == body["advertising_id"]
    body.pop("advertising_id")
    assert put_device(api, user, "install-0002", body).status_code == 200
    assert "advertising_id" not in _stored(stack, user.uid)["install-0002"]


def test_invalid_registrations_are_400_and_change_nothing(stack: RunningStack) -> None:
    api = stack.function_url("account_api")
    user = stack.auth.create_user()
    good = device_body(new_token(stack.seen))
    cases = [
        ("bad id!!", good, "device_id"),
        ("short", good, "device_id"),
        ("install-0003", {**good, "fcm_token": "short"}, "fcm_token"),
        ("install-0003", {**good, "fcm_token": "x" * 40 + " space"}, "fcm_token"),
        ("install-0003", {**good, "platform": "windows"}, "platform"),
        ("install-0003", {**good, "locale": "korean!"}, "locale"),
        ("install-0003", {**good, "os_version": ""}, "os_version"),
        ("install-0003", {**good, "advertising_id": "not-a-uuid"}, "advertising_id"),
        ("install-0003", {**good, "extra": "x"}, "extra"),
        ("install-0003", {k: v for k, v in good.items() if k != "model"}, "model"),
    ]
    for device_id, body, field in cases:
        response = put_device(api, user, device_id, body)
        if response.status_code == 404:  # "bad/id" is not even a route
            continue
        assert response.status_code == 400, (device_id, body, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert error["field"] == field, (field, error)
    assert _stored(stack, user.uid) == {}
    assert _index(stack) == {}


def test_other_users_cannot_see_or_delete_my_devices(stack: RunningStack) -> None:
    api = stack.function_url("account_api")
    me, other = stack.auth.create_user(), stack.auth.create_user()
    assert (
        put_device(api, me, "install-mine", device_body(new_token(stack.seen))).status_code == 201
    )

    assert _get(stack, other).json() == {"devices": []}
    assert _delete(stack, other, "install-mine").status_code == 204
    assert list(_stored(stack, me.uid)) == ["install-mine"]

    assert _delete(stack, me, "install-mine").status_code == 204
    assert _delete(stack, me, "install-mine").status_code == 204  # idempotent
    assert _stored(stack, me.uid) == {}
    assert _index(stack) == {}
    assert requests.get(f"{api}/v1/devices", timeout=10).status_code == 401
