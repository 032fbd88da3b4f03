"""Synthetic-task figures (issue 9): tasks per second generated and validated, oracle score.

For airline and retail, on the built-in databases and on the tau2 data
(../shared/tau2, when present): generate N template tasks (validation
included), validate the saved file again from scratch, then run the oracle
agent with the scripted user on every task and print its average reward.
Runs happen in a temporary directory that is removed at the end.

Targets: 300 + 300 tasks in under a minute; 100 % valid; oracle 1.0.

Run: python benchmarks/synth_bench.py [--n 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "tau2"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/synth_bench.py",
        description="Synthetic-task figures: template generation + validation speed "
                    "(tasks/s), the validation rate, a second validation of the saved "
                    "file, and the oracle agent's average reward on every generated task, "
                    "for airline and retail on the built-in databases and the tau2 data "
                    "(../shared/tau2, when present).")
    parser.add_argument("--n", type=int, default=300, help="tasks per domain and database")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    parser.add_argument("--no-oracle", action="store_true", help="skip the oracle runs")
    parser.add_argument("--concurrency", type=int, default=32,
                        help="rollouts in flight in the oracle runs")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Print the figures."""
    args = _parser().parse_args(argv)
    import toolgym
    from toolgym.synth import generate_tasks, rules_for, save_result, validate_tasks
    from toolgym.tasks import load_tasks

    sources: list[tuple[str, Path | None]] = [("built-in", None)]
    if SHARED.exists():
        sources.append(("tau2", SHARED))
    tmp = Path(tempfile.mkdtemp(prefix="toolgym-synth-bench-"))
    total_tasks = 0
    total_seconds = 0.0
    try:
        for label, root in sources:
            for name in ("airline", "retail"):
                data_dir = root / name if root else None
                t0 = time.perf_counter()
                domain = toolgym.load_domain(name, data_dir=data_dir)
                load_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                result = generate_tasks(domain, n=args.n, seed=args.seed)
                gen_s = time.perf_counter() - t0
                out = tmp / f"{label}-{name}" / "tasks.json"
                save_result(result, out, split={"train": 0.6, "val": 0.2, "test": 0.2},
                            seed=args.seed, domain=domain)
                t0 = time.perf_counter()
                kept, report = validate_tasks(domain, load_tasks(out), rules_for(domain))
                val_s = time.perf_counter() - t0
                total_tasks += len(result.tasks)
                total_seconds += gen_s
                line = (f"{label:8} {name:7} {len(result.tasks)} tasks "
                        f"({result.report.kept}/{result.report.checked} candidates valid, "
                        f"{100 * result.report.rate:.1f}%): generate+validate {gen_s:.2f} s "
                        f"= {len(result.tasks) / gen_s:.0f} tasks/s; re-validate the file "
                        f"{len(kept)}/{report.checked} in {val_s:.2f} s = "
                        f"{report.checked / val_s:.0f} tasks/s; DB load {load_s:.2f} s")
                if not args.no_oracle:
                    t0 = time.perf_counter()
                    run = toolgym.run(domain=name, data_dir=data_dir, tasks_file=out,
                                      agent_model="oracle", user="scripted",
                                      concurrency=args.concurrency, out=out.parent / "run")
                    line += (f"; oracle avg reward {run.summary['avg_reward']:.3f} over "
                             f"{len(run.results)} rollouts ({time.perf_counter() - t0:.1f} s)")
                print(line, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"all: {total_tasks} tasks generated and validated in {total_seconds:.2f} s = "
          f"{total_tasks / total_seconds:.0f} tasks/s   [target: 600 in < 60 s]")


if __name__ == "__main__":
    main()
