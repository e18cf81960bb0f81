"""What the request bodies' OpenAPI states beyond what pydantic derives from their types: the
app ids a `faults` map or `voters` may name, and the quorum's bound. Read from the registry
when the schema is generated, as the validators read it when a request comes in, so a
schema-valid request is never refused for a rule the schema leaves out."""

from collections.abc import Iterable
from typing import Any


def present(field: dict[str, Any]) -> dict[str, Any]:
    """The schema of an optional field's value (pydantic writes `anyOf: [value, null]`)."""
    return next((s for s in field.get("anyOf", []) if s.get("type") != "null"), field)


def name_keys(schema: dict[str, Any], field: str, allowed: list[str]) -> None:
    """`field`, a map, may only have these keys."""
    present(schema["properties"][field])["propertyNames"] = {"enum": allowed}


def name_items(schema: dict[str, Any], field: str, allowed: list[str]) -> None:
    """`field`, a list, holds each of these at most once."""
    array = present(schema["properties"][field])
    array["items"] = {"enum": allowed}
    array["uniqueItems"] = True


def bound_quorum(schema: dict[str, Any], voters: int) -> None:
    """`quorum` is at most the number of voters asked: all of them, or as many as `voters` lists."""
    present(schema["properties"]["quorum"])["maximum"] = voters
    schema["allOf"] = [{"if": {"properties": {"voters": {"type": "array", "maxItems": n}}, "required": ["voters"]},
                        "then": {"properties": {"quorum": {"maximum": n}}}} for n in range(1, voters)]


def refuse_unknown(given: Iterable[str], known: list[str], what: str) -> None:
    """A ValueError naming what is not in `known`."""
    if unknown := sorted(set(given) - set(known)):
        raise ValueError(f"{what} name unknown agents {unknown}; known: {sorted(known)}")
