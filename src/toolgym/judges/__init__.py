"""Judges: model-based graders (NL assertions) and the event-graph judge (``graph``)."""

from toolgym.judges._checkers import (
    CHECKER_NAMES,
    Checker,
    SoftChecker,
    check_hard,
    load_checker_table,
    normalise_text,
    parse_checker,
    parse_checker_table,
    parse_soft_verdict,
)
from toolgym.judges._graph import (
    MESSAGE_TOOL,
    AgentEvent,
    OracleEvent,
    OracleStep,
    build_oracle_graph,
)
from toolgym.judges._graph_cases import (
    GraphCase,
    GraphCaseResult,
    judge_graph_case,
    judge_graph_cases,
    load_graph_cases,
    run_graph_cases,
)
from toolgym.judges._graph_judge import GraphJudge, rollout_agent_events, task_oracle_graph
from toolgym.judges._graph_match import (
    ArgRejection,
    Candidate,
    CausalityViolation,
    CountMismatch,
    GraphJudgment,
    LateParent,
    UnmatchedEvent,
    judge_events,
)
from toolgym.judges._nl import NLAssertionJudge, render_transcript

__all__ = [
    "CHECKER_NAMES",
    "MESSAGE_TOOL",
    "AgentEvent",
    "ArgRejection",
    "Candidate",
    "CausalityViolation",
    "Checker",
    "CountMismatch",
    "GraphCase",
    "GraphCaseResult",
    "GraphJudge",
    "GraphJudgment",
    "LateParent",
    "NLAssertionJudge",
    "OracleEvent",
    "OracleStep",
    "SoftChecker",
    "UnmatchedEvent",
    "build_oracle_graph",
    "check_hard",
    "judge_events",
    "judge_graph_case",
    "judge_graph_cases",
    "load_checker_table",
    "load_graph_cases",
    "normalise_text",
    "parse_checker",
    "parse_checker_table",
    "parse_soft_verdict",
    "render_transcript",
    "rollout_agent_events",
    "run_graph_cases",
    "task_oracle_graph",
]
