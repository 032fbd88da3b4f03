"""The report of an optimization directory (``toolgym report runs/opt``).

The seed's and the best candidate's held-out test runs are the report's two
runs (so pass^k, the paired comparison and the trajectory viewer work as for
any runs), and an Optimization section comes first: validation and test
scores before and after with the paired interval, rollouts and cost per role,
the lineage tree, and each accepted candidate's diff against its parent with
the feedback that produced it.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from toolgym.errors import DataError
from toolgym.runner._store import RunData, load_run

__all__ = ["is_optimization_dir", "optimization_report"]

SUMMARY_FILE = "optimize_summary.json"


def is_optimization_dir(path: Path) -> bool:
    """Whether ``path`` holds a finished optimization."""
    return (path / SUMMARY_FILE).is_file()


def _num(v: Any, signed: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:+.3f}" if signed else f"{v:.3f}"


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def _section(out: Path, summary: dict[str, Any], lineage: list[dict[str, Any]]) -> str:
    seed, best, delta = summary["seed"], summary["best"], summary["test_delta"]
    ci = delta.get("ci")
    rows = [("validation score", _num(seed["val"]), _num(best["val"]))]
    for k, a in seed["test"]["pass_k"]["tau-bench"].items():
        rows.append((f"test pass^{k}", _num(a),
                     _num(best["test"]["pass_k"]["tau-bench"].get(k))))
    parts = [f"<h2 id=sec-optimize>Optimization: {escape(out.name)}</h2>",
             "<table><tr><th></th><th class=num>seed</th><th class=num>best</th></tr>"]
    parts += [f"<tr><td>{escape(n)}</td><td class=num>{a}</td><td class=num>{b}</td></tr>"
              for n, a, b in rows]
    parts.append("</table>")
    change = _num(delta.get("mean"), signed=True) + (
        f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")
    facts = [
        f"test pass^1 change, paired by task over {delta.get('tasks')} tasks: {change} "
        f"({escape(str(delta.get('test')))}, p = {_num(delta.get('p_value'))})",
        f"rollouts: {summary['optimization_rollouts']} for the optimization (budget "
        f"{summary['budget']}), {summary['rollouts']} in all",
        f"iterations: {summary['iterations']}, candidates: {summary['candidates']}, reflection "
        f"calls: {summary['reflection_calls']} ({summary['reflection_failures']} rejected)",
    ]
    for role, u in summary.get("usage", {}).items():
        cost = "unknown price" if u.get("cost") is None else f"${u['cost']:.4f}"
        facts.append(f"{escape(role)}: {u['calls']} calls, {u['prompt_tokens']}/"
                     f"{u['completion_tokens']} tokens in/out, {cost}")
    parts += [f'<div class="note">{f}</div>' for f in facts]
    parts.append("<h3>Lineage</h3><ul class=lineage>")
    by_parent: dict[int | None, list[dict[str, Any]]] = {}
    for c in lineage:
        by_parent.setdefault(c["parents"][0] if c["parents"] else None, []).append(c)

    def tree(parent: int | None, depth: int) -> None:
        for c in by_parent.get(parent, []):
            mark = " (best)" if c["index"] == best.get("index") else ""
            changed = ", ".join(c["changed"]) or "seed"
            parts.append(f'<li style="margin-left:{depth * 1.5}em">#{c["index"]}{mark}: '
                         f"val {_num(c['val_score'])}, changed {escape(changed)}"
                         + (f", iteration {c['iteration']}" if c.get("iteration") else "")
                         + "</li>")
            tree(c["index"], depth + 1)

    tree(None, 0)
    parts.append("</ul>")
    for c in lineage:
        if not c["changed"]:
            continue
        parent = c["parents"][0] if c["parents"] else "-"
        parts.append(f"<h3>Candidate #{c['index']} (from #{parent}, val "
                     f"{_num(c['val_score'])})</h3>")
        for name, diff in c.get("diff", {}).items():
            parts.append(f"<div class=note>{escape(name)}</div><pre class=diff>{escape(diff)}"
                         "</pre>")
        if c.get("feedback"):
            parts.append("<details><summary>the feedback that produced it</summary><pre>"
                         + escape("\n\n".join(str(f) for f in c["feedback"])) + "</pre></details>")
    return "".join(parts)


def optimization_report(out: Path) -> tuple[list[RunData], list[str]]:
    """The runs (seed and best on the test tasks) and the extra section of an optimization."""
    summary = _read(out / SUMMARY_FILE)
    lineage_path = out / "lineage.json"
    lineage = _read(lineage_path) if lineage_path.exists() else []
    runs = []
    for label in ("seed", "best"):
        run = load_run(out / summary[label]["test"]["run_dir"])
        run.display_name = f"{label} on test"
        runs.append(run)
    return runs, [_section(out, summary, lineage)]
