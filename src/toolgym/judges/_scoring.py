"""Scoring a saved run with a judge: ``toolgym judge RUN_DIR --judge NAME``.

A scoring never touches ``results.jsonl``: each rollout's :class:`Score` is
one line of ``RUN_DIR/scores/<name>.jsonl``, appended as it is made (the same
writer, lock and torn-line rules as results), and the scoring's settings are
in ``RUN_DIR/scores/<name>.json``. Rerunning the same scoring resumes it
(only rollouts without a score are judged; ``retry_errors`` also redoes those
whose judge failed); a changed judge, model or argument is refused, while how
the model is reached (base URL, limits, timeouts) may change. The judge model
goes through the same retry layer, endpoint pool and preflight as a run, and
its usage is counted under the ``judge`` role.

When the scoring ends, ``summary.json`` gets a ``scorings`` entry for it; the
``nl`` scoring also fills in the rewards of rollouts that waited for a judge,
so the run's own metrics are recomputed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolgym import __version__
from toolgym._secrets import redact_secrets
from toolgym.errors import ConfigError, DataError
from toolgym.judges._base import JudgeContext, Score, create_judge, judge_factory
from toolgym.messages import Usage
from toolgym.models._base import ModelConfig, ModelError
from toolgym.models._oracle import refuse_oracle_judge
from toolgym.models._retry import EndpointPool, build_model, counting_retries
from toolgym.runner._config import CONNECTION_FIELDS, diff_configs
from toolgym.runner._results import RolloutResult
from toolgym.runner._store import (
    SUMMARY,
    ResultsWriter,
    load_run,
    read_records,
    write_json_atomic,
)

__all__ = [
    "SCORES_DIR",
    "ScoringEvents",
    "ScoringRun",
    "read_scores",
    "score_run",
    "score_run_async",
    "scoring_summary",
]

SCORES_DIR = "scores"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class ScoringEvents:
    """Counters a display reads while a scoring runs."""

    total: int = 0
    done: int = 0
    skipped: int = 0
    errors: int = 0
    on_score: list[Callable[[Score], None]] = field(default_factory=list)


@dataclass
class ScoringRun:
    """A finished (or resumed) scoring of a run."""

    run_dir: Path
    name: str
    scores: list[Score]
    summary: dict[str, Any]


def read_scores(run_dir: str | Path, name: str) -> list[Score]:
    """The scores of one scoring of a run (newest per rollout; corrupt lines skipped)."""
    return read_records(Path(run_dir) / SCORES_DIR / f"{name}.jsonl", Score, "score").records


def scoring_summary(scores: list[Score], judge: str) -> dict[str, Any]:
    """Counts and rates of a scoring (what summary.json and the report show)."""
    judged = [s for s in scores if s.success is not None]
    values = [s.score for s in judged if s.score is not None]
    usage = Usage()
    for s in scores:
        usage = usage + s.usage
    return {
        "judge": judge,
        "n_scored": len(judged),
        "errors": len(scores) - len(judged),
        "success_rate": (sum(bool(s.success) for s in judged) / len(judged)) if judged else None,
        "mean_score": (sum(values) / len(values)) if values else None,
        "usage": {"calls": usage.calls, "prompt_tokens": usage.prompt_tokens,
                  "completion_tokens": usage.completion_tokens,
                  "cost": usage.cost if usage.calls else 0.0},
    }


def _identity(record: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(record))
    for key in ("created_at", "toolgym_version", "changes"):
        out.pop(key, None)
    if isinstance(out.get("model"), dict):
        for key in CONNECTION_FIELDS:
            out["model"].pop(key, None)
    return out


def _check_or_write_config(path: Path, record: dict[str, Any]) -> None:
    if not path.exists():
        write_json_atomic(path, record)
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the scoring's settings ({exc})") from None
    changes = diff_configs(_identity(old), _identity(record))
    if changes:
        raise ConfigError(f"{path.parent / path.stem}.jsonl was scored with other settings; "
                          f"refusing to mix them. Changed: {'; '.join(changes)}. Use "
                          "another --name, or the original settings.")
    moved = diff_configs(old.get("model") or {}, record.get("model") or {})
    if moved:
        log = list(old.get("changes") or [])
        log.append({"at": record["created_at"], "changed": moved})
        write_json_atomic(path, {**old, "model": record["model"], "changes": log})


async def score_run_async(
    run_dir: str | Path,
    judge: str,
    *,
    model: ModelConfig | None = None,
    args: dict[str, Any] | None = None,
    name: str | None = None,
    concurrency: int = 8,
    retry_errors: bool = False,
    preflight: bool = True,
    events: ScoringEvents | None = None,
) -> ScoringRun:
    """Score every rollout of a saved run with a judge (see the module docstring).

    Args:
        run_dir: The run directory.
        judge: A registered judge name (``nl``, ``rater``, ``in-context``, ``graph``...).
        model: The judge model, for judges that call one.
        args: Judge arguments.
        name: The scoring's name (default: the judge's); one file per name.
        concurrency: Rollouts judged at once.
        retry_errors: Also rescore rollouts whose judge failed.
        preflight: Check the judge model's endpoint first.
        events: Counters for a display.

    Returns:
        The scoring (all its scores, old and new) and the scoring summary.
    """
    from toolgym.domains import load_domain
    from toolgym.runner._run import import_plugins

    run_dir = Path(run_dir)
    events = events or ScoringEvents()
    name = name or judge
    if not _NAME.match(name):
        raise ConfigError(f"invalid scoring name {name!r} (letters, digits, '.', '_', '-')")
    if concurrency < 1:
        raise ConfigError("concurrency must be at least 1")
    judge_factory(judge)  # an unknown judge fails before anything is read
    run = load_run(run_dir)
    if not run.results:
        raise DataError(f"{run_dir}: no rollouts to score (results.jsonl is empty or missing)")
    cfg = _run_config(run.config)
    import_plugins(list(cfg.get("plugins") or []))
    dref = cfg.get("domain") or {"name": run.domain}
    # The run's argument mode (runs from before the option checked as strict does), so a
    # judge that replays tool calls replays them as the run made them.
    domain = load_domain(dref.get("name") or run.domain, data_dir=dref.get("data_dir"),
                         tasks_file=dref.get("tasks_file"),
                         tool_args=cfg.get("tool_args") or "strict")
    tasks = {t.id: t for t in domain.tasks}
    pool = EndpointPool()
    refuse_oracle_judge(model)
    judge_model = build_model(model, pool=pool) if model is not None else None
    try:
        scorer = create_judge(JudgeContext(name=judge, domain=domain, model=judge_model,
                                           args=dict(args or {})))
        scores_dir = run_dir / SCORES_DIR
        found = read_records(scores_dir / f"{name}.jsonl", Score, "score")
        done = {s.key: s for s in found.records}
        pending = [r for r in run.results if scorer.applies(r) and r.task_id in tasks
                   and (r.key not in done or (retry_errors and done[r.key].success is None))]
        missing = sorted({r.task_id for r in run.results if r.task_id not in tasks})
        if missing:
            raise DataError(f"{run_dir}: tasks {', '.join(missing[:5])} of the run are not in "
                            "its domain's task set any more")
        events.total = sum(1 for r in run.results if scorer.applies(r))
        events.done = events.skipped = events.total - len(pending)
        if pending and preflight and model is not None:
            from toolgym.models._preflight import PreflightError, check_endpoints

            (check,) = await check_endpoints({"judge": model})
            if not check.ok:
                raise PreflightError(check.line() + " (nothing was scored; --no-preflight "
                                     "skips this check)")
        scores_dir.mkdir(exist_ok=True)
        writer = ResultsWriter(scores_dir / f"{name}.jsonl")
        try:
            record = {
                "judge": judge, "args": dict(args or {}),
                "model": model.model_dump(mode="json") if model is not None else None,
                "toolgym_version": __version__,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            _check_or_write_config(scores_dir / f"{name}.json", record)
            await _score_pending(pending, tasks, scorer, judge, writer, done, events,
                                 concurrency)
        finally:
            writer.close()
    finally:
        if judge_model is not None:
            with contextlib.suppress(Exception):
                await judge_model.aclose()
    scores = list(done.values())
    summary = scoring_summary(scores, judge)
    update_run_summary(run_dir, {name: summary})
    return ScoringRun(run_dir=run_dir, name=name, scores=scores, summary=summary)


async def _score_pending(pending: list[RolloutResult], tasks: dict[str, Any], scorer: Any,
                         judge: str, writer: ResultsWriter, done: dict[tuple[str, int], Score],
                         events: ScoringEvents, concurrency: int) -> None:
    queue: asyncio.Queue[RolloutResult] = asyncio.Queue()
    for r in pending:
        queue.put_nowait(r)

    async def worker() -> None:
        while True:
            try:
                result = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            score = await _score_one(scorer, judge, tasks[result.task_id], result)
            writer.append(score)
            done[score.key] = score
            events.done += 1
            events.errors += score.success is None
            for cb in events.on_score:
                cb(score)

    workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(pending)))]
    try:
        await asyncio.gather(*workers)
    finally:
        for w in workers:
            w.cancel()


async def _score_one(scorer: Any, judge: str, task: Any, result: RolloutResult) -> Score:
    with counting_retries() as retries:
        try:
            score: Score = await scorer.score(task, result)
        except ModelError as exc:
            score = Score(task_id=result.task_id, trial=result.trial, judge=judge,
                          success=None, usage=exc.usage or Usage(),
                          error=redact_secrets(f"judge model: {type(exc).__name__}: {exc}"))
        except Exception as exc:  # a judge's bug is recorded, never a dead worker
            score = Score(task_id=result.task_id, trial=result.trial, judge=judge,
                          success=None,
                          error=redact_secrets(f"judge raised {type(exc).__name__}: {exc}"))
    if retries:
        score.details = {**score.details, "retries": dict(sorted(retries.items()))}
    return score


def _run_config(record: dict[str, Any]) -> dict[str, Any]:
    cfg = record.get("config")
    return cfg if isinstance(cfg, dict) else {}


def update_run_summary(run_dir: Path, new: dict[str, dict[str, Any]]) -> None:
    """Record scorings (name -> scoring summary) in summary.json, with the run's metrics
    recomputed (``nl`` fills in rewards) and the judges' usage in the run's totals.

    A run that rewrites its summary (a rerun or resume of a scored run) calls this
    with the scorings it found, so they stay beside the new metrics."""
    from toolgym.evaluation._metrics import summarize

    path = run_dir / SUMMARY
    try:
        summary = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError):
        summary = {}
    if not isinstance(summary, dict):
        summary = {}
    scorings = {**dict(summary.get("scorings") or {}), **new}
    summary["scorings"] = scorings
    # Recomputed from the run: nl verdicts fill in rewards (load_run applies them).
    run = load_run(run_dir)
    cfg = _run_config(run.config)
    trials = cfg.get("trials") if isinstance(cfg.get("trials"), int) else None
    seed = cfg["seed"] if isinstance(cfg.get("seed"), int) else 0
    summary.update(summarize(run.results, trials, seed=seed))
    if "tool_sim" in summary:  # simulated tools: outcomes stratified by injected failure
        from toolgym.simtools import sim_summary

        verdicts = {other: {sc.key: sc.success for sc in read_scores(run_dir, other)}
                    for other in scorings}
        summary["tool_sim"] = sim_summary(run.results, verdicts)
    # Judges' tokens and cost join the run's totals, one role per scoring (nl's are
    # already in the rollouts' own "judge" usage).
    usage = dict(summary["usage"])
    for other, sc in sorted(scorings.items()):
        if sc.get("judge") != "nl" and sc.get("usage", {}).get("calls"):
            u = sc["usage"]
            usage[f"judge:{other}"] = {**u, "total_tokens": u["prompt_tokens"]
                                       + u["completion_tokens"]}
    summary["usage"] = usage
    costs = [u.get("cost") for u in usage.values() if u.get("calls")]
    summary["cost"] = "unknown" if any(c is None for c in costs) else float(
        sum(c for c in costs if c is not None))
    write_json_atomic(path, summary)


def score_run(run_dir: str | Path, judge: str, **kwargs: Any) -> ScoringRun:
    """Synchronous :func:`score_run_async` (not inside a running event loop)."""
    return asyncio.run(score_run_async(run_dir, judge, **kwargs))
