"""Exporting a toolgym run as a tau2 results file.

The file follows tau2's results format (``{timestamp, info, tasks,
simulations}``, see :mod:`toolgym.interop._tau2_format`) so that tau2's
viewer and re-grader read it. What goes where:

* ``info``: toolgym's version (as ``git_commit``), trials, step and error
  limits, the seed, the agent and user simulator (implementation
  ``toolgym:<strategy>``, model name and arguments), and the environment:
  domain name and the agent's system prompt as ``policy``.
* ``tasks``: the run's tasks in tau2's schema (toolgym-only fields dropped,
  missing gold-action ids filled in as ``<task>_<index>``).
* ``simulations``: one per rollout. The system prompt is not repeated in
  ``messages`` (tau2 keeps it in ``info``) unless a rollout's differs; a
  tool message's ``id`` is the call it answers. The reward and its checks go
  to ``reward_info``; a rollout without a reward (waiting for a judge) is
  written with reward 0, which is how tau2 counts it. Termination reasons
  are tau2 v1.0's: transfers are user stops, other abnormal endings
  ``agent_error``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from toolgym import __version__
from toolgym.errors import DataError
from toolgym.evaluation._metrics import task_sort_key
from toolgym.evaluation._types import RewardBreakdown
from toolgym.interop._common import check_against_schema, run_config, run_domain
from toolgym.interop._tau2_format import (
    EXTENSION,
    EXTENSION_FORMAT,
    results_schema,
    to_tau2_termination,
)
from toolgym.messages import Message
from toolgym.runner._results import RolloutResult
from toolgym.runner._store import RunData, load_run, write_json_atomic
from toolgym.tasks import Task

__all__ = ["export_tau2", "tau2_results"]

#: Task fields toolgym adds to tau2's schema.
_TOOLGYM_TASK_FIELDS = ("difficulty", "provenance", "tags")
_TOOLGYM_ACTION_FIELDS = ("depends_on", "checkers")


def tau2_task(task: Task) -> dict[str, Any]:
    """A task in tau2's schema."""
    data = task.model_dump(mode="json")
    for key in _TOOLGYM_TASK_FIELDS:
        data.pop(key, None)
    ec = data.get("evaluation_criteria")
    if isinstance(ec, dict):
        for i, action in enumerate(ec.get("actions") or []):
            for key in _TOOLGYM_ACTION_FIELDS:
                action.pop(key, None)
            if not action.get("action_id"):
                action["action_id"] = f"{task.id}_{i}"
    return data


def _model(section: Any) -> tuple[str | None, dict[str, Any] | None]:
    model = section.get("model") if isinstance(section, dict) else None
    if not isinstance(model, dict):
        return None, None
    args = model.get("args")
    return model.get("model"), (dict(args) if isinstance(args, dict) and args else None)


def _participant(section: Any, default: str) -> dict[str, Any]:
    strategy = section.get("strategy") if isinstance(section, dict) else None
    llm, args = _model(section)
    return {"implementation": f"toolgym:{strategy or default}", "llm": llm, "llm_args": args}


def _system_prompt(results: list[RolloutResult]) -> str:
    for r in results:
        if r.messages and r.messages[0].role == "system":
            return r.messages[0].content or ""
    return ""


def _message_extension(m: Message) -> dict[str, Any]:
    ext: dict[str, Any] = {}
    if m.turn is not None:
        ext["turn"] = m.turn
    if m.reasoning is not None:
        ext["reasoning"] = m.reasoning
    if m.latency_s is not None:
        ext["latency_s"] = m.latency_s
    if m.usage is not None:
        ext["usage"] = m.usage.model_dump(mode="json")
    bad = [{"id": c.id, "raw_arguments": c.raw_arguments, "parse_error": c.parse_error}
           for c in m.tool_calls or [] if c.parse_error or c.raw_arguments is not None]
    if bad:
        ext["tool_calls"] = bad
    return ext


