"""Request and response bodies of the ``/api/v1/auth`` routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from lineguard.server.auth.catalog import Action, Role

__all__ = [
    "CodeRequest",
    "CreateUserRequest",
    "CreatedUser",
    "CsrfResponse",
    "GrantRequest",
    "GrantView",
    "LoginRequest",
    "MeResponse",
    "MfaEnrollment",
    "PasswordChangeRequest",
    "PermissionView",
    "SessionResponse",
    "TokenRequest",
    "TokenView",
    "UserView",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_Body):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class CodeRequest(_Body):
    code: str = Field(min_length=1, max_length=16, description="The 6-digit code of the authenticator app.")


class PasswordChangeRequest(_Body):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class SessionResponse(BaseModel):
    """Where the sign-in stands; ``state`` says what the browser must do next."""

    state: str
    csrf_token: str
    username: str
    mfa: bool


class CsrfResponse(BaseModel):
    csrf_token: str


class GrantView(BaseModel):
    id: str
    role: Role
    site: str
    lines: list[str] | None
    until: datetime | None


class PermissionView(BaseModel):
    action: Action
    lines: list[str] | None = Field(description="null: every line of the site")


class MeResponse(BaseModel):
    user_id: str
    username: str
    display_name: str
    state: str
    mfa: bool
    grants: list[GrantView]
    permissions: list[PermissionView]


class MfaEnrollment(BaseModel):
    secret: str
    otpauth_uri: str


class UserView(BaseModel):
    id: str
    username: str
    display_name: str
    disabled: bool
    mfa_enabled: bool
    must_change_password: bool
    locked_until: datetime | None
    grants: list[GrantView]


class CreateUserRequest(_Body):
    username: str = Field(min_length=2, max_length=64)
    display_name: str = Field(min_length=1, max_length=128)


class CreatedUser(BaseModel):
    user: UserView
    one_time_password: str = Field(description="Shown once; the user must change it at first sign-in.")


class GrantRequest(_Body):
    role: Role
    lines: list[str] | None = Field(default=None, max_length=256)
    until: datetime | None = None


class TokenRequest(_Body):
    name: str = Field(min_length=1, max_length=80)
    actions: list[Action] = Field(min_length=1, max_length=64)
    lines: list[str] | None = Field(default=None, max_length=256)
    days: int = Field(ge=1, le=365)


class TokenView(BaseModel):
    id: str
    name: str
    actions: list[str]
    lines: list[str] | None
    expires_at: datetime
    revoked: bool
    token: str | None = Field(default=None, description="Only in the response that created it.")
