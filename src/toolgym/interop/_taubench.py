"""Importing tau-bench (v1) results: a JSON list of ``{task_id, trial, reward, info, traj}``.

What a v1 record holds, and where it goes in toolgym:

* ``traj``: the OpenAI-format conversation. Tool-calling agents write
  assistant messages with ``tool_calls`` answered by ``tool`` messages;
  ReAct/Act agents write ``Action: {"name": ..., "arguments": ...}`` in the
  assistant text and get ``API output: ...`` back as a user message. Both
  become toolgym messages: a ``respond`` action is an assistant message to the
  user, any other action an assistant tool call answered by a tool message (a
  ReAct thought goes to ``reasoning``).
* ``info.task`` (``user_id``, ``instruction``, ``actions``, ``outputs``): a
  tau2-schema task whose gold actions are v1's actions and whose
  ``communicate_info`` is v1's ``outputs``, graded on DB and COMMUNICATE,
  which is what v1's reward is (the final database's hash equals that of the
  gold actions, and every output appears in a reply to the user).
* ``reward`` and ``info.reward_info``: the recorded reward and its details
  (``r_actions``: the database check; ``r_outputs``/``outputs``: the output
  check), kept as the rollout's reward, its source marked as imported.
* ``info.source``: what ended the episode (``user``: the user stopped;
  ``transfer_to_human_agents``: the agent transferred); v1 writes no reward
  info when the step limit ended an episode.
* ``info.user_cost``: the simulated user's cost. v1 records no agent cost and
  no token counts, so the agent's cost is unknown.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from toolgym.errors import DataError
from toolgym.evaluation._types import CommunicateCheck, DBCheck, RewardBreakdown
from toolgym.interop._common import (
    IMPORTED_NOTE,
    ImportedRun,
    now_iso,
    read_source,
    write_imported_run,
)
from toolgym.messages import Message, ToolCall, Usage
from toolgym.runner._config import rollout_seed
from toolgym.runner._results import RolloutResult, Termination, Timings
from toolgym.runner._store import RunData
from toolgym.tasks import (
    Action,
    Description,
    EvaluationCriteria,
    RewardType,
    Task,
    UserScenario,
)

__all__ = ["TAU_BENCH_DOMAINS", "import_tau_bench", "read_tau_bench"]

#: The domains tau-bench v1 has.
TAU_BENCH_DOMAINS = ("airline", "retail")
_RESPOND = "respond"
_TRANSFER = "transfer_to_human_agents"
_ACTION = re.compile(r"Action:\s*(\{.*\})\s*$", re.DOTALL)
_OBSERVATION = "API output:"


def _where(i: int, rec: Any) -> str:
    if isinstance(rec, dict) and "task_id" in rec:
        return f"record #{i} (task {rec.get('task_id')!r}, trial {rec.get('trial')!r})"
    return f"record #{i}"


def _v1_task(task_id: str, raw: Any, where: str, source: str) -> Task:
    """A tau2-schema task from a v1 ``info.task``."""
    if not isinstance(raw, dict):
        raise DataError(f"{where}: info.task must be an object")
    actions = raw.get("actions") or []
    if not isinstance(actions, list):
        raise DataError(f"{where}: info.task.actions must be a list")
    gold: list[Action] = []
    for j, a in enumerate(actions):
        if not isinstance(a, dict) or not isinstance(a.get("name"), str):
            raise DataError(f"{where}: info.task.actions[{j}] needs a name")
        if a["name"] == _RESPOND:  # a reply, not a tool call: nothing to replay
            continue
        kwargs = a.get("kwargs", a.get("arguments")) or {}
        if not isinstance(kwargs, dict):
            raise DataError(f"{where}: info.task.actions[{j}].kwargs must be an object")
        gold.append(Action(action_id=f"{task_id}_{j}", name=a["name"], arguments=kwargs))
    outputs = raw.get("outputs") or []
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise DataError(f"{where}: info.task.outputs must be a list of strings")
    instruction = raw.get("instruction")
    if not isinstance(instruction, str):
        raise DataError(f"{where}: info.task.instruction must be a string")
    user_id = raw.get("user_id")
    return Task(
        id=task_id,
        description=Description(notes=f"tau-bench v1 task (user_id {user_id})"
                                if user_id else "tau-bench v1 task"),
        user_scenario=UserScenario(instructions=instruction),
        evaluation_criteria=EvaluationCriteria(
            actions=gold, communicate_info=list(outputs),
            reward_basis=[RewardType.DB, RewardType.COMMUNICATE]),
        provenance=f"tau-bench v1 results {source}",
    )


def _parse_arguments(text: Any) -> tuple[dict[str, Any], str | None, str | None]:
    """(arguments, raw text if it did not parse, parse error)."""
    if isinstance(text, dict):
        return text, None, None
    if not isinstance(text, str):
        return {}, json.dumps(text), "arguments are not a JSON object"
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        return {}, text, str(exc)
    if not isinstance(value, dict):
        return {}, text, "arguments are not a JSON object"
    return value, None, None


def _tool_call(raw: Any, where: str) -> ToolCall:
    if not isinstance(raw, dict):
        raise DataError(f"{where}: a tool call must be an object")
    fn = raw.get("function", raw)
    name = fn.get("name") if isinstance(fn, dict) else None
    if not isinstance(name, str):
        raise DataError(f"{where}: a tool call needs a function name")
    args, raw_args, error = _parse_arguments(fn.get("arguments"))
    return ToolCall(id=str(raw.get("id") or ""), name=name, arguments=args,
                    raw_arguments=raw_args, parse_error=error)


def _is_error(content: str | None) -> bool:
    # v1 tools answer a failed call with "Error: ..." (and unknown tools with
    # "Unknown action ...").
    return content is not None and (content.startswith("Error")
                                    or content.startswith("Unknown "))


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _tool_calling_messages(traj: list[Any], where: str) -> list[Message]:
    """Messages of a tool-calling agent's trajectory (OpenAI format)."""
    out: list[Message] = []
    turn = -1
    call_turn: dict[str, int] = {}
    latest: dict[str, str] = {}
    answered = {m.get("tool_call_id") for m in traj if isinstance(m, dict)
                and m.get("role") == "tool"}
    for i, m in enumerate(traj):
        w = f"{where}: traj[{i}]"
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant",
                                                             "tool"):
            raise DataError(f"{w}: expected a message with role system, user, assistant or "
                            "tool")
        role = m["role"]
        content = _text(m.get("content"))
        if role == "assistant":
            turn += 1
            calls = [_tool_call(c, f"{w}.tool_calls[{j}]")
                     for j, c in enumerate(m.get("tool_calls") or [])]
            if len(calls) > 1:
                # v1 runs only the first call of a turn; the others were never executed.
                calls = [c for k, c in enumerate(calls) if k == 0 or c.id in answered]
            for k, c in enumerate(calls):
                # v1 trajectories reuse call ids within a conversation; toolgym's
                # are unique (a tool message answers the latest call of its id).
                uid = c.id or f"call_{turn}_{k}"
                if uid in call_turn:
                    uid = f"{uid}_{turn}_{k}"
                latest[c.id] = uid
                calls[k] = c.model_copy(update={"id": uid})
                call_turn[uid] = turn
            out.append(Message(role="assistant", content=content, tool_calls=calls or None,
                               turn=turn))
        elif role == "tool":
            raw_id = str(m.get("tool_call_id") or "")
            call_id = latest.get(raw_id, raw_id)
            out.append(Message(role="tool", content=content, tool_call_id=call_id,
                               name=m.get("name"), error=_is_error(content),
                               turn=call_turn.get(call_id, max(turn, 0))))
        else:
            out.append(Message(role=role, content=content))
    return out


