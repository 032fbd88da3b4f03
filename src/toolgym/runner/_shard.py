"""Shards of a run (``--shard I/N``, Slurm arrays) and merging them back (``toolgym merge``).

A shard owns every N-th (task, trial) pair of the run, in a fixed order
(trial-major, tasks in selection order), so shards are disjoint, cover the
run, and have sizes that differ by at most one. Under Slurm, the shard comes
from ``SLURM_ARRAY_TASK_ID`` / ``SLURM_ARRAY_TASK_COUNT`` when ``--shard`` is
not given. :func:`merge_runs` combines shard directories into one run whose
metrics are those of the unsharded run: it refuses shards of different runs,
and reports pairs that are missing or that several shards hold.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from toolgym.errors import ConfigError, DataError
from toolgym.runner._results import RolloutResult
from toolgym.runner._store import (
    CONFIG,
    RESULTS,
    SUMMARY,
    load_run,
    write_json_atomic,
    write_text_atomic,
)

__all__ = ["MergeReport", "merge_runs", "parse_shard", "shard_from_env", "shard_pairs"]

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
T = TypeVar("T")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` -> ``(2, 8)`` (0-based index of N shards)."""
    m = _SHARD.match(text)
    if not m:
        raise ConfigError(f"invalid shard {text!r}: use I/N, e.g. 0/4")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"invalid shard {text!r}: need 0 <= I < N")
    return i, n


def shard_from_env(environ: dict[str, str] | None = None) -> str | None:
    """The shard of a Slurm array task (``SLURM_ARRAY_TASK_ID``/``_COUNT``), if any."""
    env = os.environ if environ is None else environ
    task, count = env.get("SLURM_ARRAY_TASK_ID"), env.get("SLURM_ARRAY_TASK_COUNT")
    if task is None or count is None:
        return None
    first = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
    try:
        return f"{int(task) - first}/{int(count)}"
    except ValueError:
        raise ConfigError(f"SLURM_ARRAY_TASK_ID={task!r} / SLURM_ARRAY_TASK_COUNT={count!r} are "
                          "not integers") from None


def shard_pairs(tasks: list[T], trials: int, shard: str | None) -> list[tuple[T, int]]:
    """The (task, trial) pairs a shard owns (all of them without a shard)."""
    pairs = [(task, trial) for trial in range(trials) for task in tasks]
    if shard is None:
        return pairs
    i, n = parse_shard(shard)
    return pairs[i::n]


@dataclass
class MergeReport:
    """What :func:`merge_runs` found."""

    out: Path
    rollouts: int
    expected: int
    missing: list[tuple[str, int]] = field(default_factory=list)
    duplicated: list[tuple[str, int]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def merge_runs(run_dirs: list[str | Path], out: str | Path) -> MergeReport:
    """Merge shard run directories into one run (see the module docstring).

    Raises:
        ConfigError: the shards are of different runs (another config, data or task set).
    """
    from toolgym.evaluation._metrics import summarize
    from toolgym.runner._config import RunConfig, diff_configs

    if not run_dirs:
        raise ConfigError("give the shard directories to merge")
    out = Path(out)
    runs = [load_run(d) for d in run_dirs]
    base = None
    records = []
    for run in runs:
        if not isinstance(run.config.get("config"), dict):
            raise DataError(f"{run.path}: no run config; not a toolgym run")
        cfg = RunConfig.model_validate(run.config["config"])
        identity = {**cfg.identity(), "shard": None}
        record = {"identity": identity, "data": run.config.get("domain", {}).get("data_digest"),
                  "tasks": run.config.get("task_ids")}
        if base is None:
            base = (run, cfg, record)
        else:
            changes = diff_configs(base[2], record)
            if changes:
                raise ConfigError(f"{run.path} is not a shard of the same run as "
                                  f"{base[0].path}: " + "; ".join(changes[:5]))
        records.append(record)
    assert base is not None
    first_run, first_cfg, _ = base
    counts: Counter[tuple[str, int]] = Counter()
    newest: dict[tuple[str, int], RolloutResult] = {}
    for run in runs:
        for r in run.results:
            counts[r.key] += 1
            old = newest.get(r.key)
            if old is None or r.timings.finished_at >= old.timings.finished_at:
                newest[r.key] = r
    task_ids = list(first_run.config.get("task_ids") or [])
    expected = [(t, k) for k in range(first_cfg.trials) for t in task_ids]
    missing = [p for p in expected if p not in newest]
    duplicated = sorted(k for k, n in counts.items() if n > 1)
    out.mkdir(parents=True, exist_ok=True)
    if (out / RESULTS).exists() and (out / RESULTS).stat().st_size:
        raise ConfigError(f"{out} already holds results; merge into a new directory")
    merged_cfg = first_cfg.model_copy(update={"shard": None})
    config = {**first_run.config, "config": merged_cfg.model_dump(mode="json"),
              "merged_from": [str(r.path) for r in runs],
              "merged_at": datetime.now(UTC).isoformat(timespec="seconds")}
    write_json_atomic(out / CONFIG, config)
    order = {p: i for i, p in enumerate(expected)}
    results = sorted(newest.values(), key=lambda r: order.get(r.key, len(order)))
    write_text_atomic(out / RESULTS, "".join(r.model_dump_json() + "\n" for r in results))
    summary = summarize(results, first_cfg.trials, seed=first_cfg.seed)
    summary.update({"status": "complete" if not missing else "interrupted",
                    "complete": not missing, "merged_shards": len(runs),
                    "missing": [list(p) for p in missing[:50]],
                    "duplicated": [list(p) for p in duplicated[:50]],
                    "resume_command": None})
    write_json_atomic(out / SUMMARY, summary)
    return MergeReport(out, len(results), len(expected), missing, duplicated, summary)
