"""Median wall and CPU time of a callable over repeats (shared by the benchmark scripts)."""

from __future__ import annotations

import statistics
import time


def timed(fn, repeats: int):
    """``(median wall s, median CPU s, last result)`` of ``fn()`` over ``repeats`` calls."""
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu), out
