"""CLI: `python -m devstack.fake_google --port N --client-id ID --client-secret S --redirect-uri U`.

Prints `fake google listening on http://HOST:PORT` once the socket is bound.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from werkzeug.serving import make_server

from devstack.fake_google.app import create_app
from devstack.fake_google.config import FakeGoogleConfig, OAuthClient


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(
        prog="python -m devstack.fake_google",
        description="Stateful fake of Google OAuth and REST APIs for local tests.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089, help="0 picks a free port")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="a redirect URI registered for the client (repeatable)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the fake until interrupted or terminated."""
    args = parse_args(argv)
    client = OAuthClient(args.client_id, args.client_secret, tuple(args.redirect_uri))
    app = create_app(FakeGoogleConfig(clients=(client,)))
    server = make_server(args.host, args.port, app, threaded=True)
    # A clean exit on SIGTERM, which is what process supervisors send.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    print(f"fake google listening on http://{server.host}:{server.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
