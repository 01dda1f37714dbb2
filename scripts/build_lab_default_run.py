"""Run the lab's default configuration (LabConfig(): fkl, rkl, akl x 300 steps, seed 0) on the CPU and
write kdviz/lab/assets/default_run.json: the run the lab page shows on a first visit, with no waiting.

Prints the results table, the wall time and the student tokens per second.
"""

import json
import sys
import time
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kdviz.lab import report  # noqa: E402
from kdviz.lab.cli import table  # noqa: E402
from kdviz.lab.train import LabConfig, run_lab  # noqa: E402

if __name__ == "__main__":
    t0 = time.perf_counter()
    result = run_lab(LabConfig(device="cpu"))
    seconds = time.perf_counter() - t0
    result.update(id="shipped", created=str(date.today()), status="done", label="shipped default run",
                  wall_seconds=seconds, torch_threads=torch.get_num_threads())
    report.DEFAULT_RUN_PATH.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    print(table(result))
    print(f"{seconds:.1f} s in all, training {result['train_seconds']:.1f} s, "
          f"{result['tokens_per_s']:,.0f} student tokens/s, {torch.get_num_threads()} torch threads")
    print(report.takeaway(result))
