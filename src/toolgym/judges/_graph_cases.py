"""Standalone graph-judge cases: ``toolgym judge graph --cases FILE.jsonl``.

One JSON object per line::

    {"id": "swap",
     "domain": "airline",                       # optional: tool kinds (reads ignored)
     "task": "Add a bag to each of my trips",   # optional: context for soft checks
     "oracle": [{"id": "a", "tool": "cancel_reservation",
                 "args": {"reservation_id": "X"}, "depends_on": []}],
     "agent": [{"tool": "cancel_reservation", "args": {"reservation_id": "X"},
                "result": {...}, "error": false}],
     "checkers": {"cancel_reservation": {"reservation_id": "casefold"}},
     "extra_messages": 1}

A message to the user is the tool ``send_message_to_user`` with
``args.content``. An agent event with ``"error": true`` is a failed call and
is ignored. Without ``domain`` every tool except ``send_message_to_user``
counts as a write; with it, reads and generic tools are ignored (an oracle
read still relays dependencies) and unknown tools are refused. An oracle
event without ``depends_on`` gets derived parents (same entity; produced
value when the event gives its ``result``). An oracle event may carry its own
``checkers`` (argument -> checker), which override the case's.

Each case gives one line ``{"id", "success", "failures", "matching"}`` where
``matching`` maps oracle ids to indices into the case's ``agent`` list.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from toolgym._io import check_depth, parse_json
from toolgym.domains._domain import get_spec
from toolgym.domains._toolkit import ToolKind
from toolgym.errors import ConfigError, DataError, DomainNotFoundError
from toolgym.judges._checkers import SoftChecker, parse_checker, parse_checker_table
from toolgym.judges._graph import (
    MESSAGE_TOOL,
    AgentEvent,
    OracleEvent,
    OracleStep,
    build_oracle_graph,
)
from toolgym.judges._graph_judge import parse_result
from toolgym.judges._graph_match import judge_events
from toolgym.models._base import Model

__all__ = [
    "CaseAgentEvent",
    "CaseOracleEvent",
    "GraphCase",
    "GraphCaseResult",
    "judge_graph_case",
    "judge_graph_cases",
    "load_graph_cases",
    "run_graph_cases",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CaseOracleEvent(_Strict):
    """One oracle step of a case."""

    id: str = Field(description="Unique id within the case.")
    tool: str = Field(description="Tool name (send_message_to_user for a message).")
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments; may hold "
                                 "placeholders {{id}} / {{id.field}}.")
    depends_on: list[str] | None = Field(
        None, description="Parent ids as written ([] = none); absent: derived.")
    checkers: dict[str, Any] | None = Field(
        None, description="Argument -> checker for this event (overrides the case's).")
    result: Any = Field(None, description="The step's result, used only to derive edges "
                        "(produced values).")


class CaseAgentEvent(_Strict):
    """One agent call (or message) of a case."""

    tool: str = Field(description="Tool name (send_message_to_user for a message).")
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments.")
    result: Any = Field(None, description="The call's result (JSON text is parsed).")
    error: bool = Field(False, description="A failed call (ignored by the judge).")


class GraphCase(_Strict):
    """One line of a cases file."""

    id: str = Field(description="Case id, echoed in the output.")
    domain: str | None = Field(None, description="Domain whose tool kinds apply.")
    task: str | None = Field(None, description="The user's task (context for soft checks).")
    oracle: list[CaseOracleEvent] = Field(description="The oracle steps, in reference order.")
    agent: list[CaseAgentEvent] = Field(default_factory=list,
                                        description="The agent's calls, in order.")
    checkers: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="tool -> argument -> checker.")
    extra_messages: int = Field(1, ge=0, description="Messages allowed beyond the oracle's.")


class GraphCaseResult(BaseModel):
    """The judgment of one case (one output line)."""

    id: str = Field(description="The case id.")
    success: bool = Field(description="Every oracle event matched.")
    failures: list[dict[str, Any]] = Field(default_factory=list, description="Typed failures.")
    matching: dict[str, int] = Field(default_factory=dict,
                                     description="Oracle id -> index into the case's agent "
                                     "list.")
    feedback: str = Field("", exclude=True, description="Readable summary (not printed).")


def _kind_of(case: GraphCase) -> Callable[[str], ToolKind | None]:
    if case.domain is None:
        return lambda name: None if name == MESSAGE_TOOL else ToolKind.WRITE
    specs = get_spec(case.domain).toolkit_type.tool_specs()
    return lambda name: specs[name][0] if name in specs else None


def _prepare(case: GraphCase) -> tuple[list[OracleEvent], list[AgentEvent]]:
    """The case's oracle graph and judged agent events (DataError / ConfigError if bad)."""
    kind_of = _kind_of(case)
    if case.domain is not None:
        for where, tool in ([("oracle", e.tool) for e in case.oracle]
                            + [("agent", e.tool) for e in case.agent]):
            if tool != MESSAGE_TOOL and kind_of(tool) is None:
                raise DataError(f"{where} tool {tool!r} is not a tool of domain "
                                f"{case.domain!r}")
    table = parse_checker_table(case.checkers, "checkers")
    steps: list[OracleStep] = []
    for e in case.oracle:
        is_msg = e.tool == MESSAGE_TOOL
        kind = kind_of(e.tool)
        checkers = dict(table.get(e.tool, {}))
        for arg, spec in (e.checkers or {}).items():
            checkers[arg] = parse_checker(spec, f"oracle {e.id!r} checkers.{arg}")
        steps.append(OracleStep(id=e.id, tool=e.tool, args=e.args, depends_on=e.depends_on,
                                is_event=is_msg or kind == ToolKind.WRITE,
                                writes=kind == ToolKind.WRITE, result=parse_result(e.result),
                                checkers=checkers))
    oracle = build_oracle_graph(steps)
    agent = [AgentEvent(i, e.tool, e.args, parse_result(e.result))
             for i, e in enumerate(case.agent)
             if not e.error and (e.tool == MESSAGE_TOOL or kind_of(e.tool) == ToolKind.WRITE)]
    return oracle, agent


