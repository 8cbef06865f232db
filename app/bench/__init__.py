"""Throughput benchmark of the enhancers and the pipeline (``flask bench``), usable without Flask."""

from .report import render
from .runner import BenchConfig, run_bench

__all__ = ["BenchConfig", "render", "run_bench"]
