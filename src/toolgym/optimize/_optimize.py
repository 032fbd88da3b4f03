"""``toolgym optimize``: GEPA prompt optimization over toolgym evaluations.

The loop: GEPA picks a parent candidate and a minibatch of train tasks;
toolgym runs the parent (and later the proposed child) on it through the
ordinary rollout engine, and builds feedback from ground truth (and judges);
the reflection model rewrites a component; an accepted child is scored on the
validation tasks. At the end the seed and the best candidate are both run on
the held-out test tasks with K trials, and compared paired by task.

The optimization directory::

    optimize_config.json   what is optimized (a rerun or --resume checks it)
    gepa/                  GEPA's own state (resume continues from it)
    evals/<digest>/        one ordinary run per (candidate, task batch)
    test/<digest>/         the seed's and the best candidate's test runs
    candidates/<digest>/   each candidate's system prompt file
    reflection_log.jsonl   every reflection call (ok, or why it was rejected), with usage
    progress.json          iterations and the best validation score so far
    lineage.json           candidates, parents, scores, the feedback behind each
    best_system_prompt.txt the best candidate's system prompt (and best_candidate.json)
    optimize_summary.json  seed vs best on validation and test, rollouts, usage

The summary's rollouts and usage are counted from this directory, so after a
resume they cover every process that worked on it.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from toolgym import __version__
from toolgym.agents._prompts import agent_system_prompt
from toolgym.errors import ConfigError, MissingDependencyError
from toolgym.messages import Usage
from toolgym.models._base import ModelConfig
from toolgym.optimize._evaluate import (
    EvalLoop,
    Evaluation,
    Evaluator,
    Ledger,
    OptimizeError,
)
from toolgym.runner._config import CONNECTION_FIELDS, RunConfig, diff_configs
from toolgym.runner._store import RESULTS, write_json_atomic, write_text_atomic

__all__ = [
    "GEPA_VERSION",
    "OptimizeConfig",
    "OptimizeError",
    "OptimizeResult",
    "estimate",
    "optimize",
    "resolve_splits",
]

#: The gepa release this adapter is written and tested against.
GEPA_VERSION = "0.1.4"
CONFIG_FILE = "optimize_config.json"
#: Iterations and the best validation score so far, kept across resumes.
PROGRESS_FILE = "progress.json"
SUMMARY_FILE = "optimize_summary.json"


class OptimizeConfig(BaseModel):
    """Everything an optimization needs; saved as ``optimize_config.json``."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    run: RunConfig = Field(description="The run every evaluation starts from.")
    components: list[str] = Field(
        default_factory=lambda: ["system_prompt"],
        description="Text components optimized: system_prompt, policy, few_shot, tool:<name>.")
    train_ids: list[str] = Field(description="Train tasks (reflection minibatches).")
    val_ids: list[str] = Field(description="Pareto-validation tasks.")
    test_ids: list[str] = Field(description="Held-out test tasks (seed vs best at the end).")
    trials_per_task: int = Field(1, ge=1, description="Rollouts averaged per task in an "
                                 "evaluation.")
    test_trials: int = Field(1, ge=1, description="Trials per task of the test evaluation.")
    budget: int = Field(ge=1, description="Rollouts the optimization may run (tests apart); "
                        "may overshoot by one iteration.")
    minibatch_size: int = Field(3, ge=1, description="Train tasks per reflection minibatch.")
    reflection: ModelConfig = Field(description="The reflection model.")
    score: str = Field("reward", description="reward (ground truth) or a judge name.")
    score_model: ModelConfig | None = Field(None, description="The judge model for --score.")
    module_selector: str = Field("round_robin", description="GEPA's component selector.")
    use_merge: bool = Field(False, description="GEPA's merge proposals.")
    transcript_chars: int = Field(6000, ge=200, description="Trajectory budget per record.")
    alarm_after: int = Field(5, ge=1, description="Warn after this many iterations with no "
                             "accepted candidate.")
    max_reflection_failures: int = Field(
        3, ge=1, description="Stop after this many failed reflections in a row.")
    seed_system_prompt: str | None = Field(
        None, description="Starting system prompt (default: the policy in toolgym's frame).")
    few_shot: str = Field("", description="Starting few-shot demonstrations.")

    def identity(self) -> dict[str, Any]:
        """What a resume must not change (the budget may grow; endpoints may move)."""
        data = self.model_dump(mode="json")
        data.pop("budget", None)
        data["run"] = self.run.identity()
        for key in ("reflection", "score_model"):
            if isinstance(data.get(key), dict):
                for f in CONNECTION_FIELDS:
                    data[key].pop(f, None)
        return data


