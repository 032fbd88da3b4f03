"""Importing tau2 results: ``{timestamp, info, tasks, simulations}``.

Each simulation becomes a rollout: its messages (tool calls with dict
arguments; a tool message's ``id`` names the call it answers; a
``MultiToolMessage`` is flattened), its recorded reward and checks
(``reward_info``: database, actions, communicated facts, NL and environment
assertions), its termination reason, costs (``agent_cost``, ``user_cost``)
and token counts (per-message ``usage``), times and trial. ``tasks`` become
the run's task set, ``info`` its agent, user simulator and limits; the
policy becomes the conversation's system message. A file exported by
toolgym carries a ``toolgym`` extension (see
:mod:`toolgym.interop._tau2_format`), read back so that nothing is lost.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from toolgym.errors import DataError
from toolgym.evaluation._types import (
    ActionCheck,
    CommunicateCheck,
    DBCheck,
    EnvAssertionCheck,
    NLAssertionCheck,
    RewardBreakdown,
)
from toolgym.interop._common import IMPORTED_NOTE, ImportedRun, read_source, write_imported_run
from toolgym.interop._tau2_format import EXTENSION, from_tau2_termination
from toolgym.messages import Message, ToolCall, Usage
from toolgym.runner._config import rollout_seed
from toolgym.runner._results import RolloutResult, Termination, Timings
from toolgym.runner._store import RunData
from toolgym.tasks import RewardType, Task, parse_tasks

__all__ = ["import_tau2", "read_tau2"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Participant(_Open):
    implementation: str = "unknown"
    llm: str | None = None
    llm_args: dict[str, Any] | None = None


class _Environment(_Open):
    domain_name: str
    policy: str | None = None


class _Info(_Open):
    num_trials: int | None = None
    max_steps: int | None = None
    max_errors: int | None = None
    seed: int | None = None
    git_commit: str | None = None
    user_info: _Participant | None = None
    agent_info: _Participant | None = None
    environment_info: _Environment


class _Simulation(_Open):
    id: str | None = None
    task_id: str | int
    start_time: str | None = None
    end_time: str | None = None
    duration: float | None = None
    termination_reason: str
    agent_cost: float | None = None
    user_cost: float | None = None
    reward_info: dict[str, Any] | None = None
    messages: list[dict[str, Any]] | None = None
    trial: int | None = None
    seed: int | None = None


class _Results(_Open):
    timestamp: str | None = None
    info: _Info
    tasks: list[Any]
    simulations: list[Any]


def _problem(exc: ValidationError, where: str) -> DataError:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"]) or "(top)"
    return DataError(f"{where}: field {loc}: {err['msg']}")


def _usage(raw: Any, cost: Any) -> Usage | None:
    if not isinstance(raw, dict) and cost is None:
        return None
    raw = raw if isinstance(raw, dict) else {}

    def tokens(key: str) -> int:
        v = raw.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0

    return Usage(prompt_tokens=tokens("prompt_tokens"), completion_tokens=tokens(
        "completion_tokens"), cost=float(cost) if isinstance(cost, int | float) else None,
        calls=1)


def _extension(raw: Any) -> dict[str, Any]:
    ext = raw.get(EXTENSION) if isinstance(raw, dict) else None
    return ext if isinstance(ext, dict) else {}


def _flatten(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in raw:
        inner = m.get("tool_messages") if m.get("role") == "tool" else None
        if isinstance(inner, list):
            out.extend(x for x in inner if isinstance(x, dict))
        else:
            out.append(m)
    return out


def _is_greeting(i: int, m: dict[str, Any]) -> bool:
    """tau2's fixed first agent message (no model call made it)."""
    return i == 0 and m.get("role") == "assistant" and not m.get("tool_calls") and (
        m.get("usage") is None and m.get("cost") is None)


