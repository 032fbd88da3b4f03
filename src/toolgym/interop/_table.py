"""One row per rollout, for pandas and duckdb: CSV, or Parquet through pyarrow.

Columns (the same for every run, so files of several runs concatenate):
``task_id``, ``trial``, ``reward`` (empty when unknown), ``success``,
``status`` (of the grading), ``termination``, ``infra_error``, one
``component_<NAME>`` per reward component (DB, ACTION, COMMUNICATE,
ENV_ASSERTION, NL_ASSERTION; empty when not computed), ``failure`` (why it
did not pass), ``steps``, ``messages``, ``tool_calls``, ``duration_s``,
``started_at``, per role (agent, user, judge, then any other role the run
has) ``<role>_calls``, ``<role>_prompt_tokens``, ``<role>_completion_tokens``
and ``<role>_cost`` (empty when the price was unknown), ``cost`` (total,
empty when any part is unknown), ``retries`` and ``error``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from toolgym.errors import DataError, MissingDependencyError
from toolgym.evaluation._metrics import task_sort_key
from toolgym.messages import Usage
from toolgym.runner._results import RolloutResult, failure_reason
from toolgym.runner._store import RunData, load_run, write_text_atomic
from toolgym.tasks import RewardType

__all__ = ["TABLE_FORMATS", "export_table", "rollout_rows", "table_columns"]

TABLE_FORMATS = ("csv", "parquet")
_ROLES = ("agent", "user", "judge")
_COMPONENTS = tuple(t.value for t in RewardType)


def _roles(results: list[RolloutResult]) -> list[str]:
    extra = sorted({role for r in results for role in r.usage} - set(_ROLES))
    return [*_ROLES, *extra]


def table_columns(roles: list[str]) -> list[tuple[str, str]]:
    """``(column, type)`` pairs: type is ``str``, ``int``, ``float`` or ``bool``."""
    cols: list[tuple[str, str]] = [
        ("task_id", "str"), ("trial", "int"), ("reward", "float"), ("success", "bool"),
        ("status", "str"), ("termination", "str"), ("infra_error", "bool"),
    ]
    cols += [(f"component_{c}", "float") for c in _COMPONENTS]
    cols += [("failure", "str"), ("steps", "int"), ("messages", "int"), ("tool_calls", "int"),
             ("duration_s", "float"), ("started_at", "str")]
    for role in roles:
        cols += [(f"{role}_calls", "int"), (f"{role}_prompt_tokens", "int"),
                 (f"{role}_completion_tokens", "int"), (f"{role}_cost", "float")]
    cols += [("cost", "float"), ("retries", "int"), ("error", "str")]
    return cols


def _total_cost(usage: dict[str, Usage]) -> float | None:
    total = 0.0
    for u in usage.values():
        if u.calls and u.cost is None:
            return None
        total += u.cost or 0.0
    return total


def rollout_rows(run: RunData) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The run's rollouts as rows (task order, then trial) and the columns."""
    results = sorted(run.results, key=lambda r: (task_sort_key(r.task_id), r.trial))
    roles = _roles(results)
    rows: list[dict[str, Any]] = []
    for r in results:
        row: dict[str, Any] = {
            "task_id": r.task_id, "trial": r.trial, "reward": r.reward, "success": r.success,
            "status": r.breakdown.status, "termination": r.termination.value,
            "infra_error": r.infra_error,
        }
        for c in _COMPONENTS:
            row[f"component_{c}"] = r.breakdown.components.get(c)
        row.update({
            "failure": failure_reason(r), "steps": r.steps, "messages": len(r.messages),
            "tool_calls": sum(len(m.tool_calls or []) for m in r.messages),
            "duration_s": r.timings.duration_s, "started_at": r.timings.started_at,
        })
        for role in roles:
            u = r.usage.get(role, Usage())
            row[f"{role}_calls"] = u.calls
            row[f"{role}_prompt_tokens"] = u.prompt_tokens
            row[f"{role}_completion_tokens"] = u.completion_tokens
            row[f"{role}_cost"] = u.cost if u.calls or u.cost is not None else 0.0
        row["cost"] = _total_cost(r.usage)
        row["retries"] = sum(r.retries.values())
        row["error"] = r.error
        rows.append(row)
    return rows, table_columns(roles)


def _csv_text(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c for c, _ in columns])
    for row in rows:
        writer.writerow(["" if row[c] is None else (str(row[c]).lower() if t == "bool"
                                                    else row[c]) for c, t in columns])
    return buf.getvalue()


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependencyError("pyarrow", "parquet") from None
    return pa, pq


def _parquet(rows: list[dict[str, Any]], columns: list[tuple[str, str]], out: Path) -> None:
    pa, pq = _pyarrow()
    types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    schema = pa.schema([(c, types[t]) for c, t in columns])
    table = pa.Table.from_pylist(rows, schema=schema)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        pq.write_table(table, tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def export_table(run_dir: str | Path, fmt: str, out: str | Path | None = None) -> Path:
    """Write a run's rollouts as a CSV or Parquet table, one row per rollout.

    Args:
        run_dir: The run directory.
        fmt: ``csv`` or ``parquet`` (needs ``pip install 'toolgym[parquet]'``).
        out: The file to write (default ``RUN_DIR/rollouts.<fmt>``).

    Returns:
        The path written.
    """
    if fmt not in TABLE_FORMATS:
        raise DataError(f"unknown table format {fmt!r} (use {' or '.join(TABLE_FORMATS)})")
    if fmt == "parquet":
        _pyarrow()  # before any work: a missing extra is one line
    run = load_run(run_dir)
    if not run.results:
        raise DataError(f"{run.path}: no rollouts to export (results.jsonl is empty or "
                        "missing)")
    path = Path(out) if out is not None else run.path / f"rollouts.{fmt}"
    if path.is_dir():
        raise DataError(f"{path} is a directory; give the file's path")
    rows, columns = rollout_rows(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        write_text_atomic(path, _csv_text(rows, columns))
    else:
        _parquet(rows, columns, path)
    return path
