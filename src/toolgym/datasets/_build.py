"""``toolgym dataset build``: runs -> selected, split, de-duplicated training data.

Splits are made **by task**, never by step or trajectory: every example of a
task lands in the same split, so a trajectory (or another trial of the same
task) cannot leak from train into validation. ``test_split`` reuses a run's
named task split; the validation tasks are a seeded draw (``val_size`` tasks
or ``val_frac`` of them) from the rest.

The output directory::

    <format>/<split>.jsonl            one example per line
    <format>/<split>.manifest.jsonl   where each line came from (run, task, trial, step)
    hf/                               a DatasetDict (save_to_disk), with --format hf
    dataset.json                      counts, selection, sources (machine-readable)
    README.md                         the dataset card
"""

from __future__ import annotations

import hashlib
import json
import random
import shlex
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolgym import __version__
from toolgym.datasets._formats import (
    FORMATS,
    TRAIN_ON,
    Example,
    conversation_example,
    step_examples,
    to_format,
)
from toolgym.datasets._select import compile_selection
from toolgym.errors import ConfigError, DataError, MissingDependencyError
from toolgym.runner._results import RolloutResult
from toolgym.runner._store import RunData, load_run, write_json_atomic, write_text_atomic

__all__ = ["BuildResult", "build_dataset", "rollout_fields"]

SPLITS = ("train", "validation", "test")


@dataclass
class BuildResult:
    """What :func:`build_dataset` wrote."""

    out: Path
    #: Per format, per split: number of lines.
    counts: dict[str, dict[str, int]]
    #: Per split: the task ids in it.
    tasks: dict[str, list[str]]
    selected: int
    rejected: int
    duplicates: dict[str, int] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)


def rollout_fields(run: RunData, r: RolloutResult, splits_of: dict[str, list[str]]
                   ) -> dict[str, Any]:
    """The fields a ``--select`` expression sees for one rollout."""
    fields: dict[str, Any] = {
        "reward": r.reward, "success": r.success, "termination": r.termination.value,
        "steps": r.steps, "task_id": r.task_id, "trial": r.trial,
        "split": tuple(splits_of.get(r.task_id, [])),
        "cost": sum(u.cost or 0.0 for u in r.usage.values()),
        "duration": r.timings.duration_s, "infra_error": r.infra_error, "rating": None,
    }
    for name, scores in run.scorings.items():
        s = next((s for s in scores if s.key == r.key), None)
        fields[f"score_{name}"] = None if s is None else s.score
        fields[f"success_{name}"] = None if s is None else s.success
        if name == "rater":
            fields["rating"] = None if s is None else s.score
    return fields


def _run_context(run: RunData) -> tuple[list[dict[str, Any]], set[str], dict[str, list[str]]]:
    """A run's tools (as its agent saw them), write tools, and each task's splits."""
    from toolgym.domains import load_domain

    raw = run.config.get("config")
    cfg: dict[str, Any] = raw if isinstance(raw, dict) else {}
    dref: dict[str, Any] = cfg.get("domain") or {"name": run.domain}
    if not dref.get("name"):
        raise DataError(f"{run.path}: config.json does not say which domain the run used")
    domain = load_domain(dref["name"], data_dir=dref.get("data_dir"),
                         tasks_file=dref.get("tasks_file"))
    descriptions = ((cfg.get("agent") or {}).get("tool_descriptions") or {})
    tools = []
    for t in domain.openai_tools():
        name = t["function"]["name"]
        if name in descriptions:
            t = {**t, "function": {**t["function"], "description": descriptions[name]}}
        tools.append(t)
    writes = {name for name, spec in domain.toolkit_type.tool_specs().items()
              if str(spec[0]) == "write"}
    splits_of: dict[str, list[str]] = defaultdict(list)
    for split, ids in domain.splits.items():
        if split == "base":
            continue
        for task_id in ids:
            splits_of[task_id].append(split)
    return tools, writes, dict(splits_of)


