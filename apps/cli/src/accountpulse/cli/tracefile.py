"""Reading the JSON-lines spans file written by :class:`JsonLinesSpanExporter`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from rich.tree import Tree


def load_trace(path: Path, trace_id: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    spans = []
    with path.open("rb") as lines:
        for line in lines:
            if trace_id.encode() in line:
                span = orjson.loads(line)
                if span["trace_id"] == trace_id:
                    spans.append(span)
    return sorted(spans, key=lambda s: s["start_ns"])


def render_tree(spans: list[dict[str, Any]]) -> Tree:
    start = spans[0]["start_ns"]
    known = {s["span_id"] for s in spans}
    root = Tree(f"trace {spans[0]['trace_id']}")
    nodes: dict[str | None, Tree] = {}

    def label(span: dict[str, Any]) -> str:
        offset = (span["start_ns"] - start) / 1e6
        took = (span["end_ns"] - span["start_ns"]) / 1e6
        return f"[bold]{span['service']}[/] {span['name']}  +{offset:.1f} ms ({took:.1f} ms)"

    for span in spans:
        parent = span["parent_id"] if span["parent_id"] in known else None
        branch = nodes.get(parent, root) if parent else root
        nodes[span["span_id"]] = branch.add(label(span))
    return root
