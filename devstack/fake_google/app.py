"""`create_app`: wires state, discovery router, handlers and routes into one Flask app."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask

from devstack.fake_google.api_gateway import register_api_gateway
from devstack.fake_google.apis import API_MODULES
from devstack.fake_google.config import FakeGoogleConfig
from devstack.fake_google.context import ServerContext
from devstack.fake_google.control import register_control_routes
from devstack.fake_google.discovery import REGISTERED_APIS, DiscoveryRouter
from devstack.fake_google.oauth import register_oauth_routes
from devstack.fake_google.registry import ApiModule, ApiRegistry
from devstack.fake_google.scopes import IDENTITY_SCOPES
from devstack.fake_google.signing import SigningKey
from devstack.fake_google.state import FakeState

CONTEXT_EXTENSION = "fake_google"


def create_app(config: FakeGoogleConfig, modules: Iterable[ApiModule[Any]] = API_MODULES) -> Flask:
    """A Flask app serving the fake; `app.extensions["fake_google"]` is its ServerContext."""
    router = DiscoveryRouter(REGISTERED_APIS)
    registry = ApiRegistry(modules, router.methods)
    state = FakeState(config, registry.data_factories())
    ctx = ServerContext(
        config=config,
        state=state,
        router=router,
        registry=registry,
        signing_key=SigningKey(),
        known_scopes=router.known_scopes() | IDENTITY_SCOPES,
    )
    app = Flask(__name__)
    app.extensions[CONTEXT_EXTENSION] = ctx
    # The explicit OAuth and control rules win over the gateway's catch-all `/<path>` rule.
    register_oauth_routes(app, ctx)
    register_control_routes(app, ctx)
    register_api_gateway(app, ctx)
    return app
