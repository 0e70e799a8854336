"""oauth2 v2: `userinfo.get` (and its `userinfo/v2/me` twin) and `tokeninfo`."""

from __future__ import annotations

from typing import Any

from devstack.fake_google.registry import ApiModule, ApiRequest, ApiResponse
from devstack.fake_google.scopes import USERINFO_EMAIL, USERINFO_PROFILE

module: ApiModule[None] = ApiModule("userinfo", lambda: None)


@module.handler("oauth2.userinfo.get")
@module.handler("oauth2.userinfo.v2.me.get")
def get_userinfo(request: ApiRequest, _data: None) -> dict[str, Any]:
    """The caller's profile, with the fields its token's scopes allow (as Google filters them)."""
    user = request.caller
    info: dict[str, Any] = {"id": user.sub}
    if USERINFO_EMAIL in request.scopes:
        info["email"] = user.email
        info["verified_email"] = True
    if USERINFO_PROFILE in request.scopes:
        info["name"] = user.name
        info["given_name"] = user.given_name
        info["family_name"] = user.family_name
        info["picture"] = user.picture
    return info


@module.handler("oauth2.tokeninfo")
def token_info(request: ApiRequest, _data: None) -> ApiResponse | dict[str, Any]:
    """Describe an access token (ID tokens are not supported by the fake)."""
    state = request.state
    token = state.live_access_token(request.query.get("access_token", ""))
    if token is None:
        return ApiResponse(
            {"error": "invalid_token", "error_description": "Invalid Value"}, status=400
        )
    user = state.users[token.sub]
    info: dict[str, Any] = {
        "issued_to": token.client_id,
        "audience": token.client_id,
        "user_id": user.sub,
        "scope": " ".join(sorted(token.scopes)),
        "expires_in": max(0, int(token.expires_at - state.now())),
        "access_type": "offline" if token.refresh_token else "online",
    }
    if USERINFO_EMAIL in token.scopes:
        info["email"] = user.email
        info["verified_email"] = True
    return info
