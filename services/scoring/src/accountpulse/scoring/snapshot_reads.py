"""A snapshot's features and explanation as the read paths show them: a JSON snapshot's as
stored, a compact one's rendered from its stored form and the model version it was scored
at (domain/columnar/compact.py) — then shaped as jsonb would have returned the JSON, so an
answer does not tell which form a snapshot is stored in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.columnar.compact import RenderContext, lifetime_of, render_compact
from accountpulse.scoring.domain.columnar.layout import CompactSnapshot, unpacked
from accountpulse.scoring.domain.columnar.model import ColumnarModel
from accountpulse.scoring.domain.lifetime import with_lifetime
from accountpulse.scoring.store import clv as clv_store
from accountpulse.scoring.store import model as model_store


@dataclass(frozen=True)
class Explained:
    features: dict[str, Any]
    explanation: dict[str, list[dict[str, Any]]]


async def explained(
    uow: UnitOfWork, rows: Sequence[Any], default_retention_rate: float
) -> list[Explained]:
    """Each row's features and explanation (rows as store.snapshots reads them); compact rows
    scored alike are rendered together, one model and fit read per group."""
    result: list[Explained | None] = [None] * len(rows)
    groups: dict[tuple[Any, ...], list[int]] = {}
    compact: dict[int, CompactSnapshot] = {}
    for i, row in enumerate(rows):
        if row.layout is None:
            result[i] = Explained(row.features, row.explanation)
            continue
        compact[i] = stored_compact(row)
        key = (row.model_version, row.clv_fit_id, lifetime_of(compact[i]))
        groups.setdefault(key, []).append(i)
    for (version, fit_id, lifetime), indexes in groups.items():
        stored = await model_store.model_of_version(uow, version)
        model = with_lifetime(stored.model, lifetime)
        context = RenderContext(
            model,
            ColumnarModel.of(model, default_retention_rate),
            await clv_store.clv_model_by_id(uow, fit_id),
        )
        today = rows[indexes[0]].computed_at.date()
        rendered = render_compact([compact[i] for i in indexes], context, today)
        for i, snapshot in zip(indexes, rendered, strict=True):
            result[i] = Explained(as_jsonb(snapshot.features), as_jsonb(snapshot.explanation))
    return [r for r in result if r is not None]


def stored_compact(row: Any) -> CompactSnapshot:
    """A compact row as stored: packed (since scoring migration 0012) or as two arrays."""
    if row.packed is not None:
        return unpacked(row.packed, list(row.texts))
    return CompactSnapshot(list(row.numbers), list(row.texts), list(row.score_columns))


def as_jsonb(value: Any) -> Any:
    """The value as stored in jsonb and read back: amounts and dates as text, objects' keys
    in jsonb's order (shorter first, then bytewise), a float jsonb keeps as an integral
    numeric (orjson writes 1e16) read back as an int."""
    return _jsonb(orjson.loads(orjson.dumps(value, default=str)))


def _jsonb(value: Any) -> Any:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {k: _jsonb(value[k]) for k in keys}
    if isinstance(value, list):
        return [_jsonb(v) for v in value]
    if isinstance(value, float):
        return _numeric(value)
    return value


def _numeric(value: float) -> float | int:
    text = orjson.dumps(value).decode()
    if "e" not in text:
        return value
    mantissa, exponent = text.split("e")
    places = len(mantissa.partition(".")[2])
    return int(value) if places - int(exponent) <= 0 else value
