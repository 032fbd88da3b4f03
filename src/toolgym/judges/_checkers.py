"""Argument checkers for the graph judge: how an agent's argument is compared.

A checker is written as its name (``"casefold"``) or as an object with its
parameters (``{"name": "number", "tolerance": 5}``). An argument without a
checker is compared ``exact``; ``ignore`` skips it.

=================  ============================================================
``exact``          canonical JSON equality (``1 == 1.0``, but ``True != 1``)
``casefold``       strings trimmed and case-folded; ``None`` equals ``""``
``unordered``      lists compared as multisets; ``None`` equals ``[]``
``number``         ``|oracle - agent| <= tolerance`` (default 0); numeric strings
                   are read as numbers
``datetime``       both parsed (ISO 8601, or ``format`` for ``strptime``) and
                   compared as instants
``phone``          digits only
``path``           normalised paths (``a//b/../c`` is ``a/c``, no leading ``/``);
                   lists of paths as multisets
``contains_all``   the agent's value contains every string of ``targets``
                   (case-insensitive); there is no oracle value
``contains_any``   ... at least one of ``targets``
``soft``           free text, judged by the judge model with the user's task as
                   context; normalised equality (lower case, accents and
                   punctuation removed) passes first without a model call
``ignore``         not compared
=================  ============================================================

Hard checkers are pure functions (:func:`check_hard`); the soft checker is a
:class:`SoftChecker`, which caches its verdicts and counts what they cost.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from toolgym.domains._db import canonical_json
from toolgym.errors import ConfigError, DataError
from toolgym.messages import Message, Usage
from toolgym.models._base import Model, ModelError

__all__ = [
    "CHECKER_NAMES",
    "Checker",
    "CheckerTable",
    "SoftChecker",
    "check_hard",
    "load_checker_table",
    "normalise_text",
    "parse_checker",
    "parse_checker_table",
    "parse_soft_verdict",
]

#: Parameters each checker accepts.
_PARAMS: dict[str, frozenset[str]] = {
    "exact": frozenset(),
    "casefold": frozenset(),
    "unordered": frozenset(),
    "number": frozenset({"tolerance"}),
    "datetime": frozenset({"format"}),
    "phone": frozenset(),
    "path": frozenset(),
    "contains_all": frozenset({"targets"}),
    "contains_any": frozenset({"targets"}),
    "soft": frozenset({"guidance"}),
    "ignore": frozenset(),
}

#: The checker names, in documentation order.
CHECKER_NAMES: tuple[str, ...] = tuple(_PARAMS)


@dataclass(frozen=True)
class Checker:
    """One argument checker and its parameters (validated by :func:`parse_checker`)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def needs_oracle_value(self) -> bool:
        """Whether the checker compares with the oracle's value (``contains_*`` do not)."""
        return self.name not in ("contains_all", "contains_any", "ignore")

    def describe(self) -> str:
        """The checker as written in a configuration (``name`` or ``name(k=v)``)."""
        if not self.params:
            return self.name
        inner = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        return f"{self.name}({inner})"


EXACT = Checker("exact")
IGNORE = Checker("ignore")

#: tool -> argument -> checker.
CheckerTable = dict[str, dict[str, Checker]]


def parse_checker(spec: Any, where: str = "checker") -> Checker:
    """Validate a checker written as a name or as ``{"name": ..., params}``.

    Args:
        spec: The checker as written.
        where: Where it was written, quoted in errors.

    Raises:
        ConfigError: Unknown name, unknown parameter or invalid parameter value.
    """
    if isinstance(spec, Checker):
        return spec
    if isinstance(spec, str):
        name, params = spec, {}
    elif isinstance(spec, Mapping):
        if not isinstance(spec.get("name"), str):
            raise ConfigError(f"{where}: a checker object needs a string 'name', got {spec!r}")
        name = spec["name"]
        params = {str(k): v for k, v in spec.items() if k != "name"}
    else:
        raise ConfigError(f"{where}: a checker is a name or an object with a 'name', "
                          f"got {spec!r}")
    if name not in _PARAMS:
        raise ConfigError(f"{where}: unknown checker {name!r} (known: {', '.join(CHECKER_NAMES)})")
    unknown = sorted(set(params) - _PARAMS[name])
    if unknown:
        allowed = ", ".join(sorted(_PARAMS[name])) or "none"
        raise ConfigError(f"{where}: checker {name!r} has no parameter(s) {', '.join(unknown)} "
                          f"(allowed: {allowed})")
    if name == "number":
        tol = params.get("tolerance", 0)
        if isinstance(tol, bool) or not isinstance(tol, int | float) or not tol >= 0:
            raise ConfigError(f"{where}: number tolerance must be a number >= 0, got {tol!r}")
    if name == "datetime" and "format" in params and not isinstance(params["format"], str):
        raise ConfigError(f"{where}: datetime format must be a strptime string")
    if name in ("contains_all", "contains_any"):
        targets = params.get("targets")
        if isinstance(targets, str):
            targets = [targets]
        if (not isinstance(targets, list) or not targets
                or not all(isinstance(t, str) and t for t in targets)):
            raise ConfigError(f"{where}: {name} needs 'targets', a non-empty list of strings")
        params = {**params, "targets": list(targets)}
    if name == "soft" and "guidance" in params and not isinstance(params["guidance"], str):
        raise ConfigError(f"{where}: soft guidance must be a string")
    return Checker(name, params)