def _messages(raw: list[dict[str, Any]], policy: str | None, where: str, exported: bool
              ) -> list[Message]:
    """toolgym messages of a simulation (``exported``: written by toolgym, with its
    per-message extension, so a missing turn is no turn)."""
    out: list[Message] = []
    if policy and not (raw and raw[0].get("role") == "system"):
        out.append(Message.system(policy))
    names: dict[str, str] = {}
    turns: dict[str, int] = {}
    turn = -1
    for i, m in enumerate(_flatten(raw)):
        w = f"{where}: messages[{i}]"
        role = m.get("role")
        content = m.get("content")
        if content is not None and not isinstance(content, str):
            raise DataError(f"{w}: content must be a string or null")
        if role == "system":
            out.append(Message(role="system", content=content))
        elif role in ("assistant", "user"):
            ext = _extension(m.get("raw_data"))
            bad = {c.get("id"): c for c in ext.get("tool_calls") or [] if isinstance(c, dict)}
            calls: list[ToolCall] = []
            for j, c in enumerate(m.get("tool_calls") or []):
                if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                    raise DataError(f"{w}.tool_calls[{j}]: a tool call needs a name")
                args = c.get("arguments") or {}
                if not isinstance(args, dict):
                    raise DataError(f"{w}.tool_calls[{j}]: arguments must be an object")
                cid = str(c.get("id") or f"call_{i}_{j}")
                extra = bad.get(cid, {})
                calls.append(ToolCall(id=cid, name=c["name"], arguments=args,
                                      raw_arguments=extra.get("raw_arguments"),
                                      parse_error=extra.get("parse_error")))
                names[cid] = c["name"]
            msg_turn: Any
            if exported:
                msg_turn = ext.get("turn")
                if isinstance(msg_turn, int):
                    turn = msg_turn
            elif role == "assistant" and not _is_greeting(i, m):
                turn += 1
                msg_turn = turn
            else:
                msg_turn = None
            for c in calls:
                turns[c.id] = msg_turn if isinstance(msg_turn, int) else max(turn, 0)
            usage = (Usage.model_validate(ext["usage"]) if isinstance(ext.get("usage"), dict)
                     else _usage(m.get("usage"), m.get("cost")))
            out.append(Message(role=role, content=content, tool_calls=calls or None,
                               reasoning=ext.get("reasoning"), turn=msg_turn,
                               usage=usage, latency_s=ext.get("latency_s")))
        elif role == "tool":
            cid = str(m.get("id") or "")
            out.append(Message(role="tool", content=content, tool_call_id=cid,
                               name=names.get(cid), error=bool(m.get("error")),
                               turn=turns.get(cid, max(turn, 0))))
        else:
            raise DataError(f"{w}: unknown role {role!r}")
    return out


def _checks(rinfo: dict[str, Any], task: Task | None, reward: float | None,
            termination: Termination, source: str) -> RewardBreakdown:
    basis_raw = rinfo.get("reward_basis")
    known = {t.value for t in RewardType}
    basis = ([RewardType(b) for b in basis_raw if b in known]
             if isinstance(basis_raw, list) else (task.reward_basis if task else []))
    out = RewardBreakdown(reward=reward, reward_basis=basis)
    db = rinfo.get("db_check")
    if isinstance(db, dict):
        out.db = DBCheck(match=bool(db.get("db_match")))
    for c in rinfo.get("action_checks") or []:
        a = c.get("action") or {}
        out.actions.append(ActionCheck(action_id=a.get("action_id"), name=a.get("name", ""),
                                       arguments=a.get("arguments") or {},
                                       compare_args=a.get("compare_args"),
                                       matched=bool(c.get("action_match"))))
    out.communicate = [CommunicateCheck(info=str(c.get("info", "")), found=bool(c.get("met")))
                       for c in rinfo.get("communicate_checks") or []]
    out.nl_assertions = [NLAssertionCheck(assertion=str(c.get("nl_assertion", "")),
                                          met=c.get("met"), justification=c.get("justification"))
                         for c in rinfo.get("nl_assertions") or []]
    for c in rinfo.get("env_assertions") or []:
        e = c.get("env_assertion") or {}
        out.env_assertions.append(EnvAssertionCheck(
            func_name=e.get("func_name", ""), arguments=e.get("arguments") or {},
            expected=e.get("assert_value", True), actual=None, met=bool(c.get("met")),
            message=e.get("message")))
    comps = rinfo.get("reward_breakdown")
    if isinstance(comps, dict):
        out.components = {str(k): float(v) for k, v in comps.items()
                          if isinstance(v, int | float)}
    if out.db is not None:
        out.components.setdefault(RewardType.DB.value, float(out.db.match))
    out.notes = [f"{IMPORTED_NOTE} from tau2 results {source} (not computed by toolgym; "
                 "toolgym regrade recomputes it)"]
    if not termination.normal:
        out.status = "not_scored"
    return out


def _rollout(sim: _Simulation, trial: int, task: Task | None, policy: str | None,
             where: str, source: str) -> RolloutResult:
    task_id = str(sim.task_id)
    rinfo = sim.reward_info if isinstance(sim.reward_info, dict) else None
    ext = _extension(rinfo.get("info")) if rinfo else {}
    termination = from_tau2_termination(sim.termination_reason)
    if termination is None:
        raise DataError(f"{where}: unknown termination_reason {sim.termination_reason!r}")
    if isinstance(ext.get("termination"), str):
        with contextlib.suppress(ValueError):
            termination = Termination(ext["termination"])
    has_system = ext.get("system") != "none"
    messages = _messages(sim.messages or [], policy if has_system else None, where,
                         exported=bool(ext))
    reward: float | None
    if "reward" in ext:
        reward = ext["reward"]
    else:
        raw = rinfo.get("reward") if rinfo else None
        reward = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    if isinstance(ext.get("breakdown"), dict):
        breakdown = RewardBreakdown.model_validate(ext["breakdown"])
        if not (breakdown.notes and breakdown.notes[0].startswith(IMPORTED_NOTE)):
            breakdown.notes.insert(0, f"{IMPORTED_NOTE} from tau2 results {source} (exported "
                                      "by toolgym)")
    elif rinfo is not None:
        breakdown = _checks(rinfo, task, reward, termination, source)
    else:
        breakdown = RewardBreakdown(
            reward=None if termination.normal else 0.0,
            status="error" if termination.normal else "not_scored",
            reward_basis=task.reward_basis if task else [],
            notes=[f"{IMPORTED_NOTE} from tau2 results {source}: tau2 recorded no reward"])
        reward = breakdown.reward
    if ext.get("usage") and isinstance(ext["usage"], dict):
        usage = {role: Usage.model_validate(u) for role, u in ext["usage"].items()}
    else:
        usage = _role_usage(messages, sim)
    if isinstance(ext.get("timings"), dict):
        timings = Timings.model_validate(ext["timings"])
    else:
        start = sim.start_time or ""
        timings = Timings(started_at=start, finished_at=sim.end_time or start,
                          duration_s=float(sim.duration or 0.0))
    steps = ext.get("steps")
    seed = ext.get("seed", sim.seed)
    return RolloutResult(
        task_id=task_id, trial=trial,
        seed=seed if isinstance(seed, int) else rollout_seed(0, task_id, trial),
        messages=messages, reward=reward, breakdown=breakdown, termination=termination,
        steps=steps if isinstance(steps, int) else sum(
            m.role == "assistant" and m.turn is not None for m in messages),
        usage=usage, timings=timings, error=ext.get("error"), error_status=ext.get(
            "error_status"), retries=ext.get("retries") or {},
        annotations=ext.get("annotations") or [])


