"""The fit engine vs a plain one-divergence-at-a-time loop (autograd through the registry's value
functions, torch.optim; ``tests/reference_fit.py``), side by side in one process.

    python benchmarks/fit_speed.py [--repeats 5]

Experiments (the app's defaults):
  mode seeking: every Gaussian-student divergence (all but the Sinkhorn ones), 500 Adam steps,
                512-point grid, bimodal teacher;
  head / tail : every discrete divergence (the KL family and TVD), 200 Adam steps, 50 classes
                (AKL's bimodal toy), lr 0.1.
Runs the two alternately and prints their median wall times, the median of the per-pair speed-up
ratios and the largest difference between the two implementations' loss curves and final parameters.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from reference_fit import fit_one_at_a_time  # noqa: E402

from benchmarks._timing import interleaved  # noqa: E402
from kdviz import families as F  # noqa: E402
from kdviz.fitting import FitConfig, fit  # noqa: E402

GAUSSIAN = ["fkl", "rkl", "jsd", "tvd", "skl", "srkl", "fkl_rkl", "akl", "wasserstein"]
DISCRETE = ["fkl", "rkl", "jsd", "tvd", "skl", "srkl", "fkl_rkl", "akl"]


def experiments():
    grid = F.Grid(-10.0, 10.0, 512)
    student = F.GaussianStudent(grid)
    yield ("mode seeking (9 div, 500 steps, V=512)", F.GaussianMixture().log_prob(grid), student,
           student.init_params(1.0, 2.0), GAUSSIAN, FitConfig(steps=500, lr=0.05), grid.points())
    _, p = F.akl_bimodal()
    sm = F.SoftmaxStudent(50, seed=1)
    yield ("head/tail (8 div, 200 steps, V=50)", np.log(p), sm, sm.init_params(), DISCRETE,
           FitConfig(steps=200, lr=0.1), None)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    print("# targets: ratio >= 10 for both; mode seeking engine <= 0.15 s; max |diff| <= 1e-9 (float64)")
    print(f"{'experiment':42s} {'engine s':>10s} {'loop s':>8s} {'ratio':>6s} {'max |diff|':>11s}")
    for name, log_p, student, start, names, cfg, x in experiments():
        fit(log_p, student, start, names, FitConfig(steps=5), x=x)  # warm-up
        # alternate the two so that changes in the machine's speed hit both alike
        engine = lambda: fit(log_p, student, start, names, cfg, x=x)  # noqa: E731
        loop = lambda: fit_one_at_a_time(log_p, student, start, names, cfg, x=x)  # noqa: E731
        bw, lw, ratio, fast, slow = interleaved(engine, loop, args.repeats)
        diff = max(np.nanmax(np.abs(fast.loss - slow.loss)),
                   np.abs(fast.final_params - slow.final_params).max())
        print(f"{name:42s} {bw:10.3f} {lw:8.3f} {ratio:6.1f} {diff:11.2e}")


if __name__ == "__main__":
    main()
