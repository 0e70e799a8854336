"""Child processes the stack starts, each in its own session so it stops with its children."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests


class StartupError(RuntimeError):
    """A component did not become ready; the message holds the tail of its log."""


_ISSUED_PORTS: set[int] = set()
# Listening ports are picked below the kernel's ephemeral range, which every outgoing
# connection takes its local port from: a port chosen there may be taken by a client
# socket (a readiness probe, an emulator's own connections) before its server binds it.
_LOWEST_PORT = 20000
_IANA_EPHEMERAL_START = 49152  # where the range starts on macOS and the BSDs


def _ephemeral_start() -> int:
    """The first port of the kernel's ephemeral range (Linux ``ip_local_port_range``)."""
    try:
        low, _high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low)
    except (OSError, ValueError):
        return _IANA_EPHEMERAL_START


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now, outside the ephemeral range, and never
    handed out before by this process.

    A port is only checked, not held, until its program binds it: the Auth emulator takes
    seconds. Outside the ephemeral range no outgoing connection takes it meanwhile, and
    remembering what was issued keeps two of our own components off one port.
    """
    low, high = _LOWEST_PORT, _ephemeral_start()
    if high - low < 1000:  # a range lowered on the host: all unprivileged ports below it
        low = 1024
    if high - low < 1000:  # hardly any: take any unprivileged port, and the risk
        low, high = 1024, 65536
    for _ in range(1000):
        port = low + secrets.randbelow(high - low)
        if port not in _ISSUED_PORTS and _bindable(port):
            _ISSUED_PORTS.add(port)
            return port
    raise StartupError(f"no free port in {low}-{high - 1}")


@dataclass
class ManagedProcess:
    """One started program: its command, environment, log file and readiness probe."""

    name: str
    argv: list[str]
    log_path: Path
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    ready_check: Callable[[requests.Response], bool] = lambda response: True
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the program in a new session, output appended to its log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.popen = subprocess.Popen(
                self.argv,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        """The process id of the started program."""
        return self.popen.pid if self.popen else None

    def is_ready(self) -> bool:
        """True once the readiness URL answers as expected; raises if the program died."""
        if self.popen is not None and self.popen.poll() is not None:
            raise StartupError(
                f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}"
            )
        try:
            response = requests.get(self.ready_url, timeout=1)
        except requests.RequestException:
            return False
        return self.ready_check(response)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the program's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the program's process group (by its pid), then SIGKILL if it lingers."""
        if self.popen is None or self.popen.poll() is not None:
            self._reap_group(signal.SIGKILL)
            return
        self._reap_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._reap_group(signal.SIGKILL)
            self.popen.wait(timeout=timeout)
        # Children such as the emulators' JVMs may outlive their launcher script.
        self._reap_group(signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the program's process group at once, as a crash would (fault tests)."""
        self._reap_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=10)

    def _reap_group(self, sig: signal.Signals) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)  # the group id is our child's pid (new session)


def wait_all_ready(processes: list[ManagedProcess], timeout: float) -> None:
    """Poll every process until all are ready, or raise ``StartupError``."""
    pending = list(processes)
    deadline = time.monotonic() + timeout
    while pending:
        pending = [process for process in pending if not process.is_ready()]
        if not pending:
            return
        if time.monotonic() > deadline:
            names = ", ".join(process.name for process in pending)
            tails = "\n\n".join(f"--- {p.name} ---\n{p.log_tail()}" for p in pending)
            raise StartupError(f"not ready after {timeout:.0f}s: {names}\n{tails}")
        time.sleep(0.1)