def _is_react(traj: list[Any]) -> bool:
    return any(isinstance(m, dict) and m.get("role") == "user"
               and isinstance(m.get("content"), str) and m["content"].startswith(_OBSERVATION)
               for m in traj[2:])


def _react_messages(traj: list[Any], where: str) -> list[Message]:
    """Messages of a ReAct/Act agent's trajectory: actions written in the text."""
    out: list[Message] = []
    turn = -1
    pending: ToolCall | None = None
    for i, m in enumerate(traj):
        w = f"{where}: traj[{i}]"
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            raise DataError(f"{w}: expected a message with role system, user or assistant")
        role = m["role"]
        content = _text(m.get("content")) or ""
        if role == "assistant":
            turn += 1
            match = _ACTION.search(content)
            thought = content[:match.start()].strip() if match else None
            if thought and thought.startswith("Thought:"):
                thought = thought[len("Thought:"):].strip()
            action: Any = None
            if match:
                try:
                    action = json.loads(match.group(1))
                except ValueError:
                    action = None
            if not isinstance(action, dict) or not isinstance(action.get("name"), str):
                # v1 treats an unparseable action as a reply with the whole text.
                out.append(Message(role="assistant", content=content, turn=turn))
                continue
            args = action.get("arguments") or {}
            if not isinstance(args, dict):
                args = {}
            if action["name"] == _RESPOND:
                out.append(Message(role="assistant", content=_text(args.get("content")),
                                   reasoning=thought or None, turn=turn))
                continue
            pending = ToolCall(id=f"call_{turn}", name=action["name"], arguments=args)
            out.append(Message(role="assistant", reasoning=thought or None,
                               tool_calls=[pending], turn=turn))
        elif role == "user" and pending is not None and content.startswith(_OBSERVATION):
            result = content[len(_OBSERVATION):].strip()
            out.append(Message(role="tool", content=result, tool_call_id=pending.id,
                               name=pending.name, error=_is_error(result), turn=turn))
            pending = None
        else:
            pending = None
            out.append(Message(role=role, content=content))
    return out