def load_graph_cases(path: str | Path) -> list[GraphCase]:
    """Read and validate a cases file (JSON Lines; blank lines are skipped).

    Every case is checked fully (schema, domain, checkers, the graph: ids,
    ``depends_on``, placeholders, cycles), so judging cannot fail on data.

    Raises:
        DataError: The file cannot be read, or a line is malformed; the
            message names the file and the line.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{p}: cannot read cases file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(f"{p}: not UTF-8 text") from None
    if not text.strip():
        raise DataError(f"{p}: no cases (one JSON object per line)")
    cases: list[GraphCase] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{p}:{n}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON: {exc.msg} (column {exc.colno})") from None
        except (RecursionError, ValueError):  # nesting past the parser, a 5,000-digit int
            data = parse_json(line, where)  # raises the loaders' own one-line error
        check_depth(data, where)
        if not isinstance(data, dict):
            raise DataError(f"{where}: a case is a JSON object, got {type(data).__name__}")
        label = f"{where} (case {data.get('id')!r})" if "id" in data else where
        try:
            case = GraphCase.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"]) or "case"
            raise DataError(f"{label}: {loc}: {err['msg']}") from None
        if case.id in seen:
            raise DataError(f"{label}: case id {case.id!r} already used on line {seen[case.id]}")
        seen[case.id] = n
        try:
            _prepare(case)
        except (DataError, ConfigError, DomainNotFoundError) as exc:
            raise DataError(f"{label}: {exc}") from None
        cases.append(case)
    return cases


async def judge_graph_case(case: GraphCase, *, model: Model | None = None) -> GraphCaseResult:
    """Judge one case.

    Args:
        case: A validated case (see :func:`load_graph_cases`).
        model: The judge model for soft checkers (normalised equality only
            without one).
    """
    oracle, agent = _prepare(case)
    soft = SoftChecker(model, case.task or "")
    judgment = await judge_events(oracle, agent, extra_messages=case.extra_messages, soft=soft)
    return GraphCaseResult(id=case.id, success=judgment.success,
                           failures=judgment.failure_dicts(), matching=judgment.matching,
                           feedback=judgment.feedback())


async def judge_graph_cases(path: str | Path, *, model: Model | None = None
                            ) -> list[GraphCaseResult]:
    """Load a cases file and judge every case, in file order (DataError if malformed)."""
    return [await judge_graph_case(c, model=model) for c in load_graph_cases(path)]


def run_graph_cases(path: str | Path, *, model: Model | None = None,
                    write: Callable[[str], None] = print) -> int:
    """Judge a cases file and write one JSON line per case (for the CLI).

    Args:
        path: The cases file.
        model: The judge model for soft checkers, if any.
        write: Receives each output line (``print`` by default).

    Returns:
        0 when every case passes, 1 otherwise.

    Raises:
        DataError: The file is malformed (nothing is written then).
    """
    results = asyncio.run(judge_graph_cases(path, model=model))
    for r in results:
        write(json.dumps(r.model_dump(mode="json"), ensure_ascii=False))
    return 0 if all(r.success for r in results) else 1
