"""Cost of the lesson pages' plotly figures at the page defaults: build, serialise, ship.

    python benchmarks/figure_cost.py [--repeats 5]

For each figure of the mode-seeking, head/tail and optimal-transport pages (the defaults the pages
use, computed once and not timed) prints the median CPU time (process_time) over the repeats of
  build : the kdviz.plots call;
  json  : what st.plotly_chart does with it, ``plotly.io.to_json(fig.to_dict(), validate=False)``;
and the size of that JSON (what goes over the websocket), then the total per page.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import plotly.io as pio
import streamlit  # noqa: F401  (it replaces plotly's default template, as in the app)
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from benchmarks._timing import timed  # noqa: E402
from kdviz.experiments import head_tail as ht  # noqa: E402
from kdviz.experiments import mode_seeking as ms  # noqa: E402
from kdviz.experiments import optimal_transport as otl  # noqa: E402
from kdviz.plots import head_tail as ht_plots  # noqa: E402
from kdviz.plots import mode_seeking as ms_plots  # noqa: E402
from kdviz.plots import optimal_transport as ot_plots  # noqa: E402


def pages():
    """(page, [(figure name, builder)]) with the page's default arguments."""
    res = ms.mode_seeking()  # pages/mode_seeking.py: bimodal teacher, 200 Adam steps, lr 0.1, RKL landscape
    yield "mode seeking", [("fit_animation", lambda: ms_plots.fit_animation(res)),
                           ("final_fits", lambda: ms_plots.final_fits(res)),
                           ("loss_curves", lambda: ms_plots.loss_curves(res)),
                           ("parameter_paths", lambda: ms_plots.parameter_paths(res)),
                           ("landscape_figure", lambda: ms_plots.landscape_figure(res))]
    res_ht = ht.head_tail()  # AKL's Fig. 2 setting: bimodal toy, Adam, lr 0.1, 200 steps; compare step 200
    yield "head/tail", [("bars_figure", lambda: ht_plots.bars_figure(res_ht, 1, res_ht.steps)),
                        ("error_curves", lambda: ht_plots.error_curves(res_ht)),
                        ("share_figure", lambda: ht_plots.share_figure(res_ht, 10)),
                        ("weights_figure", lambda: ht_plots.weights_figure(res_ht)),
                        ("tvd_figure", lambda: ht_plots.tvd_figure(res_ht)),
                        ("animation_figure", lambda: ht_plots.animation_figure(res_ht))]
    res_ot = otl.transport_lesson()  # bimodal, 40 points, eps 0.02, squared cost
    yield "optimal transport", [("plan_figure exact", lambda: ot_plots.plan_figure(res_ot, "exact")),
                                ("plan_figure sinkhorn", lambda: ot_plots.plan_figure(res_ot, "sinkhorn")),
                                ("iterations_figure", lambda: ot_plots.iterations_figure(res_ot)),
                                ("epsilon_figure", lambda: ot_plots.epsilon_figure(res_ot)),
                                ("divergence_figure", lambda: ot_plots.divergence_figure(res_ot))]


def ship(fig) -> str:
    """The figure JSON exactly as ``st.plotly_chart`` produces it."""
    return pio.to_json(fig.to_dict(), validate=False)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, {time.strftime('%Y-%m-%d')}; median CPU ms of {args.repeats}")
    print(f"{'page':18s} {'figure':22s} {'build ms':>9s} {'json ms':>8s} {'JSON kB':>8s}")
    for page, figures in pages():
        total = [0.0, 0.0, 0.0]
        for name, build in figures:
            build()  # warm-up (imports, template)
            _, b, fig = timed(build, args.repeats)
            _, j, text = timed(lambda: ship(fig), args.repeats)
            kb = len(text.encode()) / 1e3
            total = [total[0] + b, total[1] + j, total[2] + kb]
            print(f"{page:18s} {name:22s} {1e3 * b:9.1f} {1e3 * j:8.1f} {kb:8.1f}")
        print(f"{page:18s} {'TOTAL':22s} {1e3 * total[0]:9.1f} {1e3 * total[1]:8.1f} {total[2]:8.1f}")


if __name__ == "__main__":
    main()