def _messages(traj: Any, where: str) -> list[Message]:
    if not isinstance(traj, list):
        raise DataError(f"{where}: traj must be a list of messages")
    return _react_messages(traj, where) if _is_react(traj) else _tool_calling_messages(
        traj, where)


def _termination(info: dict[str, Any]) -> Termination:
    source = info.get("source")
    if info.get("reward_info") is None:
        # v1 grades an episode only when it ended; without a grade the
        # step limit stopped it.
        return Termination.MAX_STEPS
    if source == _TRANSFER:
        return Termination.TRANSFER
    if source == "user" or source is None:
        return Termination.USER_STOP
    return Termination.AGENT_STOP


def _breakdown(reward: float, info: dict[str, Any], task: Task, normal: bool,
               source: str) -> RewardBreakdown:
    rinfo = info.get("reward_info")
    notes = [f"{IMPORTED_NOTE} from tau-bench v1 results {source} (not computed by toolgym; "
             "toolgym regrade recomputes it)"]
    out = RewardBreakdown(reward=reward, reward_basis=task.reward_basis,
                          status="ok" if normal else "not_scored")
    if not normal:
        notes.append("episode ended abnormally (tau-bench recorded no reward details): "
                     "reward 0")
    details = rinfo.get("info") if isinstance(rinfo, dict) else None
    components: dict[str, float | None] = {}
    if isinstance(details, dict) and "r_outputs" in details:
        # With outputs, v1 keeps only the output check's details; the
        # database check is known from the reward when one of them passed.
        r_outputs = float(details["r_outputs"])
        components[RewardType.COMMUNICATE] = r_outputs
        found = details.get("outputs")
        if isinstance(found, dict):
            out.communicate = [CommunicateCheck(info=str(k), found=bool(v))
                               for k, v in found.items()]
        if reward >= 1.0 - 1e-6 or r_outputs >= 1.0:
            match = reward >= 1.0 - 1e-6
            out.db = DBCheck(match=match)
            components[RewardType.DB] = float(match)
    elif isinstance(details, dict) and "r_actions" in details:
        match = bool(details["r_actions"])
        out.db = DBCheck(match=match)
        components[RewardType.DB] = float(match)
        components[RewardType.COMMUNICATE] = 1.0  # no outputs to say
        if details.get("gt_data_hash"):
            notes.append(f"tau-bench gold data hash {details['gt_data_hash']}")
    out.components = {str(k): v for k, v in components.items()}
    out.notes = notes
    return out