def _assign_splits(task_ids: list[str], splits_of: dict[str, list[str]], test_split: str | None,
                   val_size: int | None, val_frac: float | None, seed: int
                   ) -> dict[str, str]:
    ordered = sorted(set(task_ids))
    assignment: dict[str, str] = {}
    rest = []
    for t in ordered:
        if test_split and test_split in splits_of.get(t, []):
            assignment[t] = "test"
        else:
            rest.append(t)
    rng = random.Random(seed)
    rng.shuffle(rest)
    if val_size is not None and val_frac is not None:
        raise ConfigError("give --val-size or --val-frac, not both")
    if val_size is not None and val_size < 0:
        raise ConfigError(f"--val-size must be 0 or more, got {val_size}")
    if val_frac is not None and not 0.0 <= val_frac < 1.0:
        raise ConfigError(f"--val-frac must be in [0, 1), got {val_frac}")
    if test_split and not any(test_split in s for s in splits_of.values()):
        known = sorted({s for ss in splits_of.values() for s in ss})
        raise ConfigError(f"--test-split {test_split!r}: no selected task is in that split "
                          f"(their splits: {', '.join(known) or 'none'})")
    n_val = val_size if val_size is not None else round(len(rest) * (val_frac or 0.0))
    if n_val >= len(rest) and rest and n_val:
        raise ConfigError(f"--val-size/--val-frac leave no training task ({len(rest)} tasks)")
    for i, t in enumerate(rest):
        assignment[t] = "validation" if i < n_val else "train"
    return assignment


def _digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False)
                          .encode()).hexdigest()


