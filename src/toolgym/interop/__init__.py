"""Interoperability with tau-bench and tau2-bench: import results, export results,
leaderboard submissions and tables.

* :func:`import_tau_bench` / :func:`import_tau2`: a results file of the other
  tool becomes a toolgym run directory (rollouts with their recorded rewards,
  marked as imported; the tasks in ``tasks.json``), which ``report``,
  ``compare``, ``judge`` and :func:`regrade_run` read like any run.
* :func:`regrade_run`: toolgym's ground truth against the recorded rewards.
* :func:`export_tau2`: a run as a tau2 results file (checked against
  :func:`tau2_results_schema`); :func:`export_submission`: a tau2 leaderboard
  submission directory.
* :func:`export_table`: one row per rollout, CSV or Parquet.
"""

from toolgym.interop._common import IMPORTED_NOTE, TASKS_FILE, ImportedRun, is_imported
from toolgym.interop._regrade import RegradeItem, RegradeReport, TaskAgreement, regrade_run
from toolgym.interop._submission import (
    LEADERBOARD_DOMAINS,
    MIN_TRIALS,
    Submission,
    SubmissionError,
    SubmissionResult,
    check_submission_runs,
    export_submission,
    prompts_modified,
)
from toolgym.interop._table import TABLE_FORMATS, export_table, rollout_rows
from toolgym.interop._tau2_export import export_tau2, tau2_results
from toolgym.interop._tau2_format import results_schema as tau2_results_schema
from toolgym.interop._tau2_import import import_tau2, read_tau2
from toolgym.interop._taubench import TAU_BENCH_DOMAINS, import_tau_bench, read_tau_bench

__all__ = [
    "IMPORTED_NOTE",
    "LEADERBOARD_DOMAINS",
    "MIN_TRIALS",
    "TABLE_FORMATS",
    "TASKS_FILE",
    "TAU_BENCH_DOMAINS",
    "ImportedRun",
    "RegradeItem",
    "RegradeReport",
    "Submission",
    "SubmissionError",
    "SubmissionResult",
    "TaskAgreement",
    "check_submission_runs",
    "export_submission",
    "export_table",
    "export_tau2",
    "import_tau2",
    "import_tau_bench",
    "is_imported",
    "prompts_modified",
    "read_tau2",
    "read_tau_bench",
    "regrade_run",
    "rollout_rows",
    "tau2_results",
    "tau2_results_schema",
]
