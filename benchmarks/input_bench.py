"""Cost of refusing bad input (issue: bad input gets one clear line).

Prints:

* ``check_tasks`` wall time (median of 5) on the tau2 retail and airline
  tasks (../shared/tau2, when present) and on the built-in tasks: it runs at
  the start of every run, so it must stay small next to loading the data;
* ``calculate`` on pathological expressions (power towers, products of huge
  powers, long chains): each must be refused in well under a millisecond or
  two, since tools run on the event loop.

Run: python benchmarks/input_bench.py
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from toolgym.domains import load_domain
from toolgym.domains._calculate import calculate
from toolgym.errors import ToolError
from toolgym.evaluation import check_tasks

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "tau2"

EXPRESSIONS = {
    "power tower 2**2**..., 10,000 chars": "2" + "**2" * 3333,
    "power tower 2 ** 2 ** ..., 10,000 chars": "2" + " ** 2" * 1999,
    "100 factors 3**31000 (before: 8.3 s)": "*".join(["3**31000"] * 100),
    "300 factors 3**31000 (before: 76 s)": "*".join(["3**31000"] * 300),
    "200 factors 3**6000": "*".join(["3**6000"] * 200),
    "sum of 300 ones": "1" + "+1" * 299,
    "9 ** 9 ** 9": "9 ** 9 ** 9",
    "a price computation": "(149.99 - 20) * 2 + 35.5 / 4",
}


def _check_tasks() -> None:
    sources: list[tuple[str, Path | None]] = [("retail", None), ("airline", None)]
    sources += [(n, SHARED / n) for n in ("retail", "airline") if (SHARED / n).is_dir()]
    for name, data_dir in sources:
        domain = load_domain(name, data_dir=data_dir)
        times = []
        for _ in range(5):
            check = check_tasks(domain)
            times.append(check.seconds)
        label = f"{name} ({'tau2' if data_dir else 'built-in'}, {check.checked} tasks)"
        print(f"check_tasks {label}: median {statistics.median(times) * 1e3:.0f} ms; "
              f"{len(check.malformed)} malformed, {len(check.rule_failures)} rule failures")


def _calculate() -> None:
    for label, expression in EXPRESSIONS.items():
        start = time.perf_counter()
        try:
            outcome = calculate(expression)
        except ToolError as exc:
            outcome = f"ToolError: {exc}"
        elapsed = (time.perf_counter() - start) * 1e3
        print(f"calculate {label}: {elapsed:.2f} ms -> {outcome}")


def main() -> None:
    """Parse the (no) options and print the figures."""
    argparse.ArgumentParser(prog="python benchmarks/input_bench.py",
                            description=__doc__.split("\n\n")[0]).parse_args()
    _check_tasks()
    _calculate()


if __name__ == "__main__":
    main()