def read_tau_bench(path: str | Path, domain: str, data_dir: str | Path | None = None
                   ) -> ImportedRun:
    """Read a tau-bench v1 results file into an :class:`ImportedRun` (nothing written).

    Args:
        path: The results JSON (a list of ``{task_id, trial, reward, info, traj}``).
        domain: ``airline`` or ``retail`` (v1 files do not say).
        data_dir: The domain data the run's tools acted on (tau2's data
            directory holds the same database as v1), recorded so judges and
            ``toolgym regrade`` use it.

    Raises:
        DataError: the file is not a tau-bench results file (one line naming
            the record and the field).
    """
    if domain not in TAU_BENCH_DOMAINS:
        raise DataError(f"unknown tau-bench domain {domain!r} (tau-bench has "
                        f"{', '.join(TAU_BENCH_DOMAINS)})")
    src = read_source(path, "tau-bench results file")
    records = src.data
    if not isinstance(records, list):
        hint = " (this looks like a tau2 results file: use toolgym import tau2)" if (
            isinstance(records, dict) and "simulations" in records) else ""
        raise DataError(f"{src.path}: expected a JSON list of tau-bench results "
                        f"{{task_id, trial, reward, info, traj}}{hint}")
    stamp = now_iso()
    tasks: dict[str, Task] = {}
    results: dict[tuple[str, int], RolloutResult] = {}
    warnings: list[str] = []
    user_msgs = 0
    for i, rec in enumerate(records):
        where = f"{src.path}: {_where(i, rec)}"
        if not isinstance(rec, dict):
            raise DataError(f"{where}: expected an object")
        for key in ("task_id", "reward", "info", "traj"):
            if key not in rec:
                raise DataError(f"{where}: field {key} missing")
        tid = rec["task_id"]
        if isinstance(tid, bool) or not isinstance(tid, int | str):
            raise DataError(f"{where}: task_id must be an integer or a string")
        task_id = str(tid)
        trial = rec.get("trial", 0)
        if isinstance(trial, bool) or not isinstance(trial, int) or trial < 0:
            raise DataError(f"{where}: trial must be a non-negative integer")
        reward = rec["reward"]
        if isinstance(reward, bool) or not isinstance(reward, int | float):
            raise DataError(f"{where}: reward must be a number")
        info = rec["info"]
        if not isinstance(info, dict):
            raise DataError(f"{where}: info must be an object")
        task = _v1_task(task_id, info.get("task"), where, src.path.name)
        seen = tasks.setdefault(task_id, task)
        if seen.evaluation_criteria != task.evaluation_criteria:
            warnings.append(f"{where}: its task differs from an earlier record of task "
                            f"{task_id}; the first one is kept")
        messages = _messages(rec["traj"], where)
        termination = _termination(info)
        user_cost = info.get("user_cost")
        n_user = sum(m.role == "user" for m in messages)
        user_msgs += n_user
        steps = sum(m.role == "assistant" for m in messages)
        usage = {
            "agent": Usage(calls=steps, cost=None),
            "user": Usage(calls=n_user, cost=float(user_cost)
                          if isinstance(user_cost, int | float) else None),
        }
        result = RolloutResult(
            task_id=task_id, trial=trial, seed=rollout_seed(0, task_id, trial),
            messages=messages, reward=float(reward),
            breakdown=_breakdown(float(reward), info, seen, termination.normal,
                                 src.path.name),
            termination=termination, steps=steps, usage=usage,
            timings=Timings(started_at=stamp, finished_at=stamp, duration_s=0.0),
        )
        if result.key in results:
            warnings.append(f"{where}: a second record of task {task_id} trial {trial}; "
                            "the later one is kept")
        results[result.key] = result
    trials = Counter(r.task_id for r in results.values())
    agent = {"strategy": "tau-bench", "model": {"model": "unknown"}}
    user = {"strategy": "tau-bench user simulator", "model": None}
    return ImportedRun(
        source="tau-bench", format="tau-bench v1 results (list of task_id, trial, reward, "
        "info, traj)", file=src, domain=domain, tasks=list(tasks.values()),
        results=list(results.values()), agent=agent, user=user,
        trials=max(trials.values(), default=1),
        data_dir=str(Path(data_dir).resolve()) if data_dir else None,
        warnings=warnings,
    )


def import_tau_bench(path: str | Path, out: str | Path, domain: str, *,
                     data_dir: str | Path | None = None, agent_model: str | None = None,
                     user_model: str | None = None) -> RunData:
    """Import a tau-bench v1 results file as a toolgym run directory.

    Args:
        path: The tau-bench results JSON.
        out: The run directory to create (it must not hold a run).
        domain: ``airline`` or ``retail``.
        data_dir: The domain data to record for judges and regrading.
        agent_model: The agent model's name (v1 files do not record it).
        user_model: The user simulator model's name (likewise).

    Returns:
        The imported run, loaded.
    """
    run = read_tau_bench(path, domain, data_dir)
    if agent_model:
        run.agent = {**run.agent, "model": {"model": agent_model}}
    if user_model:
        run.user = {**run.user, "model": {"model": user_model}}
    return write_imported_run(run, out)