def _role_usage(messages: list[Message], sim: _Simulation) -> dict[str, Usage]:
    out: dict[str, Usage] = {}
    for role, key, cost in (("agent", "assistant", sim.agent_cost),
                            ("user", "user", sim.user_cost)):
        total = Usage()
        for m in messages:
            if m.role == key:
                total = total + (m.usage if m.usage is not None else Usage(calls=1))
        if cost is not None:
            total = total.model_copy(update={"cost": float(cost)})
        if total.calls or cost is not None:
            out[role] = total
    return out


def read_tau2(path: str | Path, data_dir: str | Path | None = None) -> ImportedRun:
    """Read a tau2 results file into an :class:`ImportedRun` (nothing written).

    Args:
        path: The tau2 results JSON (``{timestamp, info, tasks, simulations}``).
        data_dir: The domain data to record for judges and regrading.

    Raises:
        DataError: the file is not a tau2 results file (one line naming the
            simulation and the field).
    """
    src = read_source(path, "tau2 results file")
    if isinstance(src.data, list):
        raise DataError(f"{src.path}: a JSON list, not a tau2 results object (a tau-bench v1 "
                        "file? use toolgym import tau-bench)")
    try:
        results = _Results.model_validate(src.data)
    except ValidationError as exc:
        raise _problem(exc, str(src.path)) from None
    tasks = parse_tasks(results.tasks, f"{src.path}: tasks")
    by_id = {t.id: t for t in tasks}
    policy = results.info.environment_info.policy
    rollouts: dict[tuple[str, int], RolloutResult] = {}
    warnings: list[str] = []
    next_trial: dict[str, int] = defaultdict(int)
    for i, raw in enumerate(results.simulations):
        where = f"{src.path}: simulations[{i}]"
        try:
            sim = _Simulation.model_validate(raw)
        except ValidationError as exc:
            raise _problem(exc, where) from None
        task_id = str(sim.task_id)
        if task_id not in by_id:
            raise DataError(f"{where}: task {task_id!r} is not in the file's tasks")
        trial = sim.trial if sim.trial is not None else next_trial[task_id]
        next_trial[task_id] = max(next_trial[task_id], trial + 1)
        r = _rollout(sim, trial, by_id[task_id], policy, where, src.path.name)
        if r.key in rollouts:
            warnings.append(f"{where}: a second simulation of task {task_id} trial {trial}; "
                            "the later one is kept")
        rollouts[r.key] = r
    info = results.info

    def participant(p: _Participant | None) -> dict[str, Any]:
        if p is None:
            return {"strategy": "unknown", "model": None}
        model = {"model": p.llm, "args": p.llm_args or {}} if p.llm else None
        return {"strategy": p.implementation, "model": model}

    trials = info.num_trials or max((r.trial + 1 for r in rollouts.values()), default=1)
    return ImportedRun(
        source="tau2", format="tau2 results (timestamp, info, tasks, simulations)", file=src,
        domain=info.environment_info.domain_name, tasks=tasks, results=list(rollouts.values()),
        agent=participant(info.agent_info), user=participant(info.user_info), trials=trials,
        data_dir=str(Path(data_dir).resolve()) if data_dir else None,
        seed=info.seed or 0, max_steps=info.max_steps, max_errors=info.max_errors,
        extra={"tau2_git_commit": info.git_commit, "tau2_timestamp": results.timestamp},
        warnings=warnings)


def import_tau2(path: str | Path, out: str | Path, *, data_dir: str | Path | None = None
                ) -> RunData:
    """Import a tau2 results file as a toolgym run directory.

    Args:
        path: The tau2 results JSON.
        out: The run directory to create (it must not hold a run).
        data_dir: The domain data to record for judges and regrading.

    Returns:
        The imported run, loaded.
    """
    return write_imported_run(read_tau2(path, data_dir), out)
