"""Toolkits: methods registered as tools, with JSON schemas from type hints.

A toolkit is a class whose methods decorated with :func:`tool` become the
tools an agent can call. Each tool has a :class:`ToolKind` (READ, WRITE or
GENERIC); only WRITE tools change the database, and only they are replayed
when a trajectory is re-graded.

Arguments reach the tool *as given* (tau2 semantics): the call boundary
checks only that the keyword names are right. Tools turn structured
arguments into typed records themselves with :func:`parse`, which applies
pydantic's lax rules and turns validation failures into :class:`ToolError`.
A toolkit subclass can word the call boundary's errors and the outputs its
own way (:meth:`Toolkit.call_error`, :meth:`Toolkit.output`): the tau2
argument mode does (``toolgym.domains._tau2_args``).
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model

from toolgym.domains._db import DB
from toolgym.errors import ToolError

__all__ = [
    "Tool",
    "ToolKind",
    "ToolResult",
    "Toolkit",
    "format_output",
    "parse",
    "tool",
]


class ToolKind(StrEnum):
    """What a tool does to the database."""

    READ = "read"
    WRITE = "write"
    GENERIC = "generic"


_TOOL_ATTR = "__toolgym_tool_kind__"

F = TypeVar("F", bound=Callable[..., Any])


def tool(kind: ToolKind | str = ToolKind.READ) -> Callable[[F], F]:
    """Register a toolkit method as a tool of the given kind.

    The method's docstring (Google style) gives the tool description and the
    ``Args:`` section the parameter descriptions; type hints give the schema.
    """
    tool_kind = ToolKind(kind)

    def mark(fn: F) -> F:
        setattr(fn, _TOOL_ATTR, tool_kind)
        return fn

    return mark


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call as the agent sees it."""

    content: str
    error: bool = False


_T = TypeVar("_T")


@functools.lru_cache(maxsize=256)
def _adapter(type_: Any) -> TypeAdapter[Any]:
    return TypeAdapter(type_)


def parse(type_: type[_T] | Any, value: Any, what: str = "argument") -> _T:
    """Validate ``value`` as ``type_`` with lax rules; raise :class:`ToolError`."""
    try:
        return typing.cast(_T, _adapter(typing.cast(Any, type_)).validate_python(value))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        where = f"{what}.{loc}" if loc else what
        raise ToolError(f"invalid {where}: {err['msg']}") from None