def _messages(r: RolloutResult, policy: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    requestor: dict[str, str] = {}
    for i, m in enumerate(r.messages):
        if m.role == "system":
            if i == 0 and (m.content or "") == policy:
                continue
            out.append({"role": "system", "content": m.content, "turn_idx": len(out),
                        "timestamp": None})
            continue
        if m.role == "tool":
            out.append({"id": m.tool_call_id or "", "role": "tool", "content": m.content,
                        "requestor": requestor.get(m.tool_call_id or "", "assistant"),
                        "error": m.error, "turn_idx": len(out), "timestamp": None})
            continue
        calls = None
        if m.tool_calls:
            calls = []
            for c in m.tool_calls:
                requestor[c.id] = m.role
                calls.append({"id": c.id, "name": c.name, "arguments": c.arguments,
                              "requestor": m.role})
        ext = _message_extension(m)
        usage = m.usage
        out.append({
            "role": m.role, "content": m.content, "tool_calls": calls, "turn_idx": len(out),
            "timestamp": None,
            "cost": usage.cost if usage is not None else None,
            "usage": ({"prompt_tokens": usage.prompt_tokens,
                       "completion_tokens": usage.completion_tokens}
                      if usage is not None else None),
            "raw_data": {EXTENSION: ext} if ext else None,
        })
    return out


def _system_kind(r: RolloutResult, policy: str) -> str:
    """How a rollout's system prompt is written: as the policy, in messages, or none."""
    if not r.messages or r.messages[0].role != "system":
        return "none"
    return "policy" if (r.messages[0].content or "") == policy else "inline"


def _reward_info(r: RolloutResult, task: Task | None, policy: str) -> dict[str, Any]:
    b: RewardBreakdown = r.breakdown
    basis = [str(x) for x in (b.reward_basis or (task.reward_basis if task else []))]
    actions = []
    for i, c in enumerate(b.actions):
        actions.append({
            "action": {"action_id": c.action_id or f"{r.task_id}_{i}", "requestor": "assistant",
                       "name": c.name, "arguments": c.arguments, "info": None,
                       "compare_args": c.compare_args},
            "action_match": c.matched, "action_reward": float(c.matched)})
    judged = [n for n in b.nl_assertions if n.met is not None]
    breakdown = {k: v for k, v in b.components.items() if k in basis and v is not None}
    ext = {
        "format": EXTENSION_FORMAT,
        "reward": r.reward,
        "termination": r.termination.value,
        "breakdown": b.model_dump(mode="json"),
        "steps": r.steps,
        "seed": r.seed,
        "usage": {role: u.model_dump(mode="json") for role, u in r.usage.items()},
        "timings": r.timings.model_dump(mode="json"),
        "error": r.error,
        "error_status": r.error_status,
        "retries": r.retries,
        "annotations": r.annotations,
        "system": _system_kind(r, policy),
    }
    return {
        "reward": float(r.reward) if r.reward is not None else 0.0,
        "db_check": ({"db_match": b.db.match, "db_reward": float(b.db.match)}
                     if b.db is not None else None),
        "env_assertions": [
            {"env_assertion": {"env_type": "assistant", "func_name": e.func_name,
                               "arguments": e.arguments, "assert_value": e.expected,
                               "message": e.message},
             "met": e.met, "reward": float(e.met)} for e in b.env_assertions] or None,
        "action_checks": actions or None,
        "nl_assertions": [{"nl_assertion": n.assertion, "met": bool(n.met),
                           "justification": n.justification or ""} for n in judged] or None,
        "communicate_checks": [{"info": c.info, "met": c.found, "justification": ""}
                               for c in b.communicate] or None,
        "reward_basis": basis,
        "reward_breakdown": breakdown or None,
        "info": {EXTENSION: ext},
    }


def _cost(r: RolloutResult, role: str) -> float | None:
    u = r.usage.get(role)
    if u is None:
        return 0.0
    return u.cost if u.calls or u.cost is not None else 0.0


def _simulation(r: RolloutResult, task: Task | None, policy: str, run_id: str
                ) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"toolgym:{run_id}:{r.task_id}:{r.trial}")),
        "task_id": r.task_id,
        "timestamp": r.timings.finished_at,
        "start_time": r.timings.started_at,
        "end_time": r.timings.finished_at,
        "duration": r.timings.duration_s,
        "termination_reason": to_tau2_termination(r.termination),
        "agent_cost": _cost(r, "agent"),
        "user_cost": _cost(r, "user"),
        "reward_info": _reward_info(r, task, policy),
        "messages": _messages(r, policy),
        "trial": r.trial,
        "seed": r.seed,
    }


def tau2_results(run: RunData) -> dict[str, Any]:
    """A loaded run as a tau2 results object (JSON-ready).

    Raises:
        DataError: the run has no rollouts, or its tasks cannot be loaded.
    """
    if not run.results:
        raise DataError(f"{run.path}: no rollouts to export (results.jsonl is empty or "
                        "missing)")
    domain = run_domain(run)
    tasks = {t.id: t for t in domain.tasks}
    missing = sorted({r.task_id for r in run.results} - set(tasks), key=task_sort_key)
    if missing:
        raise DataError(f"{run.path}: tasks {', '.join(missing[:5])} of the run are not in its "
                        "domain's task set")
    cfg = run_config(run)
    results = sorted(run.results, key=lambda r: (task_sort_key(r.task_id), r.trial))
    trials = run.config.get("trials")
    if not isinstance(trials, int) or trials < 1:
        trials = max(r.trial for r in results) + 1
    policy = _system_prompt(results)
    used = sorted({r.task_id for r in results}, key=task_sort_key)
    run_id = str(run.path.resolve())
    return {
        "timestamp": max(r.timings.finished_at for r in results),
        "info": {
            "git_commit": f"toolgym-{__version__}",
            "num_trials": trials,
            "max_steps": int(cfg.get("max_steps") or 50),
            "max_errors": int(cfg.get("max_errors") or 10),
            "user_info": {**_participant(cfg.get("user"), "user"),
                          "global_simulation_guidelines": None},
            "agent_info": _participant(cfg.get("agent"), "agent"),
            "environment_info": {"domain_name": domain.name, "policy": policy,
                                 "tool_defs": None},
            "seed": cfg.get("seed") if isinstance(cfg.get("seed"), int) else None,
        },
        "tasks": [tau2_task(tasks[t]) for t in used],
        "simulations": [_simulation(r, tasks.get(r.task_id), policy, run_id) for r in results],
    }


def export_tau2(run_dir: str | Path, out: str | Path, *, check: bool = False) -> Path:
    """Write a run as a tau2 results file.

    Args:
        run_dir: The run directory (made by toolgym or imported).
        out: The JSON file to write.
        check: Validate the file against :func:`~toolgym.interop.tau2_results_schema`
            first (needs jsonschema: the ``interop`` extra).

    Returns:
        The path written.
    """
    run = load_run(run_dir)
    data = tau2_results(run)
    if check:
        check_against_schema(data, results_schema(), "the tau2 export")
    out = Path(out)
    if out.is_dir():
        raise DataError(f"{out} is a directory; give the results file's path")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, data)
    return out

