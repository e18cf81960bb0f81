"""Reading a server-sent event stream in tests (GET /task/{task_id}/stream), the way an
EventSource does: fields until a blank line, `data` parsed as JSON, comments skipped."""

import json
from collections.abc import Iterable, Iterator
from typing import Any


def read_events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Each event as {"event", "id", "data", "retry"} (missing fields None)."""
    fields: dict[str, Any] = {}
    data: list[str] = []
    for line in lines:
        if line == "":
            if data or fields:
                yield {"event": fields.get("event"), "id": fields.get("id"), "retry": fields.get("retry"),
                       "data": json.loads("\n".join(data)) if data else None}
            fields, data = {}, []
        elif line.startswith(":"):
            continue  # a keep-alive comment
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