def format_output(value: Any) -> str:
    """Turn a tool's return value into tool-message text (SEMANTICS §1.3)."""
    if isinstance(value, str):
        return value
    return json.dumps(_jsonable(value))


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Tool:
    """A registered tool: its name, kind, schema and the bound method."""

    name: str
    kind: ToolKind
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]

    def openai_schema(self) -> dict[str, Any]:
        """The tool as an OpenAI ``tools=[...]`` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


_ARGS_RE = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_SECTION_RE = re.compile(r"^\s*(Returns|Raises|Yields|Examples?|Notes?):\s*$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {arg: text})."""
    lines = inspect.cleandoc(doc).splitlines()
    desc: list[str] = []
    args: dict[str, str] = {}
    mode = "desc"
    current: str | None = None
    for line in lines:
        if _ARGS_RE.match(line):
            mode = "args"
            continue
        if _SECTION_RE.match(line):
            mode = "other"
            continue
        if mode == "desc":
            # Join wrapped lines of a paragraph with spaces; keep paragraph breaks.
            if line.strip() and desc and desc[-1]:
                desc[-1] = desc[-1] + " " + line.strip()
            else:
                desc.append(line.strip())
        elif mode == "args":
            m = re.match(r"^\s{2,}(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
            if m and (line.startswith("    ") and not line.startswith("        ")):
                current = m.group(1)
                args[current] = m.group(2).strip()
            elif current and line.strip():
                args[current] = (args[current] + " " + line.strip()).strip()
    return "\n".join(desc).strip(), args


def _schema_for(fn: Callable[..., Any], arg_docs: dict[str, str]) -> dict[str, Any]:
    sig = inspect.signature(fn)
    hints = typing.get_type_hints(fn)
    fields: dict[str, Any] = {}
    for name, param in sig.parameters.items():
        if name == "self":
            continue
        ann = hints.get(name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[name] = (ann, Field(default, description=arg_docs.get(name)))
    model = create_model(f"{fn.__name__}_args", **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    for d in schema.get("$defs", {}).values():
        d.pop("title", None)
        for prop in d.get("properties", {}).values():
            prop.pop("title", None)
    schema.setdefault("required", [])
    return schema


DBT = TypeVar("DBT", bound=DB)


def _tool_function(cls: type, name: str) -> Callable[..., Any] | None:
    """The function that declares tool ``name`` of ``cls``, if it is a tool.

    A subclass may override a tool without repeating ``@tool`` and its
    docstring (the tau2 argument-handling toolkits do): the override runs,
    while the kind, description and schema come from the nearest class
    whose method is decorated.
    """
    for klass in cls.__mro__:
        fn = klass.__dict__.get(name)
        if fn is not None:
            if getattr(fn, _TOOL_ATTR, None) is not None:
                return typing.cast(Callable[..., Any], fn)
            if not callable(fn):
                return None
    return None


@functools.lru_cache(maxsize=1024)
def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    # The unbound function's signature (with ``self``), computed once per tool.
    return inspect.signature(fn)


class Toolkit(Generic[DBT]):
    """A set of tools over a database.

    Subclass it, decorate methods with :func:`tool`, and use ``self.db`` (a
    fork of the domain's snapshot). Raise :class:`ToolError` for failures the
    agent should see.
    """

    def __init__(self, db: DBT) -> None:
        self.db = db

    @classmethod
    def tool_specs(cls) -> dict[str, tuple[ToolKind, str, dict[str, Any]]]:
        """Name -> (kind, description, parameters schema), computed once per class."""
        cache_name = "_toolgym_specs_" + cls.__name__
        cached = cls.__dict__.get(cache_name)
        if cached is not None:
            return typing.cast(dict[str, tuple[ToolKind, str, dict[str, Any]]], cached)
        specs: dict[str, tuple[ToolKind, str, dict[str, Any]]] = {}
        for name in dir(cls):
            fn = _tool_function(cls, name)
            if fn is None:
                continue
            kind = getattr(fn, _TOOL_ATTR)
            desc, arg_docs = _parse_docstring(fn.__doc__ or name)
            specs[name] = (kind, desc, _schema_for(fn, arg_docs))
        setattr(cls, cache_name, specs)
        return specs

    @cached_property
    def tools(self) -> dict[str, Tool]:
        """The registered tools by name, bound to this toolkit."""
        return {
            name: Tool(name, kind, desc, params, getattr(self, name))
            for name, (kind, desc, params) in self.tool_specs().items()
        }

    def openai_tools(self) -> list[dict[str, Any]]:
        """All tools as OpenAI tool definitions, sorted by name."""
        return [self.tools[n].openai_schema() for n in sorted(self.tools)]

    def kind(self, name: str) -> ToolKind | None:
        """The kind of tool ``name``, or ``None`` if there is no such tool."""
        spec = self.tool_specs().get(name)
        return spec[0] if spec else None

    def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Run a tool and return what the agent sees.

        Unknown tools, wrong keyword names and :class:`ToolError` become error
        results. Any other exception is a bug in the tool and propagates.
        """
        t = self.tools.get(name)
        if t is None:
            return ToolResult(f"Error: Tool '{name}' not found.", error=True)
        if not isinstance(arguments, dict):
            return ToolResult("Error: tool arguments must be a JSON object", error=True)
        try:
            _signature(getattr(type(self), name)).bind(None, **arguments)
        except TypeError as exc:
            return ToolResult(f"Error: {self.call_error(name, arguments, exc)}", error=True)
        try:
            value = t.fn(**arguments)
        except ToolError as exc:
            return ToolResult(f"Error: {exc}", error=True)
        return ToolResult(self.output(value))

    def output(self, value: Any) -> str:
        """The text the agent reads for a tool's return value (SEMANTICS §1.3)."""
        return format_output(value)

    def call_error(self, name: str, arguments: dict[str, Any], exc: TypeError) -> str:
        """The message for arguments that do not fit tool ``name``'s parameters.

        Args:
            name: The tool.
            arguments: The keywords the agent sent.
            exc: What binding them to the signature raised.
        """
        return f"{name}() {exc}"
