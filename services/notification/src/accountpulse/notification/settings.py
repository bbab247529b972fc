from __future__ import annotations

from pydantic import Field

from accountpulse.common.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    http_port: int = Field(8004, validation_alias="NOTIFICATION_PORT")
    dedup_window_hours: float = Field(
        24.0, gt=0, validation_alias="NOTIFICATION_DEDUP_WINDOW_HOURS"
    )
