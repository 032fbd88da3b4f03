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
from toolgym.judges._nl import NLAssertionJudge, render_transcript
from toolgym.judges._scoring import read_scores, score_run, score_run_async

__all__ = [
    "Agreement",
    "Judge",
    "JudgeContext",
    "NLAssertionJudge",
    "Score",
    "agreement",
    "cohen_kappa",
    "create_judge",
    "judge_names",
    "read_scores",
    "register_judge",
    "render_transcript",
    "score_run",
    "score_run_async",
]
