"""Reports: a static HTML report with a trajectory viewer, run comparison, live viewer."""

from toolgym.report._compare import (
    Comparison,
    compare,
    comparison_renderable,
    print_comparison,
)
from toolgym.report._html import render_report, report_html
from toolgym.report._serve import ReportServer, run_in_progress, serve

__all__ = [
    "Comparison",
    "ReportServer",
    "compare",
    "comparison_renderable",
    "print_comparison",
    "render_report",
    "report_html",
    "run_in_progress",
    "serve",
]