def build_dataset(
    run_dirs: list[str | Path],
    out: str | Path,
    *,
    formats: list[str] | None = None,
    shape: str = "conversation",
    select: str | None = None,
    min_rating: float | None = None,
    min_step_rating: float | None = None,
    terminations: list[str] | None = None,
    train_on: str = "all",
    val_size: int | None = None,
    val_frac: float | None = None,
    test_split: str | None = None,
    seed: int = 0,
    command: str | None = None,
    tokenizer: str | None = None,
) -> BuildResult:
    """Build a fine-tuning dataset from runs (see the module docstring).

    Args:
        run_dirs: Run directories (toolgym runs, imported runs...).
        out: Output directory.
        formats: Any of ``openai``, ``trl-messages``, ``trl-prompt-completion``, ``hf``.
        shape: ``conversation`` (whole conversations) or ``step`` (context -> next
            assistant message, for planners).
        select: A selection expression (see :mod:`toolgym.datasets._select`).
        min_rating: Keep rollouts whose ``rater`` score is at least this (1-5).
        min_step_rating: With ``shape="step"``: keep steps the rater rated at
            least this on every aspect (tool choice, arguments, use of the result).
        terminations: Keep rollouts that ended so (e.g. ``user_stop``).
        train_on: ``all``, ``final`` or ``writes``: which assistant messages train.
        val_size: Validation tasks, a number.
        val_frac: Validation tasks, a fraction of the non-test tasks.
        test_split: A task split name whose tasks form the test split.
        seed: Seed of the validation draw.
        command: The command line, for the dataset card.
        tokenizer: A Hugging Face tokenizer (name or path) for the card's token
            counts (needs ``transformers``); characters / 4 without it.
    """
    formats = list(dict.fromkeys(formats or ["openai"]))
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ConfigError(f"unknown format(s) {', '.join(bad)} (known: {', '.join(FORMATS)})")
    if shape not in ("conversation", "step"):
        raise ConfigError("shape must be 'conversation' or 'step'")
    if train_on not in TRAIN_ON:
        raise ConfigError(f"--train-on must be one of {', '.join(TRAIN_ON)}")
    if min_step_rating is not None and shape != "step":
        raise ConfigError("--min-step-rating needs --shape step")
    if "hf" in formats:
        _datasets()  # fail before anything is read or written
    selector = compile_selection(select) if select else None
    final = Path(out)
    if final.exists() and (not final.is_dir() or (
            any(final.iterdir()) and not (final / "dataset.json").exists())):
        raise ConfigError(f"{final} exists and is not a toolgym dataset; choose another --out")
    kept: list[tuple[RunData, RolloutResult, list[dict[str, Any]], set[str]]] = []
    all_splits: dict[str, list[str]] = {}
    rejected = 0
    sources = []
    for d in run_dirs:
        run = load_run(d)
        if not run.results:
            raise DataError(f"{run.path}: no rollouts")
        tools, writes, splits_of = _run_context(run)
        all_splits.update(splits_of)
        ratings = {s.key: s for s in run.scorings.get("rater", [])}
        if (min_rating is not None or min_step_rating is not None) and not ratings:
            raise ConfigError(f"{run.path}: no rater scoring to filter by; make one with "
                              f"toolgym rate {run.path} --judge-model MODEL")
        n_before = len(kept)
        for r in run.results:
            fields = rollout_fields(run, r, splits_of)
            ok = not r.infra_error
            if ok and terminations is not None:
                ok = r.termination.value in terminations
            if ok and min_rating is not None:
                ok = fields["rating"] is not None and fields["rating"] >= min_rating
            if ok and selector is not None:
                ok = selector(fields)
            if ok:
                kept.append((run, r, tools, writes))
            else:
                rejected += 1
        sources.append({"run": str(run.path), "agent_model": run.agent_model,
                        "domain": run.domain, "rollouts": len(run.results),
                        "selected": len(kept) - n_before})
    assignment = _assign_splits([r.task_id for _, r, _, _ in kept], all_splits, test_split,
                                val_size, val_frac, seed)
    examples: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for run, r, tools, writes in kept:
        source = {"run": str(run.path), "task_id": r.task_id, "trial": r.trial}
        if shape == "conversation":
            ex = conversation_example(r.messages, tools, source, train_on, writes)
            found = [ex] if ex is not None else []
        else:
            keep = None
            if min_step_rating is not None:
                s = next((s for s in run.scorings.get("rater", []) if s.key == r.key), None)
                keep = {st["index"] for st in (s.details.get("steps") if s else []) or []
                        if min(st["tool_choice"], st["arguments"], st["use_of_result"])
                        >= min_step_rating}
            found = step_examples(r.messages, tools, source, train_on, writes, keep)
        examples[assignment[r.task_id]].extend(found)
    # Built aside and swapped in whole: a rebuild leaves no file of the old dataset (a
    # stale validation split would overlap the new train split), and an interrupted
    # build leaves the old dataset as it was.
    final.parent.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f".{final.name}.building-", dir=final.parent))
    try:
        result = _write_dataset(out, final, formats, examples, kept, assignment, sources,
                                select, min_rating, min_step_rating, terminations,
                                train_on, shape, test_split, val_size, val_frac, seed,
                                rejected, command, tokenizer)
        _swap_in(out, final)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return result


def _swap_in(staging: Path, final: Path) -> None:
    """Replace ``final`` (a previous dataset, or nothing) by ``staging``."""
    if not final.exists():
        staging.rename(final)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    old.rmdir()
    final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _write_dataset(out: Path, final: Path, formats: list[str],
                   examples: dict[str, list[Example]], kept: list[Any],
                   assignment: dict[str, str], sources: list[Any], select: str | None,
                   min_rating: float | None, min_step_rating: float | None,
                   terminations: list[str] | None, train_on: str, shape: str,
                   test_split: str | None, val_size: int | None, val_frac: float | None,
                   seed: int, rejected: int, command: str | None, tokenizer: str | None
                   ) -> BuildResult:
    counts: dict[str, dict[str, int]] = {}
    duplicates: dict[str, int] = {}
    stats: dict[str, dict[str, dict[str, int]]] = {}
    count = _Counter(tokenizer)
    for fmt in formats:
        if fmt == "hf":
            continue
        counts[fmt], duplicates[fmt], stats[fmt] = _write_jsonl(out / fmt, fmt, examples,
                                                                count)
    if "hf" in formats:
        counts["hf"] = _write_hf(out / "hf", examples)
    tasks = {s: sorted({t for t, a in assignment.items() if a == s}) for s in SPLITS}
    card = {
        "toolgym_version": __version__,
        "command": command or " ".join(shlex.quote(a) for a in sys.argv),
        "sources": sources,
        "selection": {"select": select, "min_rating": min_rating,
                      "min_step_rating": min_step_rating, "terminations": terminations,
                      "train_on": train_on, "shape": shape},
        "splits": {"by": "task", "test_split": test_split, "val_size": val_size,
                   "val_frac": val_frac, "seed": seed, "tasks": tasks},
        "counts": counts, "duplicates_removed": duplicates, "selected_rollouts": len(kept),
        "rejected_rollouts": rejected, "tokens": stats, "tokens_counted": count.label,
    }
    write_json_atomic(out / "dataset.json", card)
    write_text_atomic(out / "README.md", _card_markdown(card))
    return BuildResult(final, counts, tasks, len(kept), rejected, duplicates, card)


