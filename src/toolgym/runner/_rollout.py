"""One rollout: the user / agent / tool loop for a task, then grading.

The loop (tau2's turn order): the agent greets; the user states its goal;
the agent answers with text (handed to the user) or tool calls (executed in
order, results appended, agent called again). It ends when the user writes a
stop marker, the agent transfers to a human, or a limit is hit.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from toolgym._secrets import redact_secrets
from toolgym.agents._base import Agent
from toolgym.domains._domain import Domain
from toolgym.env._environment import Environment, ToolSimulator
from toolgym.evaluation._evaluate import Evaluator, NLJudge
from toolgym.evaluation._types import RewardBreakdown
from toolgym.messages import Message, Usage
from toolgym.models._base import ContextOverflowError, ModelError
from toolgym.models._retry import counting_retries
from toolgym.runner._results import RolloutResult, Termination, Timings
from toolgym.tasks import Task
from toolgym.users._base import STOP, TRANSFER, UserSimulator, stop_marker

__all__ = ["GREETING", "Limits", "RolloutSpec", "run_rollout"]

GREETING = "Hi! How can I help you today?"
#: An agent ends the episode itself by writing this in a text message.
AGENT_STOP_MARKER = STOP
TRANSFER_TOOL = "transfer_to_human_agents"


@dataclass(frozen=True)
class Limits:
    """Per-rollout limits."""

    max_steps: int = 50
    max_errors: int = 10
    timeout_s: float | None = None
    cost_limit: float | None = None


@dataclass
class RolloutSpec:
    """Everything needed to run rollouts of one domain."""

    domain: Domain[Any]
    evaluator: Evaluator
    system_prompt: str
    make_agent: Callable[[Task, int, int], Agent]
    make_user: Callable[[Task, int, int], UserSimulator]
    judge: NLJudge | None = None
    limits: Limits = field(default_factory=Limits)
    #: Builds the episode's simulator of the domain's simulated tools from
    #: (task, trial, seed, user simulator); None for domains of code tools only.
    make_tool_sim: Callable[[Task, int, int, UserSimulator], ToolSimulator] | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class _Episode:
    def __init__(self, spec: RolloutSpec, task: Task, trial: int, seed: int) -> None:
        self.spec, self.task, self.trial, self.seed = spec, task, trial, seed
        self.env = Environment(spec.domain, task)
        self.messages: list[Message] = [Message.system(spec.system_prompt)]
        self.usage: dict[str, Usage] = {}
        self.steps = 0
        self.errors = 0
        self.agent_s = self.user_s = self.env_s = 0.0
        self.error: str | None = None
        self.error_status: int | None = None
        #: Which side was talking when a model error struck.
        self.phase = "agent"

    def _add_usage(self, role: str, usage: Usage) -> None:
        self.usage[role] = self.usage.get(role, Usage()) + usage

    def _cost(self) -> float:
        return sum(u.cost or 0.0 for u in self.usage.values())

    async def run(self) -> Termination:
        spec = self.spec
        agent = spec.make_agent(self.task, self.trial, self.seed)
        user = spec.make_user(self.task, self.trial, self.seed)
        if spec.make_tool_sim is not None:
            self.env.simulator = spec.make_tool_sim(self.task, self.trial, self.seed, user)
        self.messages.append(Message.assistant(GREETING))
        try:
            end = await self._user_turn(user)
            if end is not None:
                return end
            while True:
                if self.steps >= spec.limits.max_steps:
                    return Termination.MAX_STEPS
                start = time.perf_counter()
                self.phase = "agent"
                reply = await agent.act(self.messages)
                self.agent_s += time.perf_counter() - start
                self.steps += 1
                msg = reply.message
                msg.turn, msg.usage, msg.latency_s = self.steps, reply.usage, reply.latency_s
                self._add_usage("agent", reply.usage)
                self.messages.append(msg)
                if self._over_budget():
                    return Termination.COST_LIMIT
                if msg.tool_calls:
                    # Code tools only: synchronous, no await (the hot path).
                    end = (self._run_tools(msg) if self.env.simulator is None
                           else await self._run_simulated_tools(msg))
                    if end is not None:
                        return end
                    continue
                if msg.content and AGENT_STOP_MARKER in msg.content:
                    return Termination.AGENT_STOP
                end = await self._user_turn(user)
                if end is not None:
                    return end
        except ContextOverflowError as exc:
            self.error = redact_secrets(f"{self.phase} model: {exc}")
            return Termination.CONTEXT_OVERFLOW
        except ModelError as exc:
            self.error = redact_secrets(f"{self.phase} model: {type(exc).__name__}: {exc}")
            self.error_status = getattr(exc, "status", None)
            return Termination.MODEL_ERROR

    def _over_budget(self) -> bool:
        limit = self.spec.limits.cost_limit
        return limit is not None and self._cost() > limit

    def _run_tools(self, msg: Message) -> Termination | None:
        assert msg.tool_calls
        transferred = False
        for execution in self.env.execute_all(msg.tool_calls):
            call = execution.call
            self.env_s += execution.seconds
            self.messages.append(Environment.tool_message(execution, turn=self.steps))
            if execution.result.error:
                self.errors += 1
            elif call.name == TRANSFER_TOOL:
                transferred = True
        if self.errors >= self.spec.limits.max_errors:
            return Termination.TOO_MANY_ERRORS
        return Termination.TRANSFER if transferred else None

    async def _run_simulated_tools(self, msg: Message) -> Termination | None:
        """``_run_tools`` for a domain with simulated tools.

        Code tools still run synchronously; calls the simulator handles are
        awaited (their model usage is counted per role). A successful call
        of an ending tool (``final_answer``) ends the episode after its turn.
        """
        assert msg.tool_calls
        env = self.env
        sim = env.simulator
        assert sim is not None
        transferred = ended = False
        for call in msg.tool_calls:
            if env.simulates(call):
                self.phase = sim.role(call.name)
                execution = await env.execute_simulated(call, self.messages)
                self.phase = "agent"
                for role, usage in (execution.usage or {}).items():
                    self._add_usage(role, usage)
            else:
                execution = env.execute(call)
            self.env_s += execution.seconds
            self.messages.append(Environment.tool_message(execution, turn=self.steps))
            if execution.result.error:
                self.errors += 1
            elif call.name == TRANSFER_TOOL:
                transferred = True
            elif execution.ends or sim.ends_episode(call.name):
                ended = True
        if self._over_budget():
            return Termination.COST_LIMIT
        if self.errors >= self.spec.limits.max_errors:
            return Termination.TOO_MANY_ERRORS
        if transferred:
            return Termination.TRANSFER
        return Termination.AGENT_STOP if ended else None

    async def _user_turn(self, user: UserSimulator) -> Termination | None:
        start = time.perf_counter()
        self.phase = "user"
        reply = await user.respond(self.messages)
        self.user_s += time.perf_counter() - start
        msg = reply.message
        msg.usage, msg.latency_s = reply.usage, reply.latency_s
        self._add_usage("user", reply.usage)
        self.messages.append(msg)
        if self._over_budget():
            return Termination.COST_LIMIT
        marker = stop_marker(msg.content)
        if marker is None:
            return None
        # ###OUT-OF-SCOPE### ends the episode like ###STOP### (as in tau2).
        return Termination.TRANSFER if marker == TRANSFER else Termination.USER_STOP


def _grade_without_judge(spec: RolloutSpec, task: Task, episode: _Episode,
                         termination: Termination) -> RewardBreakdown:
    try:
        return spec.evaluator.evaluate(task, episode.messages, normal_end=termination.normal,
                                       final_db=episode.env.db)
    except Exception as exc:  # grading must never lose the rollout
        return RewardBreakdown(reward=None, status="error", notes=[f"evaluation failed: {exc}"])


async def run_rollout(spec: RolloutSpec, task: Task, trial: int, seed: int) -> RolloutResult:
    """Run one episode of ``task`` and grade it.

    Model failures that survive the retry policy end the episode with
    ``model_error`` (an infrastructure error, not the agent's fault); any
    other exception raised by a component ends it with ``internal_error``.
    Either way the result is returned, with the conversation so far, so that
    it can be recorded. Retries of model calls are counted by cause.
    """
    with counting_retries() as retries:
        result = await _run_and_grade(spec, task, trial, seed)
    result.retries = dict(sorted(retries.items()))
    return result


async def _run_and_grade(spec: RolloutSpec, task: Task, trial: int, seed: int
                         ) -> RolloutResult:
    started, t0 = _now(), time.perf_counter()
    episode = _Episode(spec, task, trial, seed)
    timeout = spec.limits.timeout_s
    try:
        if timeout is not None:
            termination = await asyncio.wait_for(episode.run(), timeout)
        else:
            termination = await episode.run()
    except TimeoutError:
        termination = Termination.TIMEOUT
    except Exception as exc:  # a component's bug: recorded, never a dead worker
        termination = Termination.INTERNAL_ERROR
        episode.error = redact_secrets(f"{episode.phase} side raised {_describe(exc)}")
    t_eval = time.perf_counter()
    if termination is Termination.INTERNAL_ERROR:
        breakdown = RewardBreakdown(reward=None, status="error",
                                    notes=["not graded: the rollout ended on an internal error"])
    else:
        breakdown = await _grade(spec, task, episode, termination)
    eval_s = time.perf_counter() - t_eval
    if breakdown.judge_usage is not None:
        episode.usage["judge"] = breakdown.judge_usage
    return RolloutResult(
        task_id=task.id,
        trial=trial,
        seed=seed,
        messages=episode.messages,
        reward=breakdown.reward,
        breakdown=breakdown,
        termination=termination,
        steps=episode.steps,
        usage=episode.usage,
        timings=Timings(
            started_at=started, finished_at=_now(), duration_s=time.perf_counter() - t0,
            agent_s=episode.agent_s, user_s=episode.user_s, env_s=episode.env_s, eval_s=eval_s,
        ),
        error=episode.error,
        error_status=episode.error_status,
        annotations=[
            {"judge": "nl_assertion", "turn": c.turn, "text": c.justification or c.assertion,
             "verdict": c.met}
            for c in breakdown.nl_assertions if c.met is not None
        ],
    )


async def _grade(spec: RolloutSpec, task: Task, episode: _Episode, termination: Termination
                 ) -> RewardBreakdown:
    try:
        return await spec.evaluator.evaluate_async(
            task, episode.messages, normal_end=termination.normal, judge=spec.judge,
            final_db=episode.env.db,
        )
    except ModelError as exc:
        breakdown = _grade_without_judge(spec, task, episode, termination)
        breakdown.reward, breakdown.status = None, "judge_failed"
        breakdown.notes.append(redact_secrets(f"judge failed: {exc}"))
        breakdown.judge_usage = exc.usage
        if episode.error is None:
            episode.error = redact_secrets(f"judge model: {type(exc).__name__}: {exc}")
            episode.error_status = getattr(exc, "status", None)
        return breakdown
    except Exception as exc:  # grading must never lose the rollout
        return RewardBreakdown(reward=None, status="error",
                               notes=[f"evaluation failed: {_describe(exc)}"])


def _describe(exc: BaseException) -> str:
    """``TypeError: message (at module.py:12 in func)`` for a recorded exception."""
    text = f"{type(exc).__name__}: {exc}"
    tb = traceback.extract_tb(exc.__traceback__)
    if tb:
        last = tb[-1]
        text += f" (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name})"
    return text
