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


def interleaved(fn_a, fn_b, repeats: int):
    """Run ``fn_a`` and ``fn_b`` alternately ``repeats`` times each, so that changes in the machine's
    speed (load, a VM's steal time) hit both alike.

    Returns ``(median wall a, median wall b, median of the per-pair ratios b / a, last a, last b)``.
    """
    wall_a, wall_b, out_a, out_b = [], [], None, None
    for _ in range(repeats):
        t = time.perf_counter()
        out_a = fn_a()
        wall_a.append(time.perf_counter() - t)
        t = time.perf_counter()
        out_b = fn_b()
        wall_b.append(time.perf_counter() - t)
    ratios = [b / a for a, b in zip(wall_a, wall_b)]
    return statistics.median(wall_a), statistics.median(wall_b), statistics.median(ratios), out_a, out_b
