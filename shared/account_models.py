"""Request models of the account API that belong to no single service."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# The single-use secrets we hand out (``secrets.token_urlsafe(32)``: 43 characters).
_ONE_TIME_CODE = r"^[A-Za-z0-9_-]{20,200}$"


class NativeExchange(BaseModel):
    """Body of ``POST /v1/google/native``: the server auth code from native sign-in, and
    the ``nonce`` of ``POST /v1/google/link`` the sign-in was started with."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    server_auth_code: str = Field(min_length=10, max_length=2048, pattern=r"^[\x21-\x7e]+$")
    nonce: str = Field(pattern=_ONE_TIME_CODE)


class LinkCompletion(BaseModel):
    """Body of ``POST /v1/google/link/complete``: the code the deep link carried."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    completion_code: str = Field(pattern=_ONE_TIME_CODE)
