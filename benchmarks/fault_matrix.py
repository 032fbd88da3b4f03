"""Fault matrix: runs over real HTTP against the loopback server with injected faults.

For each fault kind and rate, one run of the built-in airline tasks with an
HTTP agent; prints, per cell, how many rollouts completed (graded), how many
ended on infrastructure errors, the retries counted in results.jsonl against
the faults the server served, and how many rollouts were lost (no record at
all). A lost rollout is a bug.

    python benchmarks/fault_matrix.py [--tasks 0-24] [--trials 2] [--rates 0.05,0.2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

KINDS = ["malformed_json", "null_message", "bad_usage", "empty_choices", "500", "429",
         "disconnect", "timeout"]


def _cell(kind: str, rate: float, tasks: str, trials: int, root: Path) -> dict[str, object]:
    import toolgym
    from toolgym.testing import FakeOpenAIServer, roleplay_responder

    domain = toolgym.load_domain("airline")
    with FakeOpenAIServer(roleplay_responder(domain.tasks), fault_rates={kind: rate},
                          seed=1) as server:
        model = {"model": "openai/fake-model", "base_url": server.base_url,
                 "backoff_base_s": 0.0, "timeout_s": 0.5, "max_retries": 6}
        out = root / f"{kind}-{rate}"
        run = toolgym.run(domain="airline", agent_model=model, tasks=tasks, trials=trials,
                          concurrency=8, out=out)
        served = server.faults_served.get(kind, 0)
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    expected = len({r.task_id for r in run.results}) * trials
    counted = sum(sum(r["retries"].values()) for r in records)
    failed_calls = sum(1 for r in records if r["termination"] == "model_error")
    return {
        "kind": kind, "rate": rate, "rollouts": expected,
        "completed": sum(1 for r in run.results if not r.infra_error),
        "infra_errors": run.summary["infra_errors"],
        "faults_served": served,
        # Every served fault is a retry, except the last attempt of a call that gave up.
        "retries_counted": counted,
        "calls_given_up": failed_calls,
        "lost": expected - len(run.results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/fault_matrix.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="0-19", help="task index ranges (default 0-19)")
    parser.add_argument("--trials", type=int, default=2, help="trials per task (default 2)")
    parser.add_argument("--rates", default="0.05,0.2", help="fault rates, comma-separated")
    parser.add_argument("--kinds", default=",".join(KINDS), help="fault kinds, comma-separated")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    header = (f"{'fault':<15} {'rate':>5} {'rollouts':>8} {'completed':>9} {'infra':>6} "
              f"{'served':>7} {'retried':>8} {'gave up':>8} {'lost':>5}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="toolgym-faults-") as tmp:
        for kind in args.kinds.split(","):
            for rate in rates:
                c = _cell(kind, rate, args.tasks, args.trials, Path(tmp))
                print(f"{c['kind']:<15} {c['rate']:>5} {c['rollouts']:>8} {c['completed']:>9} "
                      f"{c['infra_errors']:>6} {c['faults_served']:>7} "
                      f"{c['retries_counted']:>8} {c['calls_given_up']:>8} {c['lost']:>5}",
                      flush=True)


if __name__ == "__main__":
    main()