def parse_checker_table(data: Any, where: str = "checkers") -> CheckerTable:
    """Validate a ``tool -> argument -> checker`` mapping.

    Raises:
        ConfigError: The shape is wrong or a checker is invalid (the message
            names the tool and argument).
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected an object tool -> argument -> checker")
    table: CheckerTable = {}
    for tool, args in data.items():
        if not isinstance(args, Mapping):
            raise ConfigError(f"{where}.{tool}: expected an object argument -> checker")
        table[str(tool)] = {str(arg): parse_checker(spec, f"{where}.{tool}.{arg}")
                            for arg, spec in args.items()}
    return table


def load_checker_table(path: str | Path) -> CheckerTable:
    """Read a checkers file (JSON, ``tool -> argument -> checker``).

    Raises:
        DataError: The file cannot be read or is not JSON.
        ConfigError: A checker in it is invalid (the message names the file).
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{p}: cannot read checkers file ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{p}: not valid JSON: {exc}") from None
    return parse_checker_table(data, str(p))


# -- hard checks -----------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           sort_keys=True)


def normalise_text(value: Any) -> str:
    """Lower case, accents stripped, punctuation removed, spaces collapsed.

    Non-string values are written as JSON first. This is the soft checker's
    free shortcut and its only test when there is no judge model.
    """
    decomposed = unicodedata.normalize("NFD", _text(value).lower())
    kept = []
    for ch in decomposed:
        cat = unicodedata.category(ch)
        if cat == "Mn":
            continue  # combining accent
        kept.append(" " if cat[0] == "P" else ch)
    return " ".join("".join(kept).split())


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            return None
    return None


_DATETIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%m/%d/%Y",
                     "%m/%d/%Y %H:%M", "%d %B %Y", "%B %d, %Y")


def _datetime(value: Any, fmt: str | None) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if fmt is not None:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            return None
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        parsed = None
        for f in _DATETIME_FORMATS:
            try:
                parsed = datetime.strptime(text, f)
                break
            except ValueError:
                continue
    return parsed


def _same_instant(a: datetime, b: datetime) -> bool:
    if (a.tzinfo is None) != (b.tzinfo is None):
        # One side without a zone: compare wall-clock times.
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return a == b


