"""Run the lab's default configuration (LabConfig(): fkl, rkl, akl x 300 steps, seed 0) on the CPU and
write kdviz/lab/assets/default_run.json: the run the lab page shows on a first visit, with no waiting.

Prints the results table, the wall time and CPU seconds, and the student tokens per second.
"""

import json
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kdviz.lab import report  # noqa: E402
from kdviz.lab.cli import table  # noqa: E402
from kdviz.lab.train import LabConfig, run_lab  # noqa: E402

if __name__ == "__main__":
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = run_lab(LabConfig(device="cpu"))
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - cpu0
    result.update(id="shipped", created=str(date.today()), status="done", label="shipped default run",
                  wall_seconds=seconds, cpu_seconds=cpu_seconds)
    report.DEFAULT_RUN_PATH.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    print(table(result))
    print(f"{seconds:.1f} s in all ({cpu_seconds:.1f} CPU s), training {result['train_seconds']:.1f} s, "
          f"{result['tokens_per_s']:,.0f} student tokens/s, {result['torch_threads']} torch thread(s)")
    print(report.takeaway(result))
