from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class EventPayload(BaseModel):
    """Base of every event payload. Unknown fields are ignored so producers may add fields."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]
    description: ClassVar[str] = ""

    @property
    def key_id(self) -> str:
        """The id after the tenant in the record key: account id, or user id for users."""
        key = getattr(self, "account_id", None) or getattr(self, "user_id", None)
        assert key is not None, f"{type(self).__name__} has neither account_id nor user_id"
        return str(key)
