"""Events of ``users.changes.v1`` (compacted), keyed ``{tenant_id}:{user_id}``."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from accountpulse.common.events.base import EventPayload

Role = Literal["am", "kam", "manager"]
Channel = Literal["inbox", "email", "webhook"]


class _UserEvent(EventPayload):
    topic: ClassVar[str] = "users.changes.v1"
    user_id: str
    version: int = Field(ge=1)


class UserUpserted(_UserEvent):
    event_type: ClassVar[str] = "user.upserted"
    name: str
    email: str | None = None
    role: Role = "am"
    manager_id: str | None = None
    capacity: int | None = Field(None, ge=0, description="Accounts this user can carry")
    channels: list[Channel] = Field(default_factory=lambda: list[Channel](["inbox"]))
    timezone: str = "UTC"
    quiet_hours: tuple[int, int] | None = Field(None, description="(start hour, end hour)")
    webhook_url: str | None = None


class UserErased(_UserEvent):
    event_type: ClassVar[str] = "user.erased"
