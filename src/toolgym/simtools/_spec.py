"""Simulated tools declared by spec: name, description, parameters, result, errors.

A :class:`SimTool` says everything the tool-sim model needs to answer a call
in character (and everything the agent is shown): a JSON-schema ``parameters``
object, what a result looks like (``returns`` in words, optionally a
``result_schema``), the errors the tool may raise, whether its answers depend
on what happened earlier in the episode (``stateful``), an optional prompt
template of its own, and the failures injected into it by default.

Specs are written in Python or in a YAML/JSON file (:func:`load_sim_tools`):

.. code-block:: yaml

    - name: search_papers
      description: Search arXiv for papers matching a query.
      parameters:
        type: object
        properties: {query: {type: string, description: Words to search for.}}
        required: [query]
      returns: 'JSON: {"papers": [{"title", "authors", "year"}]}'
      errors: [query too long]
      failures: {no_answer: 0.1, partial: 0.1}
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from toolgym._io import load_json, load_yaml
from toolgym.domains._toolkit import ToolKind
from toolgym.errors import ConfigError, DataError

__all__ = [
    "FAILURE_KINDS",
    "CacheMode",
    "FailureKind",
    "SimTool",
    "argument_problem",
    "check_failure_rates",
    "load_sim_tools",
    "parse_failure_option",
    "parse_failure_options",
    "parse_sim_tools",
]

FailureKind = Literal["no_answer", "partial", "error", "timeout"]
#: Injected failures, in the order their probabilities are stacked when drawing.
FAILURE_KINDS: tuple[FailureKind, ...] = ("no_answer", "partial", "error", "timeout")
#: Short names accepted on the command line (``none:0.1`` is ``no_answer``).
_KIND_ALIASES = {"none": "no_answer", "no_answer": "no_answer", "noanswer": "no_answer",
                 "partial": "partial", "error": "error", "timeout": "timeout"}

CacheMode = Literal["off", "record", "replay", "frozen"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
#: Placeholders every prompt template may use (besides the tool's argument names).
TEMPLATE_FIELDS = frozenset({"tool", "description", "arguments", "returns", "errors",
                             "history", "answer"})


def check_failure_rates(rates: Mapping[str, Any], where: str) -> dict[str, float]:
    """Validate ``{kind: probability}``: known kinds, each in [0, 1], summing to at most 1.

    Raises:
        ConfigError: naming ``where`` and the problem.
    """
    out: dict[str, float] = {}
    for kind, p in rates.items():
        if kind not in FAILURE_KINDS:
            raise ConfigError(f"{where}: unknown failure {kind!r} (known: "
                              f"{', '.join(FAILURE_KINDS)}; 'none' means no_answer)")
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
            raise ConfigError(f"{where}: the probability of {kind} must be a number in "
                              f"[0, 1], got {p!r}")
        out[kind] = float(p)
    total = sum(out.values())
    if total > 1.0 + 1e-9:
        raise ConfigError(f"{where}: failure probabilities sum to {total:g}, more than 1")
    return out


class SimTool(BaseModel):
    """A tool whose results come from the tool-sim model (a saved, loadable spec)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Tool name, as the agent calls it.")
    description: str = Field(description="What the tool does (shown to the agent and the "
                             "simulator).")
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON schema of the arguments (an object schema); calls that do not "
        "fit it get an error before any model call.")
    returns: str = Field("", description="What a result looks like, in words (shown to the "
                         "simulator).")
    result_schema: dict[str, Any] | None = Field(
        None, description="JSON schema of a result, when results are JSON (the offline "
        "oracle simulator fills it in).")
    errors: list[str] = Field(default_factory=list, description="Errors the tool may raise "
                              "(the simulator may answer one; an injected error picks one).")
    kind: ToolKind = Field(ToolKind.READ, description="read, write or generic (what it "
                           "does to the world; only informative for simulated tools).")
    stateful: bool = Field(
        False, description="Its answers depend on the episode's earlier results (a "
        "calendar, a mailbox): the tool cache keys it by them too.")
    prompt: str | None = Field(
        None, description="A prompt template of its own, replacing the generic tool "
        "section: {{tool}}, {{description}}, {{arguments}}, {{returns}}, {{errors}}, "
        "{{history}}, {{answer}} and {{<argument name>}} are filled in.")
    failures: dict[str, float] = Field(
        default_factory=dict, description="Default injected failure probabilities "
        "{no_answer|partial|error|timeout: p}; a run's --tool-failures replaces them.")
    no_answer: str = Field("No results found.", description="What the tool returns when "
                           "an injected no_answer failure strikes.")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"invalid tool name {name!r} (letters, digits and _, at most 64)")
        return name

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("type", "object") != "object":
            raise ValueError("parameters must be an object schema (type: object)")
        props = schema.get("properties", {})
        if not isinstance(props, dict) or not all(isinstance(v, dict) for v in props.values()):
            raise ValueError("parameters.properties must map argument names to schemas")
        required = schema.get("required", [])
        if not isinstance(required, list) or not set(required) <= set(props):
            raise ValueError("parameters.required must list names from parameters.properties")
        return {"type": "object", **schema, "properties": props, "required": list(required)}

    @field_validator("failures")
    @classmethod
    def _valid_failures(cls, rates: dict[str, float]) -> dict[str, float]:
        try:
            return check_failure_rates(rates, "failures")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _known_placeholders(self) -> SimTool:
        if self.prompt is None:
            return self
        known = TEMPLATE_FIELDS | set(self.parameters.get("properties", {}))
        unknown = sorted({m.group(1) for m in _PLACEHOLDER.finditer(self.prompt)} - known)
        if unknown:
            raise ValueError(f"tool {self.name!r}: unknown prompt placeholder(s) "
                             f"{', '.join('{{' + u + '}}' for u in unknown)} (known: "
                             f"{', '.join(sorted(known))})")
        return self

    @property
    def argument_names(self) -> list[str]:
        """The argument names, in schema order."""
        return list(self.parameters.get("properties", {}))

    def openai_parameters(self) -> dict[str, Any]:
        """The parameters schema shown to the agent (unknown arguments refused)."""
        return {"additionalProperties": False, **self.parameters}

    def digest(self) -> str:
        """A fingerprint of what shapes the tool's answers (part of its cache key)."""
        return self._digest

    @functools.cached_property
    def _digest(self) -> str:
        data = self.model_dump(mode="json", include={
            "name", "description", "parameters", "returns", "result_schema", "errors",
            "prompt", "no_answer"})
        text = json.dumps(data, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def argument_problem(tool: SimTool, arguments: Any) -> str | None:
    """Why ``arguments`` do not fit the tool's schema (None when they do)."""
    from toolgym.evaluation._schema import schema_problem  # lazily: domains import this module

    if not isinstance(arguments, dict):
        return "arguments must be a JSON object"
    problem = schema_problem(arguments, tool.openai_parameters())
    if problem is None:
        return None
    # "missing 'query'" reads better as "missing argument 'query'".
    return (problem.replace("missing ", "missing argument ", 1)
            .replace("unexpected key ", "unknown argument ", 1))


def parse_sim_tools(raw: Any, source: str) -> list[SimTool]:
    """Validate a list of tool specs (or ``{"tools": [...]}``); one DataError line per problem."""
    if isinstance(raw, dict) and "tools" in raw:
        raw = raw["tools"]
    if not isinstance(raw, list):
        raise DataError(f"{source}: expected a list of simulated tool specs")
    tools: list[SimTool] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        label = f"tool #{i}" + (f" ({item.get('name')})" if isinstance(item, dict)
                                and isinstance(item.get("name"), str) else "")
        try:
            tool = SimTool.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            raise DataError(f"{source}: {label}: {loc + ': ' if loc else ''}{msg}") from None
        if tool.name in seen:
            raise DataError(f"{source}: {label}: duplicate tool name {tool.name!r}")
        seen.add(tool.name)
        tools.append(tool)
    return tools


def load_sim_tools(path: str | Path) -> list[SimTool]:
    """Read simulated tool specs from a YAML (``.yaml``/``.yml``) or JSON file."""
    p = Path(path)
    raw = (load_yaml(p, "tool spec file") if p.suffix.lower() in (".yaml", ".yml")
           else load_json(p, "tool spec file"))
    return parse_sim_tools(raw, str(p))


def parse_failure_option(text: str) -> tuple[str, dict[str, float]]:
    """Parse one ``--tool-failures`` value.

    ``search_internet=none:0.1,partial:0.1`` gives that tool's rates (they
    replace its defaults); ``*=error:0.05`` applies to every simulated tool
    without rates of its own; ``off`` (or ``TOOL=off``) injects nothing.

    Returns:
        ``(tool name or "*", {kind: probability})``.

    Raises:
        ConfigError: a malformed value, an unknown failure or a bad probability.
    """
    text = text.strip()
    if text.lower() == "off":
        return "*", {}
    tool, sep, spec = text.partition("=")
    tool = tool.strip()
    if not sep or not tool or (tool != "*" and not _NAME.match(tool)):
        raise ConfigError(f"--tool-failures {text!r}: expected TOOL=KIND:P[,KIND:P...] "
                          "(e.g. search_internet=none:0.1,partial:0.1), *=KIND:P or off")
    rates: dict[str, float] = {}
    if spec.strip().lower() not in ("off", ""):
        for part in spec.split(","):
            kind, colon, value = part.partition(":")
            kind = _KIND_ALIASES.get(kind.strip().lower(), kind.strip())
            try:
                p = float(value)
            except ValueError:
                raise ConfigError(f"--tool-failures {text!r}: {part.strip()!r} is not "
                                  "KIND:PROBABILITY") from None
            if not colon:
                raise ConfigError(f"--tool-failures {text!r}: {part.strip()!r} is not "
                                  "KIND:PROBABILITY")
            rates[kind] = rates.get(kind, 0.0) + p
    return tool, check_failure_rates(rates, f"--tool-failures {tool}")


def parse_failure_options(values: Iterable[str]) -> dict[str, dict[str, float]] | None:
    """All ``--tool-failures`` values as ``{tool or "*": rates}`` (None when none given)."""
    out: dict[str, dict[str, float]] = {}
    for value in values:
        tool, rates = parse_failure_option(value)
        out[tool] = rates
    return out or None
