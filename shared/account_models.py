"""Request models of the account API that belong to no single service."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NativeExchange(BaseModel):
    """Body of ``POST /v1/google/native``: the server auth code from native sign-in."""

    model_config = ConfigDict(extra="forbid")

    server_auth_code: str = Field(min_length=10, max_length=2048, pattern=r"^[\x21-\x7e]+$")
