"""Where rollouts run beyond one process: Slurm scripts (and the Ray executor)."""

from toolgym.executors._slurm import render_slurm

__all__ = ["render_slurm"]