@dataclass
class OptimizeResult:
    """The outcome of :func:`optimize`."""

    out: Path
    best_candidate: dict[str, str]
    summary: dict[str, Any]
    lineage: list[dict[str, Any]]


def resolve_splits(domain: Any, *, train_split: str | None = None,
                   val_split: str | None = None, test_split: str | None = None,
                   train_ids: list[str] | None = None, val_ids: list[str] | None = None,
                   test_ids: list[str] | None = None, val_frac: float | None = None,
                   seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    """The train, validation and test task ids, checked disjoint and non-empty.

    Each set comes from an explicit id list or a named split; ``val_frac``
    carves a seeded validation set out of the train set when the data has no
    validation split (tau2's airline data has only train and test).
    """
    known = {t.id for t in domain.tasks}

    def pick(ids: list[str] | None, split: str | None, what: str) -> list[str] | None:
        if ids:
            missing = [i for i in ids if i not in known]
            if missing:
                raise ConfigError(f"{what} task ids not in the domain: {', '.join(missing[:5])}")
            return list(dict.fromkeys(ids))
        if split:
            if split not in domain.splits:
                names = ", ".join(sorted(domain.splits)) or "none"
                raise ConfigError(f"unknown {what} split {split!r} (known: {names})")
            return [t for t in domain.splits[split] if t in known]
        return None

    train = pick(train_ids, train_split, "train")
    val = pick(val_ids, val_split, "validation")
    test = pick(test_ids, test_split, "test")
    if train is None:
        raise ConfigError("give the train tasks: --train-split NAME or --train-ids a,b,...")
    if test is None:
        raise ConfigError("give held-out test tasks: --test-split NAME or --test-ids a,b,...")
    if val is None:
        if not val_frac:
            raise ConfigError("give validation tasks (--val-split, --val-ids) or carve them out "
                              "of the train tasks with --val-frac F")
        if not 0 < val_frac < 1:
            raise ConfigError(f"--val-frac must be in (0, 1), got {val_frac}")
        shuffled = sorted(train)
        random.Random(seed).shuffle(shuffled)
        n_val = max(1, round(len(shuffled) * val_frac))
        val, train = sorted(shuffled[:n_val]), [t for t in train if t not in shuffled[:n_val]]
    for a_name, a, b_name, b in (("train", train, "validation", val), ("train", train, "test",
                                  test), ("validation", val, "test", test)):
        shared = sorted(set(a) & set(b))
        if shared:
            raise ConfigError(f"the {a_name} and {b_name} tasks must be disjoint; both hold "
                              f"{', '.join(shared[:5])}" + (" ..." if len(shared) > 5 else ""))
    for name, ids in (("train", train), ("validation", val), ("test", test)):
        if not ids:
            raise ConfigError(f"no {name} tasks")
    return train, val, test


def estimate(cfg: OptimizeConfig, domain: Any) -> dict[str, Any]:
    """Rollouts and tokens an optimization will spend, before it starts.

    GEPA spends |V|·K on the seed's validation score, then per iteration 2·b·K
    (parent and child on a minibatch) plus |V|·K when the child is accepted.
    Token figures are rough: prompt size (system prompt and tool schemas, about
    four characters a token) times the expected agent steps of a task.
    """
    k, b, v = cfg.trials_per_task, min(cfg.minibatch_size, len(cfg.train_ids)), len(cfg.val_ids)
    seed_val = v * k
    per_iteration = 2 * b * k
    min_budget = seed_val + per_iteration + v * k
    iterations = max(0, (cfg.budget - seed_val) // (per_iteration + v * k // 2 or 1))
    tasks = {t.id: t for t in domain.tasks}
    steps = [len(tasks[t].gold_actions) + 2 for t in cfg.train_ids if t in tasks] or [3]
    mean_steps = sum(steps) / len(steps)
    prompt_chars = len(cfg.seed_system_prompt or agent_system_prompt(domain.policy)) + len(
        json.dumps(domain.openai_tools()))
    per_rollout = mean_steps * (prompt_chars / 4 + 150 * mean_steps / 2)
    rollouts = min(cfg.budget + per_iteration + v * k, seed_val + iterations * (
        per_iteration + v * k))
    test = 2 * len(cfg.test_ids) * cfg.test_trials
    local = {"oracle", "scripted"}
    tokens = {
        "agent": 0 if cfg.run.agent.model.provider in local else round(per_rollout * (
            rollouts + test)),
        "user": 0 if cfg.run.user.model is None or cfg.run.user.model.provider in local
        else round(mean_steps * 400 * (rollouts + test)),
        "reflection": 0 if cfg.reflection.provider in local else round(
            iterations * (prompt_chars / 4 + cfg.minibatch_size * cfg.transcript_chars / 4)),
    }
    return {"seed_validation_rollouts": seed_val, "rollouts_per_iteration": per_iteration,
            "validation_rollouts_per_accepted": v * k, "min_budget": min_budget,
            "iterations_estimate": iterations, "rollouts_estimate": rollouts,
            "test_rollouts": test, "tokens_estimate": tokens}


def _seed_candidate(cfg: OptimizeConfig, domain: Any) -> dict[str, str]:
    """The texts the run would send as they are: its prompt pack's where it has one."""
    from toolgym.optimize._evaluate import agent_frame, run_prompt_pack
    from toolgym.runner._run import _tools

    tools = {t["function"]["name"]: t["function"].get("description") or ""
             for t in _tools(domain, {}, run_prompt_pack(cfg.run))}
    out: dict[str, str] = {}
    for c in cfg.components:
        if c == "system_prompt":
            out[c] = cfg.seed_system_prompt or agent_frame(cfg.run)(domain.policy)
        elif c == "policy":
            out[c] = domain.policy
        elif c == "few_shot":
            out[c] = cfg.few_shot
        elif c.startswith("tool:") and c.removeprefix("tool:") in tools:
            out[c] = tools[c.removeprefix("tool:")]
        else:
            raise ConfigError(f"unknown component {c!r} (system_prompt, policy, few_shot, or "
                              f"tool:<name> with a tool of {domain.name!r})")
    if "system_prompt" in out and "policy" in out:
        raise ConfigError("optimize either system_prompt (which holds the policy) or policy, "
                          "not both")
    return out


def _check_gradable(cfg: OptimizeConfig, domain: Any) -> None:
    """Refuse, before anything runs, tasks whose reward would wait for a missing judge."""
    if cfg.score != "reward" or cfg.run.judge is not None:
        return
    from toolgym.tasks import RewardType

    ids = set(cfg.train_ids) | set(cfg.val_ids) | set(cfg.test_ids)
    waiting = [t.id for t in domain.tasks if t.id in ids and t.evaluation_criteria
               and t.evaluation_criteria.nl_assertions
               and RewardType.NL_ASSERTION in t.evaluation_criteria.reward_basis]
    if waiting:
        raise ConfigError(
            f"{len(waiting)} of the {len(ids)} tasks (e.g. {waiting[0]}) are graded on NL "
            f"assertions, which need a judge: give --judge-model, or score candidates with "
            f"--score rater|graph")


def _disk_usage(out: Path) -> tuple[dict[str, int], dict[str, Usage], dict[str, int]]:
    """What the optimization directory says was run, over every process that worked on it.

    Returns:
        Rollouts by kind (``evals``, ``test``: every line, retried ones included),
        usage by role (rollouts, judges' scorings, reflection calls) and the
        reflection calls and failures.
    """
    from toolgym.judges._scoring import SCORES_DIR

    rollouts = {"evals": 0, "test": 0}
    usage: dict[str, Usage] = {}

    def add(role: str, data: Any) -> None:
        if not isinstance(data, dict):
            return
        try:
            u = Usage.model_validate(data)
        except ValueError:
            return
        usage[role] = usage[role] + u if role in usage else u

    def records(path: Path) -> Any:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                yield json.loads(line)
            except ValueError:  # a torn last line
                continue

    for kind in rollouts:
        for results in sorted((out / kind).glob(f"*/{RESULTS}")):
            for record in records(results):
                rollouts[kind] += 1
                for role, u in (record.get("usage") or {}).items():
                    add(role, u)
            for scores in sorted((results.parent / SCORES_DIR).glob("*.jsonl")):
                for record in records(scores):
                    add("judge", record.get("usage"))
    reflection = {"calls": 0, "failures": 0}
    log_path = out / "reflection_log.jsonl"
    if log_path.exists():
        for record in records(log_path):
            reflection["calls"] += 1
            reflection["failures"] += not record.get("ok")
            add("reflection", record.get("usage"))
    return rollouts, usage, reflection


def _count_rollouts(out: Path) -> int:
    """Rollouts already on disk (each run once), in evaluation runs."""
    n = 0
    for results in (out / "evals").glob(f"*/{RESULTS}"):
        n += results.read_bytes().count(b"\n")
    return n


def _check_run_config(cfg: OptimizeConfig) -> None:
    """Build what every evaluation builds (domain, models, agent, user) once, so a bad
    strategy argument or model setting fails before the directory is written."""
    from toolgym.runner._run import RunEvents, _prepare, resolve_run_config

    _prepare(resolve_run_config(cfg.run), RunEvents())


def _check_or_write(out: Path, cfg: OptimizeConfig) -> None:
    path = out / CONFIG_FILE
    if path.exists():
        try:
            old = OptimizeConfig.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not a readable optimization config ({exc})") from None
        changes = diff_configs(old.identity(), cfg.identity())
        if changes:
            raise ConfigError(f"{out} holds another optimization; refusing to resume. Changed: "
                              + "; ".join(changes[:8]) + ". Use another --out.")
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, cfg.model_dump(mode="json"))


class _Progress:
    """GEPA callbacks: progress lines, the alarm, and the feedback behind each candidate."""

    def __init__(self, cfg: OptimizeConfig, ledger: Ledger, reflection: Any, out: Path,
                 log: Callable[[str], None]) -> None:
        self.cfg, self.ledger, self.reflection, self.out, self.log = (cfg, ledger, reflection,
                                                                      out, log)
        self.iterations = 0
        self.accepted = 0
        self.since_accept = 0
        self.best_val: float | None = None
        self._pending: dict[str, Any] | None = None
        # Counters of earlier processes on this directory (a resume continues them).
        with contextlib.suppress(OSError, ValueError, TypeError):
            saved = json.loads((out / PROGRESS_FILE).read_text(encoding="utf-8"))
            self.iterations = int(saved.get("iterations") or 0)
            best = saved.get("best_val")
            self.best_val = float(best) if best is not None else None

    def _save(self) -> None:
        with contextlib.suppress(OSError):
            write_json_atomic(self.out / PROGRESS_FILE, {"iterations": self.iterations,
                                                         "best_val": self.best_val})

    def on_valset_evaluated(self, event: dict[str, Any]) -> None:
        score = float(event["average_score"])
        self.best_val = score if self.best_val is None else max(self.best_val, score)

    def on_proposal_start(self, event: dict[str, Any]) -> None:
        self._pending = {"iteration": event["iteration"], "components": event["components"],
                         "feedback": [r.get("Feedback") for recs in
                                      event["reflective_dataset"].values() for r in recs]}

    def on_candidate_accepted(self, event: dict[str, Any]) -> None:
        self.accepted += 1
        self.since_accept = -1  # reset by on_iteration_end
        record = {**(self._pending or {}), "candidate": event["new_candidate_idx"],
                  "minibatch_score": event["new_score"]}
        with open(self.out / "lineage_log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    def on_iteration_end(self, event: dict[str, Any]) -> None:
        self.iterations += 1
        self.since_accept += 1
        self._save()
        self.log(f"iteration {event['iteration']}: "
                 + ("accepted" if event["proposal_accepted"] else "no improvement")
                 + f" | best val {_fmt(self.best_val)} | rollouts {self.ledger.rollouts}/"
                 f"{self.cfg.budget} | cost ${self.ledger.cost:.4f}")
        if self.since_accept == self.cfg.alarm_after:
            self.log(f"warning: {self.since_accept} iterations without an accepted candidate "
                     f"({self.reflection.failures} of {self.reflection.calls} reflections "
                     "failed; see reflection_log.jsonl)")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


class _Logger:
    """GEPA's log lines go to a file (GEPA's default logger tees stdout process-wide)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def log(self, message: str) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(str(message).rstrip("\n") + "\n")


def optimize(cfg: OptimizeConfig, out: str | Path, *, dry_run: bool = False,
             preflight: bool = True, log: Callable[[str], None] = print) -> OptimizeResult:
    """Optimize a candidate's texts with GEPA (see the module docstring).

    Args:
        cfg: The optimization.
        out: The optimization directory (rerun with it to resume).
        dry_run: Print the estimate and stop.
        preflight: Check every model endpoint first.
        log: Receives progress lines.

    Raises:
        MissingDependencyError: gepa is not installed (``pip install 'toolgym[optimize]'``).
        OptimizeError: the reflection model keeps failing (after saving the state).
    """
    try:
        import gepa
    except ImportError:
        raise MissingDependencyError("gepa", "optimize") from None
    from toolgym.domains import load_domain
    from toolgym.runner._run import import_plugins

    out = Path(out)
    import_plugins(cfg.run.plugins)
    d = cfg.run.domain
    domain = load_domain(d.name, data_dir=d.data_dir, tasks_file=d.tasks_file)
    seed_candidate = _seed_candidate(cfg, domain)
    _check_gradable(cfg, domain)
    _check_run_config(cfg)
    est = estimate(cfg, domain)
    log(f"optimizing {', '.join(seed_candidate)} on {len(cfg.train_ids)} train, "
        f"{len(cfg.val_ids)} validation and {len(cfg.test_ids)} test tasks, "
        f"{cfg.trials_per_task} trial(s) per task; budget {cfg.budget} rollouts")
    log(f"estimate: {est['seed_validation_rollouts']} rollouts for the seed's validation "
        f"score, {est['rollouts_per_iteration']} per iteration (+"
        f"{est['validation_rollouts_per_accepted']} when a candidate is accepted), about "
        f"{est['iterations_estimate']} iterations, then {est['test_rollouts']} test rollouts; "
        f"the minimum budget for one accepted iteration is {est['min_budget']}; "
        f"tokens per role (rough): {est['tokens_estimate']}")
    if cfg.budget < est["min_budget"]:
        log(f"warning: the budget ({cfg.budget}) is below the minimum for one accepted "
            f"iteration ({est['min_budget']} rollouts)")
    if dry_run:
        return OptimizeResult(out, seed_candidate, {"estimate": est, "dry_run": True}, [])
    _check_or_write(out, cfg)
    if preflight:
        _preflight(cfg)
    done, spent, _ = _disk_usage(out)
    ledger = Ledger(rollouts=done["evals"], usage=spent)
    loop = EvalLoop()
    started = time.monotonic()
    try:
        return _run(cfg, out, domain, seed_candidate, est, ledger, loop, gepa, log, started)
    except KeyboardInterrupt:
        _cancel_all(loop)
        raise
    finally:
        loop.close()


def _run(cfg: OptimizeConfig, out: Path, domain: Any, seed_candidate: dict[str, str],
         est: dict[str, Any], ledger: Ledger, loop: EvalLoop, gepa: Any,
         log: Callable[[str], None], started: float) -> OptimizeResult:
    from toolgym.models._retry import EndpointPool, build_model
    from toolgym.optimize._adapter import TaskIds, ToolgymAdapter
    from toolgym.optimize._reflection import ReflectionLM

    evaluator = Evaluator(cfg.run, out, cfg.trials_per_task, cfg.score, cfg.score_model,
                          ledger)
    evaluator.pool = EndpointPool()
    reflection_model = build_model(cfg.reflection, pool=evaluator.pool)
    reflection = ReflectionLM(reflection_model, loop, ledger, out / "reflection_log.jsonl")
    tasks = {t.id: t for t in domain.tasks}
    adapter = ToolgymAdapter(evaluator, loop, tasks, cfg.transcript_chars)
    progress = _Progress(cfg, ledger, reflection, out, log)

    def budget_spent(state: Any) -> bool:
        return ledger.rollouts >= cfg.budget

    def reflection_broken(state: Any) -> bool:
        return reflection.consecutive_failures >= cfg.max_reflection_failures

    result = gepa.optimize(
        seed_candidate=seed_candidate,
        trainset=TaskIds(cfg.train_ids),
        valset=TaskIds(cfg.val_ids),
        adapter=adapter,
        reflection_lm=reflection,
        reflection_minibatch_size=min(cfg.minibatch_size, len(cfg.train_ids)),
        candidate_selection_strategy="pareto",
        module_selector=cfg.module_selector,
        use_merge=cfg.use_merge,
        stop_callbacks=[budget_spent, reflection_broken],
        logger=_Logger(out / "gepa_log.txt"),
        run_dir=str(out / "gepa"),
        callbacks=[progress],
        track_best_outputs=False,
        cache_evaluation=False,
        display_progress_bar=False,
        seed=cfg.run.seed,
        raise_on_exception=True,
    )
    if reflection_broken(None):
        raise OptimizeError(
            f"the reflection model failed {reflection.consecutive_failures} times in a row "
            f"(last: {reflection.last_error}); the state is saved: fix it, then rerun "
            f"toolgym optimize --resume {out}")
    best = dict(result.best_candidate)
    best_idx = int(result.best_idx)
    log(f"GEPA: {result.num_candidates} candidates, best #{best_idx} (val "
        f"{result.val_aggregate_scores[best_idx]:.3f}, seed {result.val_aggregate_scores[0]:.3f})"
        f"; testing the seed and the best on {len(cfg.test_ids)} held-out tasks")
    async def both() -> tuple[Evaluation, Evaluation]:
        import asyncio

        if best == seed_candidate:  # nothing better was found: one test run serves both
            ev = await evaluator.evaluate(seed_candidate, cfg.test_ids, trials=cfg.test_trials,
                                          kind="test")
            return ev, ev
        seed_ev, best_ev = await asyncio.gather(
            evaluator.evaluate(seed_candidate, cfg.test_ids, trials=cfg.test_trials,
                               kind="test"),
            evaluator.evaluate(best, cfg.test_ids, trials=cfg.test_trials, kind="test"))
        return seed_ev, best_ev

    seed_test, best_test = loop.run(both())
    lineage = _lineage(result, out)
    summary = _summary(cfg, result, seed_test, best_test, est, time.monotonic() - started,
                       progress)
    _write_outputs(out, evaluator, best, lineage, summary)
    return OptimizeResult(out, best, summary, lineage)


def _cancel_all(loop: EvalLoop) -> None:
    import asyncio

    def cancel() -> None:
        for t in asyncio.all_tasks(loop.loop):
            t.cancel()

    loop.loop.call_soon_threadsafe(cancel)


def _preflight(cfg: OptimizeConfig) -> None:
    import asyncio

    from toolgym.models._preflight import PreflightError, check_endpoints

    roles = {"agent": cfg.run.agent.model}
    if cfg.run.user.model is not None:
        roles["user"] = cfg.run.user.model
    if cfg.run.judge is not None:
        roles["judge"] = cfg.run.judge
    if cfg.score_model is not None:
        roles["score judge"] = cfg.score_model
    roles["reflection"] = cfg.reflection
    failed = [c for c in asyncio.run(check_endpoints(roles)) if not c.ok]
    if failed:
        raise PreflightError("; ".join(c.line() for c in failed)
                             + " (nothing was run; --no-preflight skips this check)")


def _lineage(result: Any, out: Path) -> list[dict[str, Any]]:
    feedback: dict[int, dict[str, Any]] = {}
    log_path = out / "lineage_log.jsonl"
    if log_path.exists():
        for line in log_path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            feedback[int(record.get("candidate", -1))] = record
    lineage = []
    for i, cand in enumerate(result.candidates):
        parents = [p for p in result.parents[i] if p is not None]
        parent = result.candidates[parents[0]] if parents else None
        changed = [k for k in cand if parent is None or parent.get(k) != cand[k]] \
            if parent is not None else []
        lineage.append({
            "index": i, "parents": parents,
            "val_score": result.val_aggregate_scores[i],
            "components": dict(cand), "changed": changed,
            "iteration": feedback.get(i, {}).get("iteration"),
            "feedback": feedback.get(i, {}).get("feedback", []),
            "diff": {k: "".join(difflib.unified_diff(
                _lines((parent or {}).get(k, "")), _lines(cand[k]), "parent",
                f"candidate {i}")) for k in changed},
        })
    return lineage


def _lines(text: str) -> list[str]:
    return (text if text.endswith("\n") else text + "\n").splitlines(keepends=True)


def _test_stats(ev: Evaluation) -> dict[str, Any]:
    from toolgym.evaluation._metrics import summarize

    results = [r for rs in ev.results.values() for r in rs]
    s = summarize(results, max((len(rs) for rs in ev.results.values()), default=1))
    return {"pass_1": s["pass_k"]["tau-bench"].get("1"), "pass_k": s["pass_k"],
            "avg_reward": s["avg_reward"],
            # Relative to the optimization directory, so it can move.
            "run_dir": f"{ev.run_dir.parent.name}/{ev.run_dir.name}"}


def _summary(cfg: OptimizeConfig, result: Any, seed_test: Evaluation, best_test: Evaluation,
             est: dict[str, Any], wall_s: float, progress: _Progress) -> dict[str, Any]:
    from toolgym.evaluation._metrics import compare_runs

    a = [r for rs in seed_test.results.values() for r in rs]
    b = [r for rs in best_test.results.values() for r in rs]
    paired = compare_runs(a, b, seed=cfg.run.seed)
    # Everything counted from the directory, so a resumed optimization reports the
    # whole of it: every rollout run (test ones included), every call per role.
    done, spent, reflections = _disk_usage(progress.out)
    usage = {role: {"calls": u.calls, "prompt_tokens": u.prompt_tokens,
                    "completion_tokens": u.completion_tokens,
                    "cost": u.cost if u.calls else 0.0} for role, u in sorted(spent.items())}
    best_idx = int(result.best_idx)
    return {
        "seed": {"val": result.val_aggregate_scores[0], "test": _test_stats(seed_test)},
        "best": {"val": result.val_aggregate_scores[best_idx], "test": _test_stats(best_test),
                 "index": best_idx},
        "test_delta": {"mean": paired.diff, "ci": list(paired.diff_ci) if paired.diff_ci
                       else None, "p_value": paired.p_value, "test": paired.test,
                       "tasks": paired.n_tasks},
        "rollouts": done["evals"] + done["test"],
        "optimization_rollouts": done["evals"],
        "budget": cfg.budget,
        "gepa_metric_calls": int(result.total_metric_calls),
        "iterations": progress.iterations,
        "accepted": max(0, result.num_candidates - 1),
        "candidates": int(result.num_candidates),
        "reflection_calls": reflections["calls"],
        "reflection_failures": reflections["failures"],
        "usage": usage,
        "wall_s": round(wall_s, 2),
        "estimate": est,
        "gepa_version": GEPA_VERSION,
        "toolgym_version": __version__,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _write_outputs(out: Path, evaluator: Evaluator, best: dict[str, str],
                   lineage: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    prompt = evaluator.system_prompt(best)
    if prompt is None:
        prompt = agent_system_prompt(evaluator._policy_text())
    write_text_atomic(out / "best_system_prompt.txt", prompt)
    write_json_atomic(out / "best_candidate.json", best)
    for name, text in best.items():
        if name.startswith("tool:"):
            write_text_atomic(out / f"best_{name.replace(':', '_')}.txt", text)
    write_json_atomic(out / "lineage.json", lineage)
    write_json_atomic(out / SUMMARY_FILE, summary)


def usage_total(usage: dict[str, Usage]) -> float:
    """Total cost of a usage map (unknown prices count as 0)."""
    return math.fsum(u.cost or 0.0 for u in usage.values())


def optimize_run(
    config: OptimizeConfig | None = None,
    out: str | Path | None = None,
    *,
    reflection_model: str | ModelConfig | dict[str, Any] | None = None,
    budget: int | None = None,
    components: list[str] | None = None,
    train_split: str | None = None,
    val_split: str | None = None,
    test_split: str | None = None,
    train_ids: list[str] | None = None,
    val_ids: list[str] | None = None,
    test_ids: list[str] | None = None,
    val_frac: float | None = None,
    trials_per_task: int = 1,
    test_trials: int = 4,
    minibatch_size: int = 3,
    score: str = "reward",
    score_model: str | ModelConfig | dict[str, Any] | None = None,
    dry_run: bool = False,
    preflight: bool = True,
    log: Callable[[str], None] = print,
    **run_options: Any,
) -> OptimizeResult:
    """``toolgym.optimize(...)``: optimize from keyword arguments (or a config).

    Example::

        result = toolgym.optimize(
            domain="airline", agent_model={"model": "oracle", "args": {
                "error_rate": 0.5, "heed_prompt": True}},
            reflection_model="oracle", train_split="train", test_split="test",
            val_frac=0.35, trials_per_task=2, budget=300, out="runs/opt")
        print(result.summary["test_delta"])

    Args:
        config: A complete :class:`OptimizeConfig` (then only ``out`` and the
            run-time flags apply).
        out: The optimization directory.
        reflection_model: The reflection model; ``"oracle"`` is the offline stand-in.
        budget: Rollouts the optimization may run.
        run_options: The run's options, as for :func:`toolgym.run` (``domain``,
            ``agent_model``, ``user``, ``user_model``, ``concurrency``, ``seed``...).
    """
    from toolgym.domains import load_domain
    from toolgym.runner._api import _model, build_config

    if out is None:
        raise ConfigError("give the optimization directory: out=...")
    if config is None:
        if reflection_model is None or budget is None:
            raise ConfigError("give reflection_model and budget (or a complete config)")
        if reflection_model == "oracle":
            reflection_model = ModelConfig(model="oracle", args={"role": "reflection"})
        reflection = _model(reflection_model)
        assert reflection is not None
        run = build_config(**run_options)
        d = run.domain
        domain = load_domain(d.name, data_dir=d.data_dir, tasks_file=d.tasks_file)
        train, val, test = resolve_splits(
            domain, train_split=train_split, val_split=val_split, test_split=test_split,
            train_ids=train_ids, val_ids=val_ids, test_ids=test_ids, val_frac=val_frac,
            seed=run.seed)
        config = OptimizeConfig(
            run=run, components=components or ["system_prompt"], train_ids=train,
            val_ids=val, test_ids=test, trials_per_task=trials_per_task,
            test_trials=test_trials, budget=budget, minibatch_size=minibatch_size,
            reflection=reflection, score=score, score_model=_model(score_model))
    elif run_options:
        raise TypeError("pass either a config or keyword arguments, not both")
    return optimize(config, out, dry_run=dry_run, preflight=preflight, log=log)
