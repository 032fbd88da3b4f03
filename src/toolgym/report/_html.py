"""The static HTML report: one self-contained file, no external fetch.

Static parts (tables, SVG charts) are rendered here with every text passed
through :func:`html.escape`. Run data goes in ``<script type="application/json">``
blocks (see :func:`script_json`) that the page's own script turns into DOM
nodes with ``textContent`` only. A Content-Security-Policy allows no script
but ours (pinned by its hash), so even a bug in escaping could not run
injected code.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from toolgym._secrets import redact_secrets
from toolgym.evaluation._metrics import CONVENTIONS, compare_runs
from toolgym.report._data import (
    CATEGORIES,
    TERMINATIONS,
    RunView,
    build_run_view,
    script_json,
    string_index,
    trajectory_payload,
)
from toolgym.report._svg import PALETTE, Series, histogram, line_chart
from toolgym.runner._store import RunData, write_text_atomic

__all__ = ["render_report", "report_html"]

_MAX_EXAMPLES = 6
_MAX_COMPARE_ROWS = 200


def _asset(name: str) -> str:
    return (resources.files("toolgym.report") / "assets" / name).read_text(encoding="utf-8")


def _num(v: Any, digits: int = 3) -> str:
    if v is None:
        return "&mdash;"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return escape(str(v))


def _money(v: Any) -> str:
    if v is None or v == "unknown":
        return "unknown"
    return f"${float(v):.4f}"


def _ci(ci: Sequence[float] | None) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""


def open_href(view: RunView, task_id: str, trial: int) -> str:
    """The in-page link that opens one trajectory (``#open=<task>:<trial>&run=<i>``)."""
    href = f"#open={quote(task_id, safe='')}:{trial}"
    return href + (f"&run={view.index}" if view.index else "")


def _link(view: RunView, task_id: str, trial: int, text: str | None = None) -> str:
    label = text if text is not None else f"{task_id}#{trial}"
    return f'<a href="{escape(open_href(view, task_id, trial))}">{escape(label)}</a>'


# ------------------------------------------------------------------ sections


def _header(views: list[RunView], title: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections = [("summary", "summary"), ("passk", "pass^k")]
    if len(views) > 1:
        sections.append(("compare", "comparison"))
    sections += [("cost", "cost"), ("terminations", "terminations"),
                 ("failures", "failures"), ("latency", "latency"), ("outcomes", "outcomes")]
    nav = " \u00b7 ".join(f'<a href="#sec-{k}">{label}</a>' for k, label in sections)
    parts = [f"<h1>{escape(title)}</h1>",
             f'<div class="note">Generated {escape(now)} by toolgym. {nav}</div>']
    if any(v.live for v in views):
        parts.append('<div class="livebar">A run is still in progress: this page reloads '
                     "when new results arrive.</div>")
    parts.append("<table><tr><th>run</th><th>domain</th><th>agent model</th>"
                 "<th>user model</th><th>tool arguments</th><th>prompts</th>"
                 "<th>directory</th></tr>")
    for v in views:
        cfg = v.run.config
        # config.json holds the run's RunConfig under "config".
        inner: dict[str, Any] = cfg["config"] if isinstance(cfg.get("config"), dict) else cfg
        user = inner.get("user", {}) if isinstance(inner.get("user"), dict) else {}
        user_model = (user.get("model") or {}).get("model", "") if isinstance(
            user.get("model"), dict) else ""
        parts.append(f"<tr><td>{escape(v.title)}</td><td>{escape(v.run.domain)}</td>"
                     f"<td>{escape(v.run.agent_model)}</td><td>{escape(str(user_model))}</td>"
                     f"<td>{escape(_tool_args(inner))}</td><td>{escape(_prompts(inner))}</td>"
                     f"<td>{escape(str(v.run.path))}</td></tr>")
    parts.append("</table>")
    for v in views:
        for note in v.notes:
            parts.append(f'<div class="note">{escape(v.label)}: '
                         f"{escape(redact_secrets(note))}</div>")
    return "".join(parts)


def _tool_args(config: dict[str, Any]) -> str:
    """The run's argument mode (runs made before the option checked as strict does)."""
    mode = config.get("tool_args")
    return str(mode) if mode else "strict"


def _prompts(config: dict[str, Any]) -> str:
    """Whose prompts the run sent: toolgym's, or a prompt pack's (source and digest)."""
    pack = config.get("prompt_pack")
    if not isinstance(pack, dict):
        return "toolgym"
    what = "tau2" if pack.get("tau2") else f"pack ({pack.get('source') or 'custom'})"
    parts = ", ".join(pack.get("parts") or [])
    return f"{what} {str(pack.get('digest') or '')[:12]}" + (f": {parts}" if parts else "")


def _summary(views: list[RunView]) -> str:
    out = ["<h2 id=sec-summary>Summary</h2><table><tr><th>run</th>"
           "<th class=num>rollouts</th>"
           "<th class=num>tasks</th><th class=num>avg reward</th><th>95% CI</th>"
           "<th class=num>pass^1 (tau-bench)</th><th>95% CI</th><th class=num>pass^1 (tau2)</th>"
           "<th class=num>judge needed</th><th class=num>infra errors</th>"
           "<th>retried calls</th>"
           "<th class=num>cost</th><th class=num>cost / rollout</th></tr>"]
    for v in views:
        s = v.summary
        cost = s["cost"]
        per = (cost / s["n_rollouts"] if cost != "unknown" and s["n_rollouts"] else None)
        out.append(
            f"<tr><td>{escape(v.title)}</td><td class=num>{s['n_rollouts']}</td>"
            f"<td class=num>{s['n_tasks']}</td><td class=num>{_num(s['avg_reward'])}</td>"
            f"<td class=ci>{_ci(v.reward_ci)}</td>"
            f"<td class=num>{_num(s['pass_k']['tau-bench'].get('1'))}</td>"
            f"<td class=ci>{_ci(s['pass1_ci'])}</td>"
            f"<td class=num>{_num(s['pass_k']['tau2'].get('1'))}</td>"
            f"<td class=num>{s['judge_needed']}</td><td class=num>{s['infra_errors']}</td>"
            f"<td>{_retries(s.get('retries') or {})}</td>"
            f"<td class=num>{_money(cost)}</td>"
            f"<td class=num>{_money(per) if per is not None else 'unknown'}</td></tr>")
    out.append("</table><div class=note>Average reward excludes rollouts waiting for a judge; "
               "its interval resamples tasks (bootstrap). pass^k: <b>tau-bench</b> convention "
               "counts every trial and infrastructure errors as failures; <b>tau2</b> "
               "convention leaves out trials that ended in infrastructure errors and skips "
               "tasks with fewer than k valid trials. Rollouts waiting for a judge count as "
               "not passed in both. Retried calls: model calls retried during the run, by "
               "cause (429, 5xx, timeout, connection, malformed reply).</div>")
    return "".join(out)


def _scorings(views: list[RunView]) -> str:
    """Every scoring of every run side by side, with its agreement with the reward."""
    from toolgym.judges._agreement import agreement
    from toolgym.judges._scoring import scoring_summary

    rows = []
    for v in views:
        for name, scores in sorted(v.run.scorings.items()):
            judge = scores[0].judge if scores else name
            s = scoring_summary(scores, judge)
            ag = agreement(v.run, "reward", name)
            kappa = "-" if ag.kappa is None else f"{ag.kappa:.3f}"
            rows.append(
                f"<tr><td>{escape(v.title)}</td><td>{escape(name)}</td><td>{escape(judge)}</td>"
                f"<td class=num>{s['n_scored']}</td><td class=num>{_num(s['success_rate'])}</td>"
                f"<td class=num>{_num(s['mean_score'])}</td><td class=num>{s['errors']}</td>"
                f"<td class=num>{_num(ag.agreement)}</td><td class=num>{kappa}</td>"
                f"<td class=num>{_money(s['usage']['cost'])}</td></tr>")
    if not rows:
        return ""
    return ("<h2 id=sec-scorings>Scorings</h2><table><tr><th>run</th><th>scoring</th>"
            "<th>judge</th><th class=num>scored</th><th class=num>success rate</th>"
            "<th class=num>mean score</th><th class=num>judge errors</th>"
            "<th class=num>agreement with reward</th><th class=num>Cohen's kappa</th>"
            "<th class=num>judge cost</th></tr>" + "".join(rows) + "</table>"
            "<div class=note>Scorings re-score saved rollouts with a judge (toolgym judge); "
            "the reward is ground truth. Agreement and kappa are over rollouts with a "
            "verdict on both sides.</div>")


def _retries(by_cause: dict[str, int]) -> str:
    """``429: 3, 5xx: 1`` (model calls retried, by cause), or ``0``."""
    if not by_cause:
        return "0"
    return escape(", ".join(f"{cause}: {n}" for cause, n in by_cause.items()))


def _pass_k(views: list[RunView]) -> str:
    series: list[Series] = []
    for v in views:
        color = PALETTE[v.index % len(PALETTE)]
        for conv in CONVENTIONS:
            pts = {int(k): val for k, val in v.summary["pass_k"][conv].items()}
            series.append(Series(f"{v.title} \u2014 {conv}", pts, color,
                                 dashed=conv == "tau2",
                                 marker="square" if conv == "tau2" else "circle"))
    chart = line_chart(series, "pass^k", "k (trials that must all succeed)", "pass^k")
    k_max = max((len(v.summary["pass_k"]["tau-bench"]) for v in views), default=0)
    head = "".join(f"<th class=num>k={k}</th>" for k in range(1, k_max + 1))
    rows = []
    for v in views:
        for conv in CONVENTIONS:
            curve = v.summary["pass_k"][conv]
            cells = "".join(f"<td class=num>{_num(curve.get(str(k)))}</td>"
                            for k in range(1, k_max + 1))
            rows.append(f"<tr><td>{escape(v.title)}</td><td>{conv}</td>{cells}</tr>")
    return (f'<h2 id=sec-passk>pass^k</h2><div class="charts">{chart}<div><table><tr><th>run</th>'
            f"<th>convention</th>{head}</tr>{''.join(rows)}</table></div></div>")


def _compare(views: list[RunView], seed: int) -> str:
    if len(views) < 2:
        return ""
    base = views[0]
    out = ["<h2 id=sec-compare>Comparison</h2>"]
    for v in views[1:]:
        c = compare_runs(base.results, v.results, seed=seed)
        out.append(f"<h3>{escape(v.title)} vs {escape(base.title)}</h3><div class=note>"
                   f"Paired by task; differences are {escape(v.label)} \u2212 "
                   f"{escape(base.label)}.</div>")
        if c.n_tasks == 0:
            out.append("<div class=note>No task in common.</div>")
            continue
        ci_label = f"{round(c.confidence * 100)}% CI (paired bootstrap over tasks)"
        rows = [
            ("paired tasks", str(c.n_tasks)),
            (f"pass^1 {base.label} (paired tasks)", _num(c.pass1_a)),
            (f"pass^1 {v.label} (paired tasks)", _num(c.pass1_b)),
            ("difference", _num(c.diff)),
            (ci_label, _ci(c.diff_ci)),
            (f"p-value ({c.test})", _num(c.p_value, 4)),
            (f"tasks where {v.label} is better / worse / tied",
             f"{c.wins} / {c.losses} / {c.ties}"),
            ("mean of per-task differences", _num(c.diff_mean, 4)),
            ("standard deviation of differences", _num(c.diff_sd, 4)),
            ("standard error of the mean difference", _num(c.diff_se, 4)),
        ]
        if c.only_a or c.only_b:
            rows.append((f"tasks only in {base.label} / only in {v.label}",
                         f"{len(c.only_a)} / {len(c.only_b)}"))
        out.append("<table>" + "".join(
            f"<tr><th>{escape(k)}</th><td class=num>{val}</td></tr>" for k, val in rows)
            + "</table>")
        changed = sorted(((t, a, b) for t, (a, b) in c.per_task.items() if abs(b - a) > 1e-12),
                         key=lambda x: -abs(x[2] - x[1]))
        if changed:
            out.append(f"<details><summary>{len(changed)} tasks changed</summary><table>"
                       f"<tr><th>task</th><th class=num>{escape(base.label)}</th>"
                       f"<th class=num>{escape(v.label)}</th><th class=num>difference</th>"
                       "<th>open</th></tr>")
            for t, a, b in changed[:_MAX_COMPARE_ROWS]:
                out.append(f"<tr><td>{escape(t)}</td><td class=num>{a:.2f}</td>"
                           f"<td class=num>{b:.2f}</td><td class=num>{b - a:+.2f}</td>"
                           f"<td>{_link(base, t, _first_trial(base, t), base.label)} "
                           f"{_link(v, t, _first_trial(v, t), v.label)}</td></tr>")
            out.append("</table></details>")
    return "".join(out)


def _first_trial(view: RunView, task_id: str) -> int:
    return min((r.trial for r in view.results if r.task_id == task_id), default=0)


def _usage(views: list[RunView]) -> str:
    out = ["<h2 id=sec-cost>Cost and tokens</h2><table><tr><th>run</th><th>role</th>"
           "<th class=num>calls</th><th class=num>prompt tokens</th>"
           "<th class=num>completion tokens</th>"
           "<th class=num>total tokens</th><th class=num>cost</th></tr>"]
    for v in views:
        usage = v.summary["usage"]
        if not usage:
            out.append(f"<tr><td>{escape(v.title)}</td><td colspan=6 class=note>"
                       "no usage recorded</td></tr>")
        for role, u in usage.items():
            out.append(f"<tr><td>{escape(v.title)}</td><td>{escape(role)}</td>"
                       f"<td class=num>{u['calls']}</td><td class=num>{u['prompt_tokens']}</td>"
                       f"<td class=num>{u['completion_tokens']}</td>"
                       f"<td class=num>{u['total_tokens']}</td>"
                       f"<td class=num>{_money(u['cost'])}</td></tr>")
    out.append("</table><div class=note>Cost is \u201cunknown\u201d when a model's price "
               "is not known for at least one call.</div>")
    return "".join(out)


def _terminations(views: list[RunView]) -> str:
    seen = [t for t in TERMINATIONS if any(t in v.summary["terminations"] for v in views)]
    head = "".join(f"<th class=num>{escape(v.title)}</th>" for v in views)
    rows = "".join(
        f"<tr><td>{escape(t)}</td>"
        + "".join(f"<td class=num>{v.summary['terminations'].get(t, 0)}</td>" for v in views)
        + "</tr>" for t in seen)
    return (f"<h2 id=sec-terminations>Termination reasons</h2><table><tr><th>reason</th>"
            f"{head}</tr>{rows}</table>")


def _failures(views: list[RunView]) -> str:
    out = ["<h2 id=sec-failures>Failure categories</h2><div class=note>Among rollouts that "
           "did not pass (a rollout can fall in several categories). Links open an example.</div>"]
    for v in views:
        out.append(f"<h3>{escape(v.title)}: {v.n_failed} of {len(v.results)} did not pass</h3>"
                   "<table><tr><th>category</th><th class=num>count</th>"
                   "<th class=num>share</th><th>examples</th></tr>")
        for key, label in CATEGORIES:
            idx = v.categories[key]
            if not idx:
                continue
            share = len(idx) / v.n_failed if v.n_failed else 0.0
            links = " ".join(_link(v, v.results[i].task_id, v.results[i].trial)
                             for i in idx[:_MAX_EXAMPLES])
            out.append(f"<tr><td>{escape(label)}</td><td class=num>{len(idx)}</td>"
                       f"<td class=num>{share:.0%}</td><td class=examples>{links}</td></tr>")
        out.append("</table>")
    return "".join(out)


def _latency(views: list[RunView]) -> str:
    out = ['<h2 id=sec-latency>Latency</h2><div class="charts">']
    for v in views:
        color = PALETTE[v.index % len(PALETTE)]
        out.append(histogram(v.durations, f"{v.title}: rollout duration", color=color))
        out.append(histogram(v.latencies, f"{v.title}: model call latency", color=color))
    out.append("</div><div class=note>Model call latency: one value per agent or user model "
               "call (scripted users make none; a message that took several calls counts each "
               "at their mean).</div>")
    return "".join(out)


_LEGEND = [("hsl(120,62%,38%)", "reward 1"), ("hsl(0,62%,46%)", "reward 0"),
           ("#9aa0a6", "judge needed"), ("#5b3a8c", "infrastructure error")]


def _grid(views: list[RunView]) -> str:
    out = ['<h2 id=sec-outcomes>Outcomes</h2><div class="filters">'
           '<label><input type="checkbox" id="tg-f-failed"> failed only</label>'
           '<label>task <input type="text" id="tg-f-task" placeholder="id contains"></label>'
           '<label>termination <select id="tg-f-term"><option value="">any</option>'
           "</select></label>"
           '<label>category <select id="tg-f-cat"><option value="">any</option></select></label>'
           '<span id="tg-f-count" class="note"></span></div>'
           '<div class="legendrow note">'
           + "".join(f'<span><i class="swatch" style="background:{c}"></i>{label}</span>'
                     for c, label in _LEGEND)
           + "<span>click a cell to open its trajectory</span></div>"]
    for v in views:
        out.append(f'<h3>{escape(v.title)}</h3><div class="gridwrap"><div class="grid" '
                   f'id="tg-grid-{v.index}"></div></div>')
    return "".join(out)


_VIEWER = ('<aside id="tg-viewer" hidden><div class="vbar"><button id="tg-prev" type="button">'
           '\u2190 previous</button><button id="tg-next" type="button">next \u2192</button>'
           '<span class="note">(within the current filters)</span><span style="flex:1"></span>'
           '<button id="tg-close" type="button">close \u2715</button></div>'
           '<div id="tg-viewer-body"></div></aside>')


# ------------------------------------------------------------------- assembly


def _data_blocks(views: list[RunView], live: dict[str, Any] | None) -> list[str]:
    meta = {
        "runs": [{"label": v.label, "name": v.run.name, "trials": v.trials, "n": len(v.rows)}
                 for v in views],
        "terminations": TERMINATIONS,
        "categories": [list(c) for c in CATEGORIES],
        "live": live,
    }
    blocks = [f'<script type="application/json" id="tg-meta">{script_json(meta)}</script>']
    for v in views:
        blocks.append(f'<script type="application/json" id="tg-rows-{v.index}">'
                      f"{script_json(v.rows)}</script>")
        blocks.append(f'<script type="application/json" id="tg-s-{v.index}">'
                      f"{script_json(v.strings)}</script>")
        interned = string_index(v)
        by_key = {name: {s.key: s for s in scores} for name, scores in v.run.scorings.items()}
        for i, r in enumerate(v.results):
            scored = [(name, got[r.key]) for name, got in by_key.items() if r.key in got]
            blocks.append(f'<script type="application/json" id="tg-t-{v.index}-{i}">'
                          f"{script_json(trajectory_payload(r, interned, scored))}</script>")
    return blocks


def report_html(runs: Sequence[RunData], title: str | None = None, *,
                live: dict[str, Any] | None = None, seed: int | None = None,
                extra: Sequence[str] = ()) -> str:
    """The report page as a string (see :func:`render_report`).

    Args:
        runs: Loaded runs; the first is the baseline of comparisons.
        title: Page title (default: the run names).
        live: For the live viewer: ``{"poll": bool, "in_progress": bool,
            "refresh_s": float, "version": str}``; with ``poll`` the page polls
            ``/version`` and reloads when it changes.
        seed: Seed of the bootstrap and permutation statistics (default: each
            run's own seed for its intervals, 0 for comparisons).
        extra: Sections (trusted HTML, already escaped) shown after the header.
    """
    if not runs:
        raise ValueError("render_report needs at least one run")
    views = [build_run_view(r, i, seed=seed) for i, r in enumerate(runs)]
    for v in views:
        if v.duplicates:
            v.notes.append(f"{v.duplicates} duplicate (task, trial) records; the last of "
                           "each is shown.")
        v.notes.extend(v.run.problems)  # corrupt results lines that were skipped
        v.live = bool(live and live.get("in_progress"))
        if v.run.summary.get("complete") is False:
            note = "the run is incomplete (stopped before every rollout finished)"
            if v.run.summary.get("resume_command"):
                note += f"; resume with: {v.run.summary['resume_command']}"
            v.notes.append(note)
    title = title or "toolgym report: " + ", ".join(r.name for r in runs)
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    csp = (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
           "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'")
    body = [
        _header(views, title), *extra, _summary(views), _scorings(views), _pass_k(views),
        _compare(views, seed or 0),
        _usage(views), _terminations(views), _failures(views), _latency(views), _grid(views),
    ]
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{escape(csp, quote=False)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{escape(title)}</title><style>{_asset('report.css')}</style></head><body>",
        *body, _VIEWER, "\n", "\n".join(_data_blocks(views, live)), "\n",
        f"<script>{script}</script></body></html>\n",
    ]
    return "".join(parts)


def render_report(runs: Sequence[RunData], out: str | Path, title: str | None = None,
                  seed: int | None = None, extra: Sequence[str] = ()) -> Path:
    """Write a self-contained HTML report of one or more runs.

    The file needs no network and works from ``file://``: summary, pass^k
    curves (both conventions), cost, terminations, failure categories,
    latency, a task x trial outcome grid and a trajectory viewer. With two or
    more runs it adds a paired comparison of each run against the first.
    Opening ``report.html#open=<task>:<trial>`` (``&run=<i>`` for a later
    run) shows that trajectory directly.

    Args:
        runs: Loaded runs (:func:`toolgym.runner._store.load_run`).
        out: Output file path.
        title: Page title.
        seed: Seed of the resampling statistics.

    Returns:
        The path written.
    """
    path = Path(out)
    page = report_html(runs, title, seed=seed, extra=extra)
    # Lone surrogates (from odd model output) cannot be UTF-8 encoded; writing
    # them as \uXXXX keeps JSON blocks valid. Atomic: no half page, no *.tmp left.
    write_text_atomic(path, page, errors="backslashreplace")
    return path

