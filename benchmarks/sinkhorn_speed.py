"""kdviz's batched log-domain Sinkhorn vs POT's ``ot.sinkhorn2(..., method="sinkhorn_log")``.

    python benchmarks/sinkhorn_speed.py [--n 512] [--repeats 5]

Same problem for both (two Gaussian mixtures on n points of [-10, 10], cost |x - y|, several
epsilons): prints the relative difference of the values (target <= 1e-6), the iterations, the
median wall and CPU times and the ratio POT / kdviz (target >= 1: kdviz no slower). Also a batch of
8 problems, which kdviz solves in one call and POT in a Python loop over histograms.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import ot
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from benchmarks._timing import timed  # noqa: E402
from kdviz import families as F  # noqa: E402
from kdviz import numerics as nx  # noqa: E402
from kdviz import transport  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    grid = F.Grid(-10.0, 10.0, args.n)
    x = grid.points()
    p = F.GaussianMixture((0.5, 0.5), (-3.0, 3.0), (1.0, 1.0)).prob(grid)
    q = F.GaussianMixture((0.3, 0.7), (-1.0, 4.0), (2.0, 0.7)).prob(grid)
    C = transport.cost_matrix(x, 1)
    pn, qn, Cn = p.numpy(), q.numpy(), C.numpy()
    print(f"# {args.n}x{args.n} cost, torch threads {torch.get_num_threads()}, {time.strftime('%Y-%m-%d')}")
    print(f"{'problem':18s} {'rel diff':>9s} {'iters':>6s} {'kdviz s':>8s} {'(cpu)':>7s} {'POT s':>8s} "
          f"{'(cpu)':>7s} {'POT/kdviz':>9s}")
    for eps in (5.0, 1.0, 0.5, 0.1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # POT warns when 1000 iterations do not converge
            pw, pc, ref = timed(lambda: float(ot.sinkhorn2(pn, qn, Cn, eps, method="sinkhorn_log")),
                                args.repeats)
        with nx.torch_threads(1):
            kw, kc, val = timed(lambda: float(transport.sinkhorn(p, q, x, 1, eps)), args.repeats)
            iters = transport.sinkhorn_potentials(p, q, C, eps)[2]
        print(f"{'eps=' + str(eps):18s} {abs(val - ref) / abs(ref):9.1e} {iters:6d} {kw:8.3f} {kc:7.3f} "
              f"{pw:8.3f} {pc:7.3f} {pw / kw:9.2f}")
    # a batch of 8 students against one teacher
    qs = torch.stack([F.GaussianMixture((1.0,), (m,), (1.5,)).prob(grid) for m in np.linspace(-4, 4, 8)])
    eps = 1.0
    qn_batch = qs.numpy().T.copy()
    pw, pc, ref = timed(lambda: np.array(ot.sinkhorn2(pn, qn_batch, Cn, eps, method="sinkhorn_log")),
                        max(1, args.repeats // 2))
    with nx.torch_threads(1):
        kw, kc, val = timed(lambda: transport.sinkhorn(p, qs, x, 1, eps).numpy(), max(1, args.repeats // 2))
    rel = np.max(np.abs(val - ref) / np.abs(ref))
    print(f"{'batch 8, eps=1':18s} {rel:9.1e} {'':>6s} {kw:8.3f} {kc:7.3f} {pw:8.3f} {pc:7.3f} "
          f"{pw / kw:9.2f}")


if __name__ == "__main__":
    main()
