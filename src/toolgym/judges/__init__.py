"""Judges: model-based and structural graders of saved rollouts.

Ground truth stays the reward; judges add scorings beside it
(``RUN_DIR/scores/<name>.jsonl``): ``nl`` grades NL assertions after the fact,
``rater`` rates against a rubric with written feedback, ``in-context`` compares
the agent's writes with the gold ones in one prompt, ``graph`` matches the
agent's events to an oracle event graph. Register your own with
:func:`register_judge`.
"""

from toolgym.judges._agreement import Agreement, agreement, cohen_kappa
from toolgym.judges._base import (
    Judge,
    JudgeContext,
    Score,
    create_judge,
    judge_names,
    register_judge,
)
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
from toolgym.judges._scoring import read_scores, score_run, score_run_async

__all__ = [
    "CHECKER_NAMES",
    "MESSAGE_TOOL",
    "AgentEvent",
    "Agreement",
    "ArgRejection",
    "Candidate",
    "CausalityViolation",
    "Checker",
    "CountMismatch",
    "GraphCase",
    "GraphCaseResult",
    "GraphJudge",
    "GraphJudgment",
    "Judge",
    "JudgeContext",
    "LateParent",
    "NLAssertionJudge",
    "OracleEvent",
    "OracleStep",
    "Score",
    "SoftChecker",
    "UnmatchedEvent",
    "agreement",
    "build_oracle_graph",
    "check_hard",
    "cohen_kappa",
    "create_judge",
    "judge_events",
    "judge_graph_case",
    "judge_graph_cases",
    "judge_names",
    "load_checker_table",
    "load_graph_cases",
    "normalise_text",
    "parse_checker",
    "parse_checker_table",
    "parse_soft_verdict",
    "read_scores",
    "register_judge",
    "render_transcript",
    "rollout_agent_events",
    "run_graph_cases",
    "score_run",
    "score_run_async",
    "task_oracle_graph",
]
