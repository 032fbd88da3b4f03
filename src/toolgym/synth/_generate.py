"""Generate, validate, label and split: :func:`generate_tasks` and the files it writes.

Candidates come from the template generator or the generator model; each is
validated as it arrives (so duplicates of kept tasks are refused) until
``n`` are kept or the attempt budget is spent. An optional solvability run
then drops tasks the reference agent never solves and records each task's
pass rate, which refines its difficulty label.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolgym.domains._domain import Domain
from toolgym.errors import ConfigError
from toolgym.evaluation._validate import write_tools
from toolgym.messages import Usage
from toolgym.models import EndpointPool, Model, ModelConfig, build_model
from toolgym.synth._labels import LEVELS, refine_difficulty, task_stats
from toolgym.synth._llm import LLMTaskMaker, rewrite
from toolgym.synth._records import Reason, TaskVerdict, ValidationReport
from toolgym.synth._rules import rules_for
from toolgym.synth._solve import solve_rates
from toolgym.synth._splits import split_tasks
from toolgym.synth._template import SCENARIO_TYPES, TemplateGenerator
from toolgym.synth._validate import Validator
from toolgym.tasks import Task

__all__ = ["SynthResult", "generate_tasks", "generate_tasks_async", "save_result",
           "write_json"]

METHODS = ("template", "llm")


@dataclass
class SynthResult:
    """The kept tasks, their dicts as saved, and the validation report."""

    tasks: list[Task]
    raw: list[dict[str, Any]]
    report: ValidationReport
    seconds: float
    usage: Usage

    @property
    def stats(self) -> dict[str, Any]:
        """Counts per scenario type, difficulty and write tool."""
        return self.report.stats


def _check_options(domain: Domain[Any], n: int, method: str, types: Sequence[str] | None,
                   difficulty: str | None) -> list[str]:
    if domain.name not in SCENARIO_TYPES:
        raise ConfigError(f"synthetic tasks support the airline and retail domains, not "
                          f"{domain.name!r}")
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r} (known: {', '.join(METHODS)})")
    if difficulty is not None and difficulty not in LEVELS:
        raise ConfigError(f"unknown difficulty {difficulty!r} (known: {', '.join(LEVELS)})")
    known = SCENARIO_TYPES[domain.name]
    chosen = list(types or known)
    bad = [t for t in chosen if t not in known]
    if bad:
        raise ConfigError(f"unknown {domain.name} scenario type(s) {', '.join(map(repr, bad))} "
                          f"(known: {', '.join(known)})")
    return chosen


def _generator_model(generator: Model | ModelConfig | str | None, needed: bool) -> Model | None:
    if generator is None:
        if needed:
            raise ConfigError("this needs a generator model (--generator-model)")
        return None
    if isinstance(generator, Model):
        return generator
    return build_model(generator, pool=EndpointPool())


async def generate_tasks_async(
    domain: Domain[Any],
    *,
    n: int,
    method: str = "template",
    seed: int = 0,
    types: Sequence[str] | None = None,
    difficulty: str | None = None,
    rules: str = "auto",
    rewrite_instructions: bool = False,
    generator: Model | ModelConfig | str | None = None,
    examples: Sequence[Task] | None = None,
    solve_with: str | ModelConfig | None = None,
    solve_trials: int = 1,
    solve_user: str = "scripted",
    solve_dir: Path | None = None,
    data_dir: str | Path | None = None,
    max_attempts: int | None = None,
    concurrency: int = 4,
) -> SynthResult:
    """Async form of :func:`generate_tasks` (same arguments)."""
    from toolgym import __version__

    start = time.perf_counter()
    chosen = _check_options(domain, n, method, types, difficulty)
    profile = rules_for(domain, rules)
    model = _generator_model(generator, method == "llm" or rewrite_instructions)
    validator = Validator(domain, profile)
    usage = Usage()
    kept: list[dict[str, Any]] = []
    budget = max_attempts if max_attempts is not None else 20 * n
    if method == "template":
        attempts = 0
        for raw in TemplateGenerator(domain, profile, seed, chosen, __version__):
            if attempts >= budget or len(kept) >= n:
                break
            attempts += 1
            if difficulty is not None and raw["difficulty"] != difficulty:
                continue
            notes: list[Reason] = []
            if rewrite_instructions and model is not None:
                facts = raw["synth"]["facts"]
                new, spent, why = await rewrite(model, raw["user_scenario"]["instructions"],
                                                facts)
                usage = usage + spent
                if new is None:
                    notes.append(Reason(rule="rewrite", message=str(why)))
                else:
                    raw["user_scenario"]["instructions"] = new
                    raw["synth"]["rewritten_by"] = model.name
            if validator.check(raw, len(validator.report.verdicts), notes).kept:
                kept.append(raw)
    else:
        assert model is not None
        maker = LLMTaskMaker(domain, model, list(examples if examples is not None
                                                 else domain.tasks),
                             chosen, seed, profile.name, __version__)
        index = 0
        while len(kept) < n and index < budget:
            batch = range(index, min(budget, index + max(1, min(concurrency, n - len(kept)))))
            index = batch.stop
            made = await asyncio.gather(*(maker.make(i, chosen[i % len(chosen)],
                                                     SCENARIO_TYPES[domain.name][
                                                         chosen[i % len(chosen)]])
                                          for i in batch))
            for i, (made_raw, why) in zip(batch, made, strict=True):
                if made_raw is None:
                    validator.report.add(TaskVerdict(
                        task_id=f"{domain.name}_llm_s{seed}_{i:04d}", kept=False,
                        reasons=[Reason(rule="generation", message=str(why))]))
                elif len(kept) < n and validator.check(made_raw, i).kept:
                    kept.append(made_raw)
        usage = usage + maker.usage
    report = validator.finish()
    if solve_with is not None and kept:
        kept = await _solvability(domain, kept, report, solve_with, solve_trials, solve_user,
                                  solve_dir, data_dir)
    tasks = [Task.model_validate(r) for r in kept]
    report.stats = task_stats(tasks, write_tools(domain))
    if usage.calls:
        report.usage = usage.model_dump()
    return SynthResult(tasks, kept, report, time.perf_counter() - start, usage)


async def _solvability(domain: Domain[Any], kept: list[dict[str, Any]],
                       report: ValidationReport, solve_with: str | ModelConfig, trials: int,
                       user: str, solve_dir: Path | None, data_dir: str | Path | None
                       ) -> list[dict[str, Any]]:
    import tempfile

    if trials < 1:
        raise ConfigError(f"--solve-trials must be at least 1, got {trials}")
    name = solve_with if isinstance(solve_with, str) else solve_with.model
    with tempfile.TemporaryDirectory(prefix="toolgym-solve-") as tmp:
        rates = await solve_rates(domain=domain.name, data_dir=data_dir, tasks=kept,
                                  agent_model=solve_with, trials=trials,
                                  out_dir=solve_dir or Path(tmp), user=user)
    verdicts = {v.task_id: v for v in report.verdicts}
    out = []
    for raw in kept:
        rate = rates.get(raw["id"], 0.0)
        raw["synth"].update(pass_rate=rate, solve_trials=trials, solve_model=name)
        raw["difficulty"] = refine_difficulty(raw["difficulty"], rate)
        if rate > 0:
            out.append(raw)
            continue
        verdict = verdicts[raw["id"]]
        verdict.kept = False
        verdict.reasons.append(Reason(rule="solvability",
                                      message=f"not solved in {trials} trial(s) by {name}"))
        report.kept -= 1
        report.rejected += 1
        report.by_rule["solvability"] = report.by_rule.get("solvability", 0) + 1
    return out


def generate_tasks(domain: Domain[Any], **options: Any) -> SynthResult:
    """Generate ``n`` validated synthetic tasks for the airline or retail domain.

    Example::

        domain = toolgym.load_domain("airline")
        result = toolgym.synth.generate_tasks(domain, n=300, seed=0)
        toolgym.synth.save_result(result, "tasks.json",
                                  split={"train": 0.6, "val": 0.2, "test": 0.2})

    Args:
        domain: The loaded domain (built-in data or a tau2 data directory).
        **options: ``n`` (required), ``method`` (``template`` or ``llm``), ``seed``,
            ``types`` (scenario types, see :func:`scenario_types`), ``difficulty``
            (keep only this label), ``rules`` (``auto``, ``toolgym``, ``tau2``),
            ``rewrite_instructions`` (rewrite template instructions with the
            generator model), ``generator`` (a model, config or model string:
            the ``llm`` method and rewriting need it), ``examples`` (tasks shown
            to the generator; the domain's own by default), ``solve_with`` (a
            reference agent model: tasks it never solves are dropped),
            ``solve_trials``, ``solve_user``, ``solve_dir`` (keep that run
            there), ``data_dir`` (the domain's data directory, for the
            solvability run), ``max_attempts`` (default 20 n), ``concurrency``
            (generator requests at once).

    Returns:
        The kept tasks, their dicts and the validation report.

    Raises:
        ConfigError: an unknown method, scenario type, difficulty or rule profile.
    """
    return asyncio.run(generate_tasks_async(domain, **options))


def write_json(path: Path, data: Any) -> None:
    """Write JSON deterministically (indent 2, UTF-8, trailing newline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def save_result(result: SynthResult, out: str | Path, *, split: dict[str, float] | None = None,
                seed: int = 0, report: str | Path | None = None, domain: Domain[Any] | None = None
                ) -> dict[str, Path]:
    """Write the tasks, the validation report and (optionally) the splits.

    Args:
        result: What :func:`generate_tasks` returned.
        out: The task file (``tasks.json``).
        split: Split shares (``{"train": 0.6, ...}``): writes ``split_tasks.json``
            beside the task file.
        seed: Seed of the split assignment.
        report: The report file (default ``<out stem>.report.json`` beside it).
        domain: The domain (its write tools define the split signatures).

    Returns:
        The paths written, by kind (``tasks``, ``report``, ``splits``).
    """
    out = Path(out)
    paths = {"tasks": out}
    write_json(out, result.raw)
    if split is not None:
        writes = frozenset(write_tools(domain)) if domain is not None else None
        splits = split_tasks(result.tasks, split, seed=seed, writes=writes)
        paths["splits"] = out.with_name("split_tasks.json")
        write_json(paths["splits"], splits)
        result.report.stats["splits"] = {k: len(v) for k, v in splits.items()}
    paths["report"] = Path(report) if report else out.with_name(out.stem + ".report.json")
    write_json(paths["report"], result.report.model_dump(mode="json"))
    return paths