class _Counter:
    """Tokens of a text: a Hugging Face tokenizer when asked for and available, else
    characters / 4 (the card says which)."""

    def __init__(self, tokenizer: str | None) -> None:
        self.tokenizer: Any = None
        self.label = "approximate: characters / 4 (no tokenizer used)"
        if tokenizer is None:
            return
        try:
            from transformers import AutoTokenizer
        except ImportError:
            raise MissingDependencyError("transformers", "hf") from None
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(tokenizer)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load tokenizer {tokenizer!r}: {exc}") from None
        self.label = f"counted with the {tokenizer} tokenizer"

    def __call__(self, text: str) -> int:
        if self.tokenizer is None:
            return (len(text) + 3) // 4
        return len(self.tokenizer.encode(text, add_special_tokens=False))


def _write_jsonl(folder: Path, fmt: str, examples: dict[str, list[Example]],
                 count: _Counter) -> tuple[dict[str, int], int, dict[str, dict[str, int]]]:
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    seen: set[str] = set()
    dupes = 0
    tokens: dict[str, Counter[str]] = {}
    for split in SPLITS:
        lines, manifest = [], []
        per_role: Counter[str] = Counter()
        for ex in examples[split]:
            for record, step in to_format(ex, fmt):
                digest = _digest(record)
                if digest in seen:
                    dupes += 1
                    continue
                seen.add(digest)
                lines.append(json.dumps(record, ensure_ascii=False))
                manifest.append(json.dumps({**ex.source, "step": step}, ensure_ascii=False))
                for m in _all_messages(record):
                    per_role[m.get("role", "?")] += count(json.dumps(m, ensure_ascii=False))
        tokens[split] = per_role
        if lines or split == "train":
            write_text_atomic(folder / f"{split}.jsonl", "".join(x + "\n" for x in lines))
            write_text_atomic(folder / f"{split}.manifest.jsonl",
                              "".join(x + "\n" for x in manifest))
        counts[split] = len(lines)
    return counts, dupes, {s: dict(c) for s, c in tokens.items()}


