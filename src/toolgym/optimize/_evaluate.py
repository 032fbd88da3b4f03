"""Evaluating candidates: ordinary toolgym runs, one per (candidate, task batch).

A candidate (a dict of text components) becomes a run config: the system
prompt (or the policy inside toolgym's frame, plus few-shot demonstrations)
goes in a file under ``candidates/``, tool descriptions into the agent config.
Each evaluation is a run directory under ``evals/`` whose name is a digest of
the candidate, the task ids and the trials, so

* every evaluation's rollouts can be read by the report, judges and dataset
  tools like any run;
* an evaluation asked for again (GEPA re-evaluates a parent on its minibatch,
  and the seed on resume) is read back, not re-run; one cut short by a kill
  resumes with only its missing rollouts.

All evaluations run on one background event loop and share one endpoint
pool, so concurrent evaluations (``batch_evaluate``) respect per-endpoint
limits together. The ledger counts rollouts actually run and what they cost.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from toolgym.agents._prompts import agent_system_prompt
from toolgym.errors import ConfigError, ToolgymError
from toolgym.messages import Usage
from toolgym.models._base import ModelConfig
from toolgym.models._retry import EndpointPool
from toolgym.optimize._feedback import rollout_feedback
from toolgym.prompts._pack import PromptPack, find_prompt_pack, load_prompt_pack
from toolgym.runner._config import RunConfig
from toolgym.runner._results import RolloutResult
from toolgym.runner._run import RunEvents, execute_run
from toolgym.runner._store import RESULTS, read_results, write_text_atomic

__all__ = ["COMPONENT_KINDS", "EvalLoop", "Evaluation", "Evaluator", "Ledger"]

T = TypeVar("T")

#: Component names a candidate may hold (``tool:<name>`` for tool descriptions).
COMPONENT_KINDS = ("system_prompt", "policy", "few_shot", "tool:<name>")


class EvalLoop:
    """An asyncio event loop in a background thread (GEPA itself is synchronous)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="toolgym-optimize",
                                        daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the loop and wait for its result (from another thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


def candidate_digest(candidate: dict[str, str]) -> str:
    """A short stable digest of a candidate's texts."""
    text = json.dumps(candidate, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class Ledger:
    """Rollouts run and usage, per role, for the whole optimization (this process)."""

    rollouts: int = 0
    usage: dict[str, Usage] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, rollouts: int, usage: dict[str, Usage]) -> None:
        """Count newly run rollouts (or reflection calls, with ``rollouts=0``)."""
        with self.lock:
            self.rollouts += rollouts
            for role, u in usage.items():
                self.usage[role] = self.usage[role] + u if role in self.usage else u

    @property
    def cost(self) -> float:
        """Dollars spent so far (unknown prices count as 0)."""
        return sum(u.cost or 0.0 for u in self.usage.values())


@dataclass
class Evaluation:
    """One candidate evaluated on a batch of tasks."""

    eval_id: str
    run_dir: Path
    task_ids: list[str]
    #: Per task id: the mean score over its trials, in [0, 1].
    scores: dict[str, float]
    #: Per task id: the task's rollouts (all trials).
    results: dict[str, list[RolloutResult]]
    #: Per task id: written feedback (ground truth, plus the judge's when one scores).
    feedback: dict[str, str]
    #: Rollouts this call actually ran (0 when read back).
    ran: int


class OptimizeError(ToolgymError):
    """The optimization could not go on (the message says why and how to resume)."""


def _unscored(results: list[RolloutResult], score: str) -> tuple[list[RolloutResult], str]:
    """Rollouts whose score would be a made-up 0, and why (empty when there are none).

    Infrastructure errors (a model, component or judge failure) say nothing about
    a candidate, and a reward that waits for a judge (``judge_needed``) is unknown:
    scoring either as 0 would steer the search by failures of the set-up.
    """
    infra = [r for r in results if r.infra_error]
    if infra:
        return infra, "ended on infrastructure errors"
    if score == "reward":
        waiting = [r for r in results if r.reward is None]
        if waiting:
            return waiting, ("have no reward: their NL assertions need a judge (give "
                             "--judge-model, or --score rater|graph)")
    return [], ""


def run_prompt_pack(run: RunConfig) -> PromptPack | None:
    """The prompt pack a run uses (its own, or its data directory's), if any."""
    path = (run.prompt_pack.path if run.prompt_pack is not None
            else find_prompt_pack(run.domain.data_dir))
    return load_prompt_pack(path) if path else None


def agent_frame(run: RunConfig) -> Callable[[str], str]:
    """policy -> the system prompt the run's agent gets: its prompt pack's frame, if the
    pack has one, else toolgym's."""
    pack = run_prompt_pack(run)
    if pack is not None and pack.agent_template is not None:
        return pack.agent_system_prompt
    return agent_system_prompt


class Evaluator:
    """Runs evaluations of candidates (see the module docstring).

    Args:
        base: The run config every evaluation starts from (domain, models, user...).
        out: The optimization directory.
        trials: Trials per task in an evaluation.
        score: ``reward`` (ground truth), or a judge name (``rater``, ``graph``...).
        judge_model: The judge model when ``score`` is a judge that needs one.
        ledger: Where rollouts and usage are counted.
    """

    def __init__(self, base: RunConfig, out: Path, trials: int, score: str,
                 judge_model: ModelConfig | None, ledger: Ledger) -> None:
        self.base = base
        self.out = out
        self.trials = trials
        self.score = score
        self.judge_model = judge_model
        self.ledger = ledger
        self.pool: EndpointPool | None = None  # made on the loop, at first use
        self._policy: str | None = None
        self._frame = agent_frame(base)

    def _policy_text(self) -> str:
        if self._policy is None:
            from toolgym.domains import load_domain

            d = self.base.domain
            self._policy = load_domain(d.name, data_dir=d.data_dir,
                                       tasks_file=d.tasks_file).policy
        return self._policy

    def system_prompt(self, candidate: dict[str, str]) -> str | None:
        """The system prompt a candidate gives the agent (None: the domain's default)."""
        if "system_prompt" in candidate:
            text = candidate["system_prompt"]
        elif "policy" in candidate:
            text = self._frame(candidate["policy"])
        elif "few_shot" in candidate:
            text = self._frame(self._policy_text())
        else:
            return None
        if candidate.get("few_shot"):
            text = f"{text.rstrip()}\n\n# Examples\n{candidate['few_shot'].strip()}\n"
        return text

    def config_for(self, candidate: dict[str, str], task_ids: list[str], trials: int
                   ) -> RunConfig:
        """The run config of one evaluation."""
        unknown = [k for k in candidate if k not in ("system_prompt", "policy", "few_shot")
                   and not k.startswith("tool:")]
        if unknown:
            raise ConfigError(f"unknown candidate component(s) {', '.join(unknown)} "
                              f"(known: {', '.join(COMPONENT_KINDS)})")
        data = self.base.model_dump()
        prompt = self.system_prompt(candidate)
        if prompt is not None:
            path = self.out / "candidates" / candidate_digest(candidate) / "system_prompt.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text(encoding="utf-8") != prompt:
                write_text_atomic(path, prompt)
            data["agent"]["system_prompt_file"] = str(path.resolve())
        data["agent"]["tool_descriptions"] = {k.removeprefix("tool:"): v
                                              for k, v in candidate.items()
                                              if k.startswith("tool:")}
        data.update(task_ids=sorted(task_ids), tasks=None, split=None, shuffle=False,
                    trials=trials)
        return RunConfig.model_validate(data)

    def eval_dir(self, candidate: dict[str, str], task_ids: list[str], trials: int,
                 kind: str = "evals") -> Path:
        """Where one evaluation's run lives (a digest of what it evaluates)."""
        key = json.dumps({"candidate": candidate, "tasks": sorted(task_ids), "trials": trials,
                          "score": self.score}, sort_keys=True, ensure_ascii=False)
        return self.out / kind / hashlib.sha256(key.encode()).hexdigest()[:16]

    async def evaluate(self, candidate: dict[str, str], task_ids: list[str], *,
                       trials: int | None = None, kind: str = "evals") -> Evaluation:
        """Evaluate ``candidate`` on ``task_ids`` (read back when already done)."""
        trials = trials or self.trials
        if self.pool is None:
            self.pool = EndpointPool()
        run_dir = self.eval_dir(candidate, task_ids, trials, kind)
        config = self.config_for(candidate, task_ids, trials)
        before = {r.key for r in read_results(run_dir / RESULTS) if not r.infra_error}
        # Infrastructure errors are never final: an evaluation asked for again (on
        # --resume) reruns them.
        data = await execute_run(config, run_dir, RunEvents(), install_signal_handlers=False,
                                 retry_errors=True, preflight=False, pool=self.pool)
        new = [r for r in data.results if r.key not in before]
        usage: dict[str, Usage] = {}
        for r in new:
            for role, u in r.usage.items():
                usage[role] = usage[role] + u if role in usage else u
        bad, why = _unscored(data.results, self.score)
        if bad:
            self.ledger.add(len(new), usage)
            first = bad[0]
            detail = f"; first: task {first.task_id} trial {first.trial}: {first.error}" \
                if first.error else ""
            raise OptimizeError(
                f"evaluation {run_dir.name}: {len(bad)} of {len(data.results)} rollouts "
                f"{why}{detail}. The finished rollouts are kept; fix the cause, then run "
                f"toolgym optimize --resume {self.out}")
        judge_feedback: dict[tuple[str, int], tuple[float, str]] = {}
        try:
            if self.score != "reward":
                judge_feedback = await self._judge(run_dir, usage)
        finally:
            self.ledger.add(len(new), usage)
        by_task: dict[str, list[RolloutResult]] = {t: [] for t in task_ids}
        for r in data.results:
            by_task.setdefault(r.task_id, []).append(r)
        scores: dict[str, float] = {}
        feedback: dict[str, str] = {}
        for task_id, rs in by_task.items():
            rs.sort(key=lambda r: r.trial)
            values = [judge_feedback[r.key][0] if self.score != "reward" and r.key in
                      judge_feedback else (r.reward or 0.0) for r in rs]
            scores[task_id] = sum(values) / len(values) if values else 0.0
            worst = min(rs, key=lambda r: r.reward or 0.0) if rs else None
            feedback[task_id] = "" if worst is None else rollout_feedback(
                worst, judge_feedback.get(worst.key, (0.0, ""))[1] or None)
        return Evaluation(eval_id=run_dir.name, run_dir=run_dir, task_ids=list(task_ids),
                          scores=scores, results=by_task, feedback=feedback, ran=len(new))

    async def _judge(self, run_dir: Path, usage: dict[str, Usage]
                     ) -> dict[tuple[str, int], tuple[float, str]]:
        from toolgym.judges._scoring import read_scores, score_run_async

        before = {s.key for s in read_scores(run_dir, self.score)}
        scoring = await score_run_async(run_dir, self.score, model=self.judge_model,
                                        retry_errors=True, preflight=False)
        for s in scoring.scores:
            if s.key not in before:
                usage["judge"] = usage["judge"] + s.usage if "judge" in usage else s.usage
        failed = [s for s in scoring.scores if s.success is None or s.score is None]
        if failed:
            first = failed[0]
            raise OptimizeError(
                f"evaluation {run_dir.name}: the {self.score} judge gave no score for "
                f"{len(failed)} of {len(scoring.scores)} rollouts (first: task "
                f"{first.task_id} trial {first.trial}: {first.error or 'no verdict'}). The "
                f"finished rollouts are kept; fix the cause, then run toolgym optimize "
                f"--resume {self.out}")
        out: dict[tuple[str, int], tuple[float, str]] = {}
        for s in scoring.scores:
            if s.details.get("scale") == 5 and s.score is not None:
                value = (s.score - 1.0) / 4.0
            else:
                value = 1.0 if s.success else 0.0
            out[s.key] = (max(0.0, min(1.0, value)), s.feedback or (s.error or ""))
        return out
