"""Whole-process time of the CLI against ``python -c "import torch"`` (issue 8's CLI target).

What a script user waits for: a fresh interpreter each run, the README's example fit (and the
``divergences`` listing), run alternately with the torch import so that the machine's changing
speed hits all alike. Prints medians and the median of the per-round differences.
Target: ``fit`` at most 0.8 s more than importing torch.

    python benchmarks/cli_startup.py            # 5 rounds
    python benchmarks/cli_startup.py --runs 9
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 0.8  # fit minus import torch
COMMANDS = {
    "import torch": ["-c", "import torch"],
    "kdviz divergences": ["-m", "kdviz", "divergences"],
    "kdviz fit (README)": ["-m", "kdviz", "fit", "--teacher", "gmm:0.5,-3,1;0.5,3,1",
                           "--student", "gaussian:1,2", "--divergences", "fkl,rkl", "--steps", "500",
                           "--lr", "0.05", "--grid=-10,10,512", "--json"],
}


def wall(args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="rounds; each runs every command once")
    args = ap.parse_args(argv)
    for cmd in COMMANDS.values():  # warm the page cache: the first run reads torch from disk
        wall(cmd)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, cmd in COMMANDS.items():
            times[name].append(wall(cmd))
    base = times["import torch"]
    print(f"{'command':<20} {'median s':>9} {'min s':>7} {'max s':>7} {'- torch s':>10}   "
          f"({args.runs} rounds, load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for name, ts in times.items():
        extra = statistics.median(t - b for t, b in zip(ts, base))
        print(f"{name:<20} {statistics.median(ts):9.2f} {min(ts):7.2f} {max(ts):7.2f} {extra:10.2f}")
    extra_fit = statistics.median(t - b for t, b in zip(times["kdviz fit (README)"], base))
    verdict = "met" if extra_fit <= TARGET_S else "NOT met"
    print(f"fit costs {extra_fit:.2f} s more than importing torch (median of per-round differences); "
          f"target <= {TARGET_S} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
