"""The local stack's port choice and readiness probes: two of its parts never share a port,
and a stranger on an emulator's port is never taken for the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from devstack import processes
from devstack.processes import free_port
from devstack.stack import _answers_ok, _is_auth_emulator


def _response(status: int, body: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode()
    return response


def test_free_port_never_hands_out_a_port_twice_nor_one_a_client_socket_may_take() -> None:
    # A slow component binds its port seconds after it was chosen. Meanwhile the kernel
    # may offer that still-free port to the next bind(0), or to any outgoing connection
    # as its local port, if it lies in the ephemeral range.
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
    kernel_range = Path("/proc/sys/net/ipv4/ip_local_port_range")
    if kernel_range.exists():
        low, _high = kernel_range.read_text().split()
        assert max(ports) < int(low)


def test_the_auth_probe_takes_only_the_auth_emulator() -> None:
    auth = {"authEmulator": {"ready": True, "apiSpec": "/emulator/openapi.json"}}
    assert _is_auth_emulator(_response(200, json.dumps(auth)))
    function = {"error": {"code": "method_not_allowed", "message": "Use one of: POST."}}
    assert not _is_auth_emulator(_response(405, json.dumps(function)))
    assert not _is_auth_emulator(_response(200, "Ok\n"))
    assert not _is_auth_emulator(_response(200, "<!doctype html>"))
    assert not _is_auth_emulator(_response(200, '{"authEmulator": null}'))
    assert not _is_auth_emulator(_response(200, "[1, 2]"))


def test_the_emulator_probe_wants_their_ok() -> None:
    assert _answers_ok(_response(200, "Ok\n"))
    assert not _answers_ok(_response(200, '{"ok": true}'))
    assert not _answers_ok(_response(404, "Ok\n"))


def test_a_lowered_ephemeral_range_still_keeps_ports_below_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A host tuned to ip_local_port_range = "10000 65000": ports come from 1024-9999.
    monkeypatch.setattr(processes, "_ephemeral_start", lambda: 10000)
    ports = [processes.free_port() for _ in range(50)]
    assert max(ports) < 10000 and min(ports) >= 1024
