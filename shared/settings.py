"""One settings object, built once per instance from the environment."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class SettingsError(RuntimeError):
    """The environment describes a configuration the service must not run with."""


class Settings(BaseModel):
    """Every knob the functions read. Names are the environment variable names, in any
    case (``Settings.from_env``); ``Settings(field=value, ...)`` reads no environment."""

    model_config = ConfigDict(extra="forbid")

    production: bool = Field(
        default=False,
        description="True in a real deployment; forbids emulator and endpoint overrides.",
    )
    google_cloud_project: str = Field(
        default="demo-uplus", description="Project id for Firestore, Pub/Sub and Firebase Auth."
    )
    log_level: str = Field(default="INFO", description="Minimum log severity.")

    firestore_emulator_host: str | None = Field(
        default=None, description="host:port of a Firestore emulator (read by the client)."
    )
    pubsub_emulator_host: str | None = Field(
        default=None, description="host:port of a Pub/Sub emulator (read by the client)."
    )
    firebase_auth_emulator_host: str | None = Field(
        default=None,
        description="host:port of the Firebase Auth emulator (read by firebase-admin).",
    )

    google_api_base_url: str | None = Field(
        default=None,
        description="Base URL replacing Google's API hosts (the fake Google locally).",
    )
    google_oauth_base_url: str | None = Field(
        default=None,
        description="Base URL replacing Google's OAuth hosts (the fake Google locally).",
    )

    google_oauth_client_id: str = Field(
        default="", description="OAuth 2.0 client id (web application) of the backend."
    )
    google_oauth_client_secret: SecretStr = Field(
        default=SecretStr(""), description="OAuth client secret (Secret Manager in production)."
    )
    google_oauth_redirect_uri: str = Field(
        default="", description="Public URL of the oauth_callback function, as registered."
    )
    app_deep_link: str = Field(
        default="https://app.uplus-groupware.example/google-link",
        description="Where the OAuth result page sends the user back to the app.",
    )
    token_encryption_keys: SecretStr = Field(
        default=SecretStr(""),
        description='Token vault keys: JSON {"key id": "base64 of 32 bytes"} (Secret Manager).',
    )
    token_encryption_key_id: str = Field(
        default="", description="Id of the vault key new writes use."
    )
    oauth_state_ttl_seconds: int = Field(
        default=600, ge=60, le=3600, description="How long a link attempt's state stays valid."
    )

    push_jobs_topic: str = Field(default="push-jobs", description="Topic of push jobs.")
    gmail_topic: str = Field(
        default="gmail-notifications", description="Topic Gmail users.watch publishes to."
    )
    calendar_webhook_url: str = Field(
        default="", description="Public URL of the calendar_webhook function (channel address)."
    )
    drive_webhook_url: str = Field(
        default="", description="Public URL of the drive_webhook function (channel address)."
    )
    fcm_base_url: str | None = Field(
        default=None, description="Base URL replacing https://fcm.googleapis.com (the fake)."
    )
    fcm_timeout_seconds: float = Field(
        default=20.0,
        gt=0,
        le=60,
        description="Timeout of one FCM send; an unanswered send is never resent (seconds).",
    )
    device_stale_days: int = Field(
        default=60, ge=1, le=365, description="Devices not seen for this many days are pruned."
    )

    channel_renew_hours: int = Field(
        default=12, ge=1, le=72, description="Renew channels expiring within this many hours."
    )
    reconcile_after_minutes: int = Field(
        default=30,
        ge=1,
        description="Shortest reconcile interval: a silent, unhealthy or lossy source.",
    )
    reconcile_max_hours: int = Field(
        default=8,
        ge=1,
        le=48,
        description="Longest reconcile interval: a healthy source (bounds a dropped push).",
    )
    gmail_rewatch_hours: int = Field(
        default=24,
        ge=1,
        le=144,
        description="Call Gmail users.watch again this often (a watch lasts 7 days).",
    )
    calendar_list_hours: int = Field(
        default=24,
        ge=1,
        le=168,
        description="Re-read each user's calendar list this often (calendars added or removed).",
    )
    maintenance_work_topic: str = Field(
        default="maintenance-work", description="Topic of maintenance work batches."
    )
    maintenance_ticks_topic: str = Field(
        default="maintenance-ticks", description="Topic of maintenance ticks (continuations)."
    )

    max_request_bytes: int = Field(
        default=64 * 1024, description="Largest request body any HTTP function accepts."
    )
    google_api_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="Timeout of one Google API request (seconds)."
    )

    @model_validator(mode="after")
    def _no_emulators_in_production(self) -> Settings:
        if not self.production:
            return self
        overrides = {
            "FIREBASE_AUTH_EMULATOR_HOST": self.firebase_auth_emulator_host,
            "FIRESTORE_EMULATOR_HOST": self.firestore_emulator_host,
            "PUBSUB_EMULATOR_HOST": self.pubsub_emulator_host,
            "GOOGLE_API_BASE_URL": self.google_api_base_url,
            "GOOGLE_OAUTH_BASE_URL": self.google_oauth_base_url,
            "FCM_BASE_URL": self.fcm_base_url,
        }
        present = sorted(name for name, value in overrides.items() if value)
        if present:
            # An emulator host in production would let anyone mint accepted ID tokens.
            raise SettingsError(f"PRODUCTION is set together with {', '.join(present)}")
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """The settings the environment variables name; the others keep their defaults.

        Values are the variables' strings, converted by pydantic's lax mode ("true"/"1",
        "600", "2.5"). A plain model rather than pydantic-settings: its import cost a cold
        start about a fifth of pydantic's (``docs/benchmarks.md``) for this one lookup.
        """
        names = cls.model_fields
        return cls.model_validate(
            {key.lower(): value for key, value in environ.items() if key.lower() in names}
        )

    def oauth_url(self, path: str) -> str:
        """An OAuth endpoint: Google's host for it, or the configured override."""
        hosts = {
            "/o/oauth2/v2/auth": "https://accounts.google.com",
            "/token": "https://oauth2.googleapis.com",
            "/revoke": "https://oauth2.googleapis.com",
            "/oauth2/v1/certs": "https://www.googleapis.com",
        }
        return (self.google_oauth_base_url or hosts[path]).rstrip("/") + path

    def api_endpoint(self, service_path: str) -> str | None:
        """``client_options.api_endpoint`` for a discovery client, or None for Google's."""
        if not self.google_api_base_url:
            return None
        return f"{self.google_api_base_url.rstrip('/')}/{service_path}"


@functools.cache
def get_settings() -> Settings:
    """The settings of this instance, read from the environment on first use."""
    return Settings.from_env()
