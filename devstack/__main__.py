"""``python -m devstack run``: start the local stack, print how to use it, stop on Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from devstack.stack import REPO_ROOT, Stack, StackUrls, wait_forever


def _guide(urls: StackUrls, started_in: float, workdir: Path) -> str:
    functions = "\n".join(f"  {name:<22} {url}" for name, url in urls.functions.items())
    account = urls.functions.get("account_api", "")
    return f"""
U+ Groupware Google backend: local stack up in {started_in:.1f}s (project {urls.project_id})

Emulators
  Firestore              http://{urls.firestore}
  Pub/Sub                http://{urls.pubsub}
  Firebase Auth          http://{urls.auth}
  Fake Google            {urls.fake_google}   (control API under /_control/)
Functions
{functions}

Try it
  # 1. create a user in the Auth emulator and keep its ID token
  SIGNUP='http://{urls.auth}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=local'
  TOKEN=$(curl -s -X POST "$SIGNUP" \\
      -H 'Content-Type: application/json' \\
      -d '{{"email":"dev@example.com","password":"secret12","returnSecureToken":true}}' \\
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["idToken"])')
  # 2. call the account API as that user
  curl -s {account}/v1/me -H "Authorization: Bearer $TOKEN"
  # 3. without a token: 401 with a stable error code
  curl -s {account}/v1/me

Logs: {workdir}/logs/   URLs as JSON: {workdir}/stack.json
Ctrl-C stops everything this command started.
"""


def _interrupt(signum: int, frame: object) -> None:
    """Turn SIGTERM into the same clean shutdown as Ctrl-C."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the whole local stack and wait for Ctrl-C")
    run.add_argument("--workdir", type=Path, default=REPO_ROOT / ".devstack")
    run.add_argument("--project", default="demo-uplus")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _interrupt)
    stack = Stack(args.workdir, project_id=args.project)
    began = time.monotonic()
    print("starting the local stack (emulators, fake Google, functions)...", flush=True)
    try:
        urls = stack.start()
        print(_guide(urls, time.monotonic() - began, args.workdir), flush=True)
        wait_forever()
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    finally:
        stack.stop()
        print("stopped: every process this command started has ended.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