def _norm_path(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return posixpath.normpath(value.strip()).lstrip("/")


def _multiset(values: list[Any]) -> Counter[str]:
    return Counter(canonical_json(v) for v in values)


def _exact(oracle: Any, agent: Any) -> bool:
    return oracle is agent or canonical_json(oracle) == canonical_json(agent)


def check_hard(checker: Checker, oracle: Any, agent: Any) -> str | None:
    """Compare one argument with a hard (non-model) checker.

    Args:
        checker: Any checker but ``soft`` (``ignore`` always passes).
        oracle: The oracle's value (placeholders already resolved); unused by
            ``contains_*``. An absent argument is ``None``.
        agent: The agent's value (``None`` when absent).

    Returns:
        ``None`` when the values pass, else a short reason.
    """
    name, params = checker.name, checker.params
    if name == "ignore":
        return None
    if name == "exact":
        return None if _exact(oracle, agent) else "not equal"
    if name == "casefold":
        if isinstance(oracle, str | None) and isinstance(agent, str | None):
            a, b = (oracle or "").strip().casefold(), (agent or "").strip().casefold()
            return None if a == b else "not equal (ignoring case and outer spaces)"
        return None if _exact(oracle, agent) else "not equal"
    if name == "unordered":
        a_list = [] if oracle is None else oracle
        b_list = [] if agent is None else agent
        if isinstance(a_list, list) and isinstance(b_list, list):
            return None if _multiset(a_list) == _multiset(b_list) else "different elements"
        return None if _exact(oracle, agent) else "not equal"
    if name == "number":
        if oracle is None or agent is None:
            return None if oracle is agent else "one side has no number"
        x, y = _number(oracle), _number(agent)
        if x is None or y is None:
            return "not a number"
        tol = float(params.get("tolerance", 0))
        return None if math.isclose(x, y, abs_tol=tol + 1e-9) else f"differs by {abs(x - y):g}"
    if name == "datetime":
        if oracle is None or agent is None:
            return None if oracle is agent else "one side has no date-time"
        fmt = params.get("format")
        da, db = _datetime(oracle, fmt), _datetime(agent, fmt)
        if da is None or db is None:
            return "not a date-time" + (f" in format {fmt!r}" if fmt else "")
        return None if _same_instant(da, db) else "different date-time"
    if name == "phone":
        if oracle is None or agent is None:
            return None if oracle is agent else "one side has no phone number"
        da_, db_ = re.sub(r"\D", "", _text(oracle)), re.sub(r"\D", "", _text(agent))
        return None if da_ == db_ else "different digits"
    if name == "path":
        if isinstance(oracle, list) and isinstance(agent, list):
            pa, pb = [_norm_path(v) for v in oracle], [_norm_path(v) for v in agent]
            return None if Counter(pa) == Counter(pb) else "different paths"
        if oracle is None or agent is None:
            return None if oracle is agent else "one side has no path"
        na, nb = _norm_path(oracle), _norm_path(agent)
        if na is None or nb is None:
            return None if _exact(oracle, agent) else "not a path"
        return None if na == nb else "different path"
    if name in ("contains_all", "contains_any"):
        text = "" if agent is None else _text(agent).lower()
        targets = list(params["targets"])
        missing = [t for t in targets if t.lower() not in text]
        if name == "contains_all":
            return None if not missing else f"missing {missing!r}"
        return None if len(missing) < len(targets) else f"none of {targets!r}"
    raise ValueError(f"check_hard: {name!r} is not a hard checker")


# -- soft checks -----------------------------------------------------------------

_SOFT_SYSTEM = """You are checking one argument of a tool call made by a customer-service agent.
You get the customer's task, the tool, the argument's name, the reference value (what a
correct agent passed) and the agent's value. Decide whether the agent's value serves the
task as well as the reference does: wording, formatting, order and harmless extra detail
may differ; missing, wrong or contradicting information does not match. Do not question
the reference. Think briefly, then end your answer with exactly [[match]] or [[no match]]."""

_SOFT_PROMPT = """Customer's task:
{task}

Tool: {tool}
Argument: {arg}
Reference value: {oracle}
Agent's value: {agent}
{guidance}"""

_RETRY = "Your answer had no verdict. End it with exactly [[match]] or [[no match]]."

_VERDICT = re.compile(r"\[\[\s*(no[\s_-]*match|not[\s_-]*a?[\s_-]*match|match)\s*\]\]",
                      re.IGNORECASE)


def parse_soft_verdict(text: str | None) -> bool | None:
    """The verdict of a soft-check reply: True, False, or None when there is none.

    The last ``[[match]]`` / ``[[no match]]`` wins (case, spaces, ``_`` and
    ``-`` are tolerated), so a reply that quotes both options first still
    parses.
    """
    found = _VERDICT.findall(text or "")
    if not found:
        return None
    return not found[-1].lower().startswith("no")


@dataclass
class SoftChecker:
    """Judges free-text arguments with the judge model, for one rollout or case.

    Verdicts are cached by (tool, argument, oracle value, agent value), so a
    pair is asked about once however often the matching search meets it.

    Attributes:
        model: The judge model; None means only the normalised-equality
            shortcut is applied (and :attr:`fallback_used` says so).
        task: The user's task (the scenario instructions), as context.
        usage: What the judge model's calls cost.
        unparsed: Checks whose replies had no verdict after one retry
            (rejections), as ``{tool, arg, reply}``.
        fallback_used: Whether a soft check ran without a model.
        shortcut_passes: Checks passed by normalised equality (no model call).
    """

    model: Model | None
    task: str = ""
    usage: Usage = field(default_factory=Usage)
    unparsed: list[dict[str, Any]] = field(default_factory=list)
    fallback_used: bool = False
    shortcut_passes: int = 0
    _cache: dict[tuple[str, str, str, str], str | None] = field(default_factory=dict)

    async def check(self, checker: Checker, tool: str, arg: str, oracle: Any,
                    agent: Any) -> str | None:
        """Compare one free-text argument; ``None`` when it passes, else a reason.

        An empty oracle value (``None``, ``""``, ``[]``, ``{}``) accepts anything.
        """
        if oracle in (None, "", [], {}):
            return None
        if normalise_text(oracle) == normalise_text(agent):
            self.shortcut_passes += 1
            return None
        if self.model is None:
            self.fallback_used = True
            return "not equal after normalisation (no judge model)"
        key = (tool, arg, canonical_json(oracle), canonical_json(agent))
        if key not in self._cache:
            self._cache[key] = await self._ask(checker, tool, arg, oracle, agent)
        return self._cache[key]

    async def _ask(self, checker: Checker, tool: str, arg: str, oracle: Any,
                   agent: Any) -> str | None:
        assert self.model is not None
        guidance = checker.params.get("guidance")
        prompt = [
            Message.system(_SOFT_SYSTEM),
            Message.user(_SOFT_PROMPT.format(
                task=self.task.strip() or "(not given)", tool=tool, arg=arg,
                oracle=_text(oracle), agent=_text(agent),
                guidance=f"Guidance: {guidance}\n" if guidance else "")),
        ]
        reply = ""
        for attempt in range(2):
            try:
                response = await self.model.generate(prompt)
            except ModelError as exc:
                exc.usage = self.usage if exc.usage is None else self.usage + exc.usage
                raise
            self.usage = self.usage + response.usage
            reply = response.message.content or ""
            verdict = parse_soft_verdict(reply)
            if verdict is not None:
                return None if verdict else "judge model: no match"
            if attempt == 0:
                prompt = [*prompt, response.message, Message.user(_RETRY)]
        self.unparsed.append({"tool": tool, "arg": arg, "reply": reply[-300:]})
        return "judge model gave no verdict (after one retry)"
