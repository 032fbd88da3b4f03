"""Checking a value against a tool's JSON schema (the subset pydantic generates).

Gold actions and message-history calls in a task file must fit the schema
the agent is shown: a gold argument of the wrong shape cannot be matched by
a correct agent, yet the episode may still score 1.0. Tools themselves read
their arguments laxly (tau2 semantics), so this check is for task files only.

Supported: ``type`` (one or a list), ``enum``, ``const``, ``anyOf``,
``oneOf``, ``allOf``, ``$ref`` into ``$defs``, ``items``, ``prefixItems``,
``properties``, ``required`` and ``additionalProperties``. Other keywords
(formats, bounds) are not checked.
"""

from __future__ import annotations

from typing import Any

__all__ = ["schema_problem"]

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}

_NAMES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array",
          dict: "object", type(None): "null"}


def _kind(value: Any) -> str:
    return _NAMES.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_type(value: Any, t: str) -> bool:
    if t in ("integer", "number", "boolean") and isinstance(value, bool):
        return t == "boolean"
    if t == "integer" and isinstance(value, float):
        return value.is_integer()  # JSON Schema: 2.0 is an integer
    return isinstance(value, _JSON_TYPES.get(t, (object,)))


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any] | None:
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    name = ref.rsplit("/", 1)[-1]
    target = defs.get(name)
    return target if isinstance(target, dict) else None


def _same_type(value: Any, schema: dict[str, Any] | None) -> bool:
    t = (schema or {}).get("type")
    types = t if isinstance(t, list) else [t] if isinstance(t, str) else []
    return any(_is_type(value, x) for x in types) and isinstance(value, list | dict)


def _expected(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(_shown(v) for v in schema["enum"])
    t = schema.get("type")
    if isinstance(t, list):
        return " or ".join(map(str, t))
    return str(t) if t else "another value"


def schema_problem(value: Any, schema: dict[str, Any], defs: dict[str, Any] | None = None,
                   path: str = "") -> str | None:
    """Why ``value`` does not fit ``schema``, or None when it does.

    Args:
        value: JSON data.
        schema: A JSON schema (as pydantic writes them).
        defs: The ``$defs`` of the enclosing tool schema.
        path: Where ``value`` sits, for the message (``"[0].date"``).

    Returns:
        A short reason such as ``"[0].date: expected string, got integer 5"``.
    """
    defs = defs if defs is not None else schema.get("$defs", {})
    resolved = _resolve(schema, defs)
    if resolved is None:
        return None  # an unresolvable reference: nothing to check against
    schema = resolved
    where = f"{path}: " if path else ""
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, dict)]
        if not options:
            continue
        problems = [schema_problem(value, o, defs, path) for o in options]
        if any(p is None for p in problems):
            continue
        # An option of the value's own type failed deeper down: its reason
        # says most. Otherwise list what would have been accepted.
        for option, problem in zip(options, problems, strict=True):
            if _same_type(value, _resolve(option, defs)):
                return problem
        wanted = " or ".join(_expected(_resolve(o, defs) or {}) for o in options)
        return f"{where}expected {wanted}, got {_kind(value)} {_shown(value)}"
    for sub in schema.get("allOf") or []:
        if isinstance(sub, dict) and (problem := schema_problem(value, sub, defs, path)):
            return problem
    if "const" in schema and value != schema["const"]:
        return f"{where}expected {_shown(schema['const'])}, got {_shown(value)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where}expected {_expected(schema)}, got {_kind(value)} {_shown(value)}"
    t = schema.get("type")
    types = t if isinstance(t, list) else [t] if isinstance(t, str) else []
    if types and not any(_is_type(value, x) for x in types):
        return f"{where}expected {_expected(schema)}, got {_kind(value)} {_shown(value)}"
    if isinstance(value, list):
        return _array_problem(value, schema, defs, path)
    if isinstance(value, dict):
        return _object_problem(value, schema, defs, path)
    return None


def _array_problem(value: list[Any], schema: dict[str, Any], defs: dict[str, Any],
                   path: str) -> str | None:
    prefix = schema.get("prefixItems")
    items = schema.get("items")
    for i, item in enumerate(value):
        sub = prefix[i] if isinstance(prefix, list) and i < len(prefix) else items
        if isinstance(sub, dict) and (problem := schema_problem(item, sub, defs,
                                                                f"{path}[{i}]")):
            return problem
    return None


def _object_problem(value: dict[str, Any], schema: dict[str, Any], defs: dict[str, Any],
                    path: str) -> str | None:
    where = f"{path}: " if path else ""
    props = schema.get("properties")
    props = props if isinstance(props, dict) else {}
    for name in schema.get("required") or []:
        if name not in value:
            return f"{where}missing {name!r}"
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        sub = props.get(key)
        if sub is None:
            if extra is False:
                return f"{where}unexpected key {key!r}"
            sub = extra if isinstance(extra, dict) else None
        if isinstance(sub, dict) and (problem := schema_problem(item, sub, defs,
                                                                f"{path}.{key}")):
            return problem
    return None