def _all_messages(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [*record.get("messages", []), *record.get("prompt", []),
            *record.get("completion", [])]


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise MissingDependencyError("datasets", "hf") from None
    if not hasattr(datasets, "Dataset"):  # another module called "datasets" on the path
        raise MissingDependencyError("datasets", "hf")
    datasets.disable_progress_bars()  # our own output stays readable
    return datasets


def _write_hf(folder: Path, examples: dict[str, list[Example]]) -> dict[str, int]:
    """A DatasetDict of trl-messages rows; free-form JSON (tool arguments and schemas) in
    ``Json()`` features where the installed ``datasets`` has them, JSON strings otherwise."""
    datasets = _datasets()
    rows_by_split: dict[str, list[dict[str, Any]]] = {}
    seen: set[str] = set()
    for split in SPLITS:
        rows = []
        for ex in examples[split]:
            for record, step in to_format(ex, "hf"):
                digest = _digest(record)
                if digest in seen:
                    continue
                seen.add(digest)
                rows.append({**_hf_row(record, datasets), "source": json.dumps(
                    {**ex.source, "step": step}, ensure_ascii=False)})
        if rows:
            rows_by_split[split] = rows
    features = _hf_features(datasets)
    ds = datasets.DatasetDict({
        split: datasets.Dataset.from_list(rows, features=features)
        for split, rows in rows_by_split.items()})
    ds.save_to_disk(str(folder))
    return {split: len(rows) for split, rows in rows_by_split.items()}


def _has_json(datasets: Any) -> bool:
    return hasattr(datasets, "Json")


def _hf_row(record: dict[str, Any], datasets: Any) -> dict[str, Any]:
    as_json = _has_json(datasets)
    messages = []
    for m in record["messages"]:
        calls = [{"id": c["id"], "type": c["type"], "function": {
            "name": c["function"]["name"],
            "arguments": c["function"]["arguments"] if as_json
            else json.dumps(c["function"]["arguments"], ensure_ascii=False)}}
            for c in m.get("tool_calls") or []]
        messages.append({"role": m["role"], "content": m.get("content") or "",
                         "tool_calls": calls, "tool_call_id": m.get("tool_call_id"),
                         "name": m.get("name")})
    tools = record["tools"] if as_json else [json.dumps(t, ensure_ascii=False)
                                             for t in record["tools"]]
    return {"messages": messages, "tools": tools}


def _hf_features(datasets: Any) -> Any:
    f = datasets
    value = f.Json() if _has_json(datasets) else f.Value("string")
    call = {"id": f.Value("string"), "type": f.Value("string"),
            "function": {"name": f.Value("string"), "arguments": value}}
    message = {"role": f.Value("string"), "content": f.Value("string"),
               "tool_calls": f.List(call), "tool_call_id": f.Value("string"),
               "name": f.Value("string")}
    return f.Features({"messages": f.List(message), "tools": f.List(value),
                       "source": f.Value("string")})


def _card_markdown(card: dict[str, Any]) -> str:
    lines = ["# toolgym fine-tuning dataset", "",
             f"Built by toolgym {card['toolgym_version']} with:", "",
             f"```\n{card['command']}\n```", "", "## Sources", ""]
    for s in card["sources"]:
        lines.append(f"- `{s['run']}` ({s['domain']}, agent `{s['agent_model']}`): "
                     f"{s['selected']} of {s['rollouts']} rollouts selected")
    sel = card["selection"]
    lines += ["", "## Selection", "",
              f"- shape: {sel['shape']}; assistant messages trained: {sel['train_on']}",
              f"- select: `{sel['select']}`" if sel["select"] else "- select: (all)",
              f"- min rating: {sel['min_rating']}; min step rating: {sel['min_step_rating']}; "
              f"terminations: {sel['terminations'] or 'any'}",
              "- rollouts that ended on infrastructure errors are never included",
              f"- {card['selected_rollouts']} rollouts selected, {card['rejected_rollouts']} "
              "left out", "", "## Splits", "",
              "Split by task: every example of a task is in one split (no leakage across "
              "splits).", ""]
    for split, ids in card["splits"]["tasks"].items():
        lines.append(f"- {split}: {len(ids)} tasks")
    lines += ["", "## Counts", "", "| format | " + " | ".join(SPLITS) + " | duplicates removed |",
              "|---|" + "---|" * (len(SPLITS) + 1)]
    for fmt, per in card["counts"].items():
        lines.append(f"| {fmt} | " + " | ".join(str(per.get(s, 0)) for s in SPLITS)
                     + f" | {card['duplicates_removed'].get(fmt, '-')} |")
    lines += ["", "## Tokens per role", "", f"Tokens {card['tokens_counted']}.", ""]
    for fmt, per_split in card["tokens"].items():
        for split, roles in per_split.items():
            if roles:
                shown = ", ".join(f"{role} {n}" for role, n in sorted(roles.items()))
                lines.append(f"- {fmt} / {split}: {shown}")
    lines += ["", "Each `<split>.manifest.jsonl` says, line by line, which run, task, trial and "
              "step (message index) the example came from.", ""]
    return "\n".join(lines)
