"""Judges: model-based graders (NL assertions today; rubric and event-graph judges next)."""

from toolgym.judges._nl import NLAssertionJudge, render_transcript

__all__ = ["NLAssertionJudge", "render_transcript"]
