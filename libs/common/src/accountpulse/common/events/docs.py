"""The published description of the events: one JSON Schema per payload, one AsyncAPI 3.0
document for all topics. Generated from the pydantic models (``accountpulse schemas``) and
checked by a test, so the documents never drift from the code."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from accountpulse.common.events import EVENT_TYPE_PREFIX, EVENT_TYPES, EventPayload
from accountpulse.common.messaging.topics import TOPICS

SCHEMA_BASE = "https://accountpulse.dev/schemas/events/"


def schema_of(model: type[EventPayload]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}{model.event_type}.json",
        "description": model.description or (model.__doc__ or "").strip() or model.event_type,
        **{k: v for k, v in schema.items() if k != "description"},
    }


def json_schemas() -> dict[str, dict[str, Any]]:
    return {event_type: schema_of(model) for event_type, model in sorted(EVENT_TYPES.items())}


_HEADERS = {
    "type": "object",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_tenantid"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "Unique event id; consumers dedupe on it"},
        "ce_source": {"type": "string", "examples": ["/accountpulse/scoring"]},
        "ce_type": {"type": "string", "examples": ["com.accountpulse.score.changed"]},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "The account id (user id for users)"},
        "ce_tenantid": {"type": "string", "description": "The tenant the event belongs to"},
        "content-type": {"type": "string", "const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context"},
        "tracestate": {"type": "string"},
    },
}


def asyncapi() -> dict[str, Any]:
    by_topic: dict[str, list[str]] = defaultdict(list)
    for event_type, model in sorted(EVENT_TYPES.items()):
        by_topic[model.topic].append(event_type)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in TOPICS:
        channel_id = spec.name.replace(".", "_")
        refs = {}
        for event_type in by_topic.get(spec.name, []):
            message_id = event_type.replace(".", "_")
            messages[message_id] = {
                "name": EVENT_TYPE_PREFIX + event_type,
                "contentType": "application/json",
                "headers": _HEADERS,
                "payload": {"$ref": f"./events/{event_type}.json"},
            }
            refs[message_id] = {"$ref": f"#/components/messages/{message_id}"}
        channels[channel_id] = {
            "address": spec.name,
            "description": _describe(spec.name, spec.compacted, spec.retention_days),
            "messages": refs,
            "bindings": {"kafka": {"topic": spec.name, "partitions": spec.partitions}},
        }
        operations[f"receive_{channel_id}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "AccountPulse events",
            "version": "1.0.0",
            "description": (
                "CloudEvents 1.0 in Kafka binary mode: attributes in ce_* headers, the JSON "
                'payload as the value. Records are keyed "{tenant_id}:{account_id}" '
                '("{tenant_id}:{user_id}" on users.changes.v1). Payloads evolve only by adding '
                "optional fields; a breaking change is a new .v2 topic."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _describe(name: str, compacted: bool, retention_days: int | None) -> str:
    kept = "compacted (latest per key)" if compacted else f"kept {retention_days} days"
    return f"{name}: {kept}"
